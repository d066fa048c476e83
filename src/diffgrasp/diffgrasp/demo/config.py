"""Configuration of the embedded pipeline (``diffgrasp demo``), mirrored by ``config/demo.yaml``.

The pipeline's stages keep their own configurations (``FusionConfig``, ``PlannerConfig``, ``ExecutionConfig``); this
dataclass holds only what the demo chooses on top of them: the camera rig, where the object rests, how much planning
to do, and what to write. ``*_config`` fields name optional YAML files of the stage configurations ("" = built-in
defaults, which equal ``config/fusion.yaml`` etc.).
"""

from __future__ import annotations

import dataclasses

from diffgrasp.geometry.convex_decomposition import CoacdConfig

NOISE_MODELS = ("realsense", "none")


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Embedded pipeline settings (metres, seconds).

    cameras: rig calibration YAML (the simulated D435 rig); a relative path is looked up in the working directory,
    then in the repository root that holds this package. noise: depth noise model of the simulated cameras.
    object_xy: where the object rests on the table (world x, y of its bounding-box centre; table top z = 0).
    num_grasps: ranked grasps kept after refinement (k); planner_candidates: refined together (the planner's
    ``min_candidates``, one per grasp otherwise); planner_iterations: Adam steps; planner_time_budget_s: refinement
    stops early after this (the best grasps so far are post-processed; status ``time_budget``).
    planner_physics_rank: rank the refined candidates by the planner's hand-only physics test on the fused mesh
    (``PlannerConfig.physics_rank``) before the rehearsal; scan_coacd: its convex decomposition settings (coarse: a
    noisy scan took 86 s with the physics test's settings, ~3 s with these). planner_reseed_rounds: the planner's
    reseeding rounds (``PlannerConfig.reseed.rounds``); 0 in the demo: the rehearsal already picks a lifting grasp,
    and with 2 rounds the issue-10 sweep lifted 16/18 (17/18 without) at twice the refinement time (57 s median).
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
    render_every / render_size: execution frames (simulated s between frames; width, height px) for the PNG strip
    and the GIF; gif: also write ``execution.gif``; top_grasps: grasps drawn as ``grasp_NN.png``.
    """

    cameras: str = "config/cameras_sim.yaml"
    noise: str = "realsense"
    object_xy: tuple[float, float] = (0.0, 0.0)
    num_grasps: int = 16
    planner_candidates: int = 96
    planner_iterations: int = 150
    planner_time_budget_s: float = 90.0
    planner_config: str = ""
    planner_physics_rank: bool = True
    planner_reseed_rounds: int = 0
    scan_coacd: CoacdConfig = dataclasses.field(default_factory=lambda: CoacdConfig(
        threshold=0.1, max_convex_hull=8, preprocess_resolution=20, resolution=500, mcts_iterations=20,
        mcts_nodes=10))
    fusion_config: str = ""
    execution_config: str = ""
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
    render_every: float = 0.25
    render_size: tuple[int, int] = (480, 360)
    gif: bool = True
    top_grasps: int = 3

    def __post_init__(self) -> None:
        if self.noise not in NOISE_MODELS:
            raise ValueError(f"demo.noise: {self.noise!r} is not one of {', '.join(NOISE_MODELS)}")
        for name in ("num_grasps", "planner_candidates", "planner_iterations", "network_grasps"):
            if getattr(self, name) < 1:
                raise ValueError(f"demo.{name}: must be >= 1, got {getattr(self, name)}")
        if not self.planner_time_budget_s > 0:
            raise ValueError(f"demo.planner_time_budget_s: must be > 0, got {self.planner_time_budget_s}")
        if not self.verify_shrink_m >= 0:
            raise ValueError(f"demo.verify_shrink_m: must be >= 0 (m), got {self.verify_shrink_m}")
        if min(self.torch_threads, self.top_grasps, self.verify_grasps, self.verify_replans,
               self.planner_reseed_rounds) < 0:
            raise ValueError("demo.torch_threads, demo.top_grasps, demo.verify_grasps, demo.verify_replans and "
                             "demo.planner_reseed_rounds must be >= 0")
        if not self.time_limit_s > 0:
            raise ValueError(f"demo.time_limit_s: must be > 0, got {self.time_limit_s}")
        if self.min_touching_fingers < 0:
            raise ValueError(f"demo.min_touching_fingers: must be >= 0, got {self.min_touching_fingers}")
        if self.verify_passes < 1:
            raise ValueError(f"demo.verify_passes: must be >= 1, got {self.verify_passes}")
        if not self.render_every > 0 or len(self.render_size) != 2 or min(self.render_size) < 16:
            raise ValueError(f"demo.render_every must be > 0 and render_size (width, height) >= 16 px, got "
                             f"{self.render_every}, {self.render_size}")


FAST = {"num_grasps": 8, "planner_candidates": 16, "planner_iterations": 40, "planner_time_budget_s": 30.0,
        "render_every": 0.4, "render_size": (320, 240), "gif": False, "top_grasps": 2}
"""``--fast`` overrides: a coarse plan and fewer, smaller frames (the pipeline test uses these)."""


__all__ = ["DemoConfig", "FAST", "NOISE_MODELS"]
