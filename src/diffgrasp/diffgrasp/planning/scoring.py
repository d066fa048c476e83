"""Physics plausibility of planned grasps, as the planner sees it: the ``GraspScorer`` it is given, and the choices it
makes from the object motion a scorer reports (design notes §6: "rank by exact Q1 and physics plausibility").

The planner does not simulate anything itself. A ``GraspScorer`` (one per plan and object; the default one,
``diffgrasp.sim.physics_rank.scorer.SettleScorer``, runs the physics test's MuJoCo scene and decomposes the mesh in the
background) hands out ``GraspSimulator`` s that roll grasps' pregrasp → grasp → squeeze (and pushes) out and report how
far each moves the object. Which scorer runs is configuration (``physics_rank.scorer``, ``module:attribute``) or the
``scorer`` argument of ``plan_grasps``, so ``diffgrasp.planning`` imports nothing from ``diffgrasp.sim``.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from diffgrasp.errors import ConfigError
from diffgrasp.grasps import Grasp
from diffgrasp.planning.planner_config import PhysicsRankConfig, PlannerConfig

if TYPE_CHECKING:
    from diffgrasp.geometry import ObjectModel
    from diffgrasp.planning.postprocess import ClosedGrasps, GraspPostprocessor

PushFilter = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class PushStop:
    """When a push may end before its full length because its outcome is decided, checked every ``check_s``:

    - failed: the object moved or turned as far as the physics test fails a grasp (the simulator's own thresholds);
      that grasp's other pushes end too (its worst motion already fails it);
    - at rest: from the second check on, at the speed of the last two checks the rest of the push would add less than
      ``rest_score`` to the motion score (``motion_score``'s scales), so the full push would report at most that much
      more (0: never). A grasp that holds usually comes to rest within 0.2 s of a steady push, but some slip after
      a still spell (see PhysicsRankConfig).
    """

    check_s: float
    rest_score: float
    displacement_scale_m: float
    rotation_scale_deg: float


class GraspSimulator(Protocol):
    """Rollouts of many grasps on one object (positions m, quaternions wxyz, joints (N, 22) rad, the mesh's frame)."""

    prefilter_penetration_m: float  # a pregrasp deeper than this in the object fails the physics test outright

    def settle(self, pregrasp_position: np.ndarray, pregrasp_quat_wxyz: np.ndarray, pregrasp_joints: np.ndarray,
               grasp_position: np.ndarray, grasp_quat_wxyz: np.ndarray, grasp_joints: np.ndarray,
               squeeze_joints: np.ndarray, push_s: float = 0.0, push_filter: PushFilter | None = None,
               push_stop: PushStop | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Object displacement (N,) m and rotation (N,) deg after the closing and squeeze, or with ``push_s`` > 0 the
        worst over that and six pushes; ``push_filter(displacement, rotation)`` → (N,) bool: push only those;
        ``push_stop``: pushes whose outcome is decided end early (None: every push runs ``push_s``)."""

    def phase_arrays(self, grasps: list[Grasp]) -> dict[str, np.ndarray]:
        """The grasps' own phases as the physics test runs them (its defaults where a grasp has none), as
        ``settle``'s keyword arrays."""

    def pregrasp_penetration(self, position: np.ndarray, quat_wxyz: np.ndarray, joints: np.ndarray) -> np.ndarray:
        """(N,) m: the deepest penetration at each pregrasp, as the physics test's pre-filter measures it."""


class GraspScorer(Protocol):
    """One object's physics scene for one plan; may prepare it (convex decomposition) in the background."""

    def simulator(self, stop: Callable[[], bool] | None = None, timings: dict[str, float] | None = None,
                  threads: int | None = None) -> GraspSimulator | None:
        """A fresh simulator, or None when ``stop()`` turned True while the scene was still being prepared
        (``timings["decomposition"]`` accumulates the wait); ``threads``: its rollout threads (None: the
        configured ``physics_rank.threads``)."""


# (object in the mesh file's frame, planner settings, coarse: a short budget asks for a cheap preparation) → scorer
ScorerFactory = Callable[["ObjectModel", PlannerConfig, bool], GraspScorer]


def load_scorer(spec: str) -> ScorerFactory:
    """The ``ScorerFactory`` named ``module:attribute`` (``physics_rank.scorer``), imported now."""
    module_name, _, attribute = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as err:
        raise ConfigError(f"planner.physics_rank.scorer: cannot load {spec!r} ({err})") from None


def motion_score(displacement_m: np.ndarray, rotation_deg: np.ndarray, config: PhysicsRankConfig) -> np.ndarray:
    """(N,) rotation / rotation_scale + displacement / displacement_scale (lower is better; inf: unstable)."""
    return rotation_deg / config.rotation_scale_deg + displacement_m / config.displacement_scale_m


@dataclasses.dataclass
class SettleMotion:
    """Per grasp (N,): worst object displacement m and rotation deg during the settle and short pushes; seconds
    spent (decomposition included, also reported alone)."""

    displacement_m: np.ndarray
    rotation_deg: np.ndarray
    seconds: float
    decomposition_seconds: float

    def score(self, config: PhysicsRankConfig) -> np.ndarray:
        """(N,) ``motion_score`` of the motion."""
        return motion_score(self.displacement_m, self.rotation_deg, config)


def push_filter(config: PhysicsRankConfig) -> PushFilter | None:
    """Push only grasps whose settle score is below ``config.push_below_score`` (None: push all)."""
    if not np.isfinite(config.push_below_score):
        return None
    return lambda d, r: motion_score(d, r, config) < config.push_below_score


def fail_prefilter(sim: GraspSimulator, position: np.ndarray, quat_wxyz: np.ndarray, joints: np.ndarray,
                   displacement: np.ndarray) -> None:
    """Set ``displacement`` (N,) to inf, in place, where the pregrasp penetrates deeper than the physics test's
    pre-filter allows (such a grasp fails the test whatever it does next)."""
    deep = sim.pregrasp_penetration(position, quat_wxyz, joints) > sim.prefilter_penetration_m
    displacement[deep] = np.inf


def verification_stop(config: PhysicsRankConfig) -> PushStop:
    """The verification's early end of decided pushes (``verify_check_s``, ``verify_rest_score``)."""
    return PushStop(config.verify_check_s, config.verify_rest_score, config.displacement_scale_m,
                    config.rotation_scale_deg)


def verification_motion(grasps: list[Grasp], sim: GraspSimulator, config: PhysicsRankConfig) -> SettleMotion:
    """Each grasp's own phases (file frame) through the physics test's closing and squeeze in ``sim``, then six
    pushes of ``config.verify_push_s`` (every grasp pushed; decided pushes end early, see ``verification_stop``):
    the worst object motion, as SettleMotion (a pregrasp failing the test's pre-filter: inf)."""
    t0 = time.perf_counter()
    phases = sim.phase_arrays(grasps)
    displacement, rotation = sim.settle(**phases, push_s=config.verify_push_s, push_stop=verification_stop(config))
    fail_prefilter(sim, phases["pregrasp_position"], phases["pregrasp_quat_wxyz"], phases["pregrasp_joints"],
                   displacement)
    return SettleMotion(displacement, rotation, time.perf_counter() - t0, 0.0)


@dataclasses.dataclass
class PhaseChoice:
    """Per candidate (N,): the chosen squeeze (N, 22) and pregrasp joints (N, 22) and the motion they cause."""

    squeeze_joints: np.ndarray
    pregrasp_joints: np.ndarray
    motion: SettleMotion


def best_phase_variants(post: GraspPostprocessor, closed: ClosedGrasps, index: np.ndarray,
                        poses: dict[str, np.ndarray], config: PlannerConfig, sim: GraspSimulator) -> PhaseChoice:
    """Simulate candidates ``index`` (N,) of ``closed`` (via GraspPostprocessor ``post``) with the squeeze amount ×
    pregrasp opening pairs of ``config.physics_rank`` and keep each candidate's least-moving pair.

    The first pair runs for every candidate; the other pairs only for those whose first score lies in
    ``retry_band`` [lo, hi) (empty: every candidate): below lo the grasp already holds, at hi or above another
    squeeze almost never rescues it (val split: 7 of 375 holding grasps; the retries then cost ~40 % of the runs).
    A candidate whose chosen pregrasp fails the physics test's pre-filter gets displacement inf.
    poses (file frame): pregrasp_position (N, 3), pregrasp_quat_wxyz (N, 4) (= the grasp's), grasp_position (N, 3),
    grasp_joints (N, 22).
    """
    rank = config.physics_rank
    pairs = [(s, o) for s in (rank.squeeze_rad or (config.post.squeeze_rad,))
             for o in (rank.pregrasp_open_rad or (config.post.pregrasp_open_rad,))]
    variants = [post.phases(closed, s, o) for s, o in pairs]
    squeezes = np.stack([ph["squeeze_joints"].cpu().numpy()[index] for ph in variants])  # (V, N, 22)
    openings = np.stack([ph["pregrasp_joints"].cpu().numpy()[index] for ph in variants])
    v, n = len(pairs), len(index)
    t0 = time.perf_counter()
    displacement, rotation = np.full((v, n), np.inf), np.full((v, n), np.inf)

    def run(which: np.ndarray, cand: np.ndarray) -> None:  # (M,) variant and candidate indices, one batch
        if len(cand):
            displacement[which, cand], rotation[which, cand] = sim.settle(
                pregrasp_position=poses["pregrasp_position"][cand],
                pregrasp_quat_wxyz=poses["pregrasp_quat_wxyz"][cand],
                pregrasp_joints=openings[which, cand], grasp_position=poses["grasp_position"][cand],
                grasp_quat_wxyz=poses["pregrasp_quat_wxyz"][cand], grasp_joints=poses["grasp_joints"][cand],
                squeeze_joints=squeezes[which, cand], push_s=rank.push_s, push_filter=push_filter(rank))

    run(np.zeros(n, int), np.arange(n))
    first = motion_score(displacement[0], rotation[0], rank)
    retry = np.arange(n) if not rank.retry_band else np.flatnonzero(
        (first >= rank.retry_band[0]) & (first < rank.retry_band[1]))
    run(np.repeat(np.arange(1, v), len(retry)), np.tile(retry, v - 1))
    best = motion_score(displacement, rotation, rank).argmin(0)  # (N,) each candidate's best (first on ties)
    chosen = SettleMotion(displacement[best, np.arange(n)], rotation[best, np.arange(n)], 0.0, 0.0)
    fail_prefilter(sim, poses["pregrasp_position"], poses["pregrasp_quat_wxyz"], openings[best, np.arange(n)],
                   chosen.displacement_m)
    chosen.seconds = time.perf_counter() - t0
    return PhaseChoice(squeezes[best, np.arange(n)], openings[best, np.arange(n)], chosen)


__all__ = ["GraspScorer", "GraspSimulator", "PhaseChoice", "PushStop", "ScorerFactory", "SettleMotion",
           "best_phase_variants", "fail_prefilter", "load_scorer", "motion_score", "push_filter", "verification_motion",
           "verification_stop"]
