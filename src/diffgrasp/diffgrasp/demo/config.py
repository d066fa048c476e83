"""Configuration of the embedded pipeline (``diffgrasp demo``), mirrored by ``config/demo.yaml``.

The pipeline's stages keep their own configurations. The planner's nests here: ``DemoConfig.planner`` is a whole
``PlannerConfig`` (in YAML a ``planner:`` mapping, read by ``diffgrasp.config`` like any nested dataclass), whose
default :func:`demo_planner` states what the demo changes from ``PlannerConfig``'s defaults (= ``config/planner.yaml``).
The fusion and execution configurations nest the same way (``fusion:`` and ``execution:`` mappings, each value the
demo changes written there; defaults = ``config/fusion.yaml`` and ``config/execution.yaml``). The rest is what the demo
chooses on top of them: the camera rig, where the object rests, the verification, and what to write.

Files: :func:`default_object_path` (the demo's bundled object) and :func:`resolve_config_path` (how the config's
relative paths are found).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from diffgrasp.data import data_path
from diffgrasp.execution.execution_config import ExecutionConfig
from diffgrasp.geometry.convex_decomposition import CoacdConfig
from diffgrasp.perception.fusion import FusionConfig
from diffgrasp.planning import OptimConfig, PhysicsRankConfig, PlannerConfig, ReseedConfig

NOISE_MODELS = ("realsense", "none")
DEFAULT_OBJECT = ("objects", "057_racquetball.obj")
"""The demo's object. Not the 053 mini soccer ball any more: once fusion was made reproducible (the same scan in
every process), its seed-0 scan gave no grasp that lifts in the rehearsal — large round objects are the planner's weak
class (issue 21) — and the README's main job must not hang on one scan."""

SCAN_COACD = CoacdConfig(threshold=0.1, max_convex_hull=8, preprocess_resolution=20, resolution=500,
                         mcts_iterations=20, mcts_nodes=10)
"""Convex decomposition of a fused scan for the planner's physics ranking: coarse (a noisy scan took 86 s with the
physics test's settings, ~3 s with these)."""


def demo_planner() -> PlannerConfig:
    """The demo's planner (``DemoConfig.planner``'s default): ``PlannerConfig`` defaults except the values below, which
    ``config/demo.yaml``'s ``planner:`` mapping spells out.

    init random: the network stage passes the predictions that come from above the table; the planner fills the rest
    with random starts clear of the table (init network would ask the network again for the filling and keep jittered
    copies of the predictions just rejected for the table). min_candidates: refined together, one per grasp otherwise
    (candidates_per_grasp 1); also the number of random initial candidates. time_budget_s: refinement stops early after
    this (the best grasps so far are post-processed; status ``time_budget``). optim.iterations: Adam steps.
    physics_rank: rank the refined candidates by the hand-only physics test on the fused mesh before the rehearsal, with
    the coarse ``SCAN_COACD`` decomposition. reseed.rounds 0: the rehearsal already picks a lifting grasp, and with 2
    rounds the issue-10 sweep lifted 16/18 (17/18 without) at twice the refinement time (57 s median); no fresh rounds
    either: when nothing lifts, the demo re-plans itself. Power starts as in the planner (objects >= 7 cm thick; the
    planner's random fill and ``upper_hemisphere_init`` both fit their thumbs on an SDF grid of the scan).
    """
    return PlannerConfig(init="random", min_candidates=96, candidates_per_grasp=1, time_budget_s=90.0,
                         optim=OptimConfig(iterations=150),
                         physics_rank=PhysicsRankConfig(enabled=True, coacd=SCAN_COACD),
                         reseed=ReseedConfig(rounds=0, fresh_rounds=0))


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Embedded pipeline settings (metres, seconds).

    cameras: rig calibration YAML (the simulated D435 rig); a relative path is looked up in the working directory,
    then in the repository root that holds this package. noise: depth noise model of the simulated cameras.
    object_xy: where the object rests on the table (world x, y of its bounding-box centre; table top z = 0).
    num_grasps: ranked grasps kept after refinement (k). planner: the planner's settings (default
    ``demo_planner()``; its ``support_plane`` is set from the table that fusion sees); its ``min_candidates`` is also
    the number of random initial candidates, and ``optim.iterations`` must be >= 1. fusion, execution: the fusion
    and the execution (robot scene, lift, rendered frames) settings.
    network_checkpoint: "" = the packaged checkpoint; without one the planner starts from random initialisation and
    the report says so. network_grasps: predictions used as initial candidates.
    min_approach_elevation_deg / min_forearm_elevation_deg: initial candidates (network or random) come from above
    the table: the approach (palm +y, the side the hand comes from) and the forearm (palm −z; the thick Shadow
    forearm lying flat hits the table) point at least this far above the table plane.
    verify_grasps: the verification stage rehearses up to this many ranked grasps (rank order) on the perceived
    object (the execution scene with the fused mesh's convex hull at the perceived pose) and executes the ones that
    lifted there first; 0 = off. verify_passes: the rehearsal stops after this many grasps lifted. verify_replans:
    when no rehearsed grasp lifted, plan again with another seed (seed + 1000 k) and rehearse, at most this often
    (each round costs a refinement, ~25-35 s on the development CPU). verify_shrink_m: the rehearsal's scan is shrunk
    by this much (vertices inward along their normals; m) so that only grasps that would also hold a thinner object
    pass: the fused scan lies partly outside the true surface (see ``diffgrasp.demo.verify``). time_limit_s: a
    re-planning round starts only if the run, at the last round's pace, stays within this. When verification is on
    and no rehearsed grasp lifted, the arm is not moved: the run ends ``no_liftable_grasp``. min_touching_fingers:
    grasps with fewer fingers touching the perceived object (planner metric ``touching_fingers``) are neither
    rehearsed nor executed while another grasp has enough.
    torch_threads: CPU threads for torch during the run (restored afterwards); 1 avoids OpenMP threads spinning
    against each other on a busy CPU (measured 8× faster refinement on the 2 shared cores); 0 = leave as is.
    gif: also write ``execution.gif`` (frames: ``execution.render_every`` / ``render_size``); top_grasps: grasps drawn
    as ``grasp_NN.png``.
    """

    cameras: str = "config/cameras_sim.yaml"
    noise: str = "realsense"
    object_xy: tuple[float, float] = (0.0, 0.0)
    num_grasps: int = 16
    planner: PlannerConfig = dataclasses.field(default_factory=demo_planner)
    fusion: FusionConfig = dataclasses.field(default_factory=FusionConfig)
    execution: ExecutionConfig = dataclasses.field(default_factory=ExecutionConfig)
    network_checkpoint: str = ""
    network_grasps: int = 16
    min_approach_elevation_deg: float = 30.0
    min_forearm_elevation_deg: float = 30.0
    verify_grasps: int = 16
    verify_passes: int = 1
    verify_replans: int = 2
    verify_shrink_m: float = 0.0015
    time_limit_s: float = 180.0
    min_touching_fingers: int = 2
    torch_threads: int = 1
    gif: bool = True
    top_grasps: int = 3

    def __post_init__(self) -> None:
        if self.noise not in NOISE_MODELS:
            raise ValueError(f"demo.noise: {self.noise!r} is not one of {', '.join(NOISE_MODELS)}")
        for name in ("num_grasps", "network_grasps"):
            if getattr(self, name) < 1:
                raise ValueError(f"demo.{name}: must be >= 1, got {getattr(self, name)}")
        if self.planner.optim.iterations < 1:
            raise ValueError(f"demo.planner.optim.iterations: must be >= 1, got {self.planner.optim.iterations}")
        if not self.verify_shrink_m >= 0:
            raise ValueError(f"demo.verify_shrink_m: must be >= 0 (m), got {self.verify_shrink_m}")
        if min(self.torch_threads, self.top_grasps, self.verify_grasps, self.verify_replans) < 0:
            raise ValueError("demo.torch_threads, demo.top_grasps, demo.verify_grasps and demo.verify_replans must "
                             "be >= 0")
        if not self.time_limit_s > 0:
            raise ValueError(f"demo.time_limit_s: must be > 0, got {self.time_limit_s}")
        if self.min_touching_fingers < 0:
            raise ValueError(f"demo.min_touching_fingers: must be >= 0, got {self.min_touching_fingers}")
        if self.verify_passes < 1:
            raise ValueError(f"demo.verify_passes: must be >= 1, got {self.verify_passes}")


FAST = {"num_grasps": 8,
        "planner": dataclasses.replace(demo_planner(), min_candidates=16, time_budget_s=30.0,
                                       optim=OptimConfig(iterations=40)),
        "execution": ExecutionConfig(render_every=0.4, render_size=(320, 240)), "gif": False, "top_grasps": 2}
"""``--fast`` overrides: a coarse plan (``demo_planner()`` with 16 candidates, 40 iterations, 30 s) and fewer, smaller
frames (the pipeline test uses these). Like every override it replaces a whole key: with ``--config`` and
``--fast``, the file's ``planner`` mapping gives way to this one."""


def default_object_path() -> Path:
    """The bundled default object (``diffgrasp/data/objects/057_racquetball.obj``)."""
    return data_path(*DEFAULT_OBJECT)


def resolve_config_path(path: str) -> Path:
    """A relative config path in the working directory, else in the repository root above this package."""
    p = Path(path)
    if p.is_absolute() or p.is_file():
        return p
    repo = Path(__file__).resolve().parents[4] / p
    if repo.is_file():
        return repo
    raise FileNotFoundError(f"config file not found: {p} (run from the repository root or give an absolute path)")


__all__ = ["DEFAULT_OBJECT", "FAST", "NOISE_MODELS", "SCAN_COACD", "DemoConfig", "default_object_path", "demo_planner",
           "resolve_config_path"]
