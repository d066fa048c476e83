"""The execution interface shared by the MuJoCo backend and the MoveIt node: phases as data, results, the ABC.

An execution takes ranked grasps (``diffgrasp.grasps.Grasp``: ``rh_palm`` pose in the OBJECT frame) and the object's
pose in ``world`` (4, 4), picks the best-ranked grasp that is reachable and collision free, and runs the phases
home → pregrasp → approach → close → lift → hold.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from diffgrasp.grasps import Grasp

PHASES: tuple[str, ...] = ("home", "pregrasp", "approach", "close", "lift", "hold")
"""Execution phases in order; ``ExecutionResult.phase_reached`` is one of them."""

REASONS: tuple[str, ...] = ("ok", "unreachable", "collision", "slip", "no_grasps", "cancelled", "control")
"""Why an execution stopped: ``ok`` (lifted and held), ``unreachable`` (IK failed or joint limits for every grasp),
``collision`` (every reachable grasp collides with table/object, or the arm knocked the object), ``slip`` (closed but
the object was not lifted or fell during the hold), ``no_grasps`` (empty input), ``cancelled`` (``stop()`` was
called: the robot was brought to rest where it was), ``control`` (a controller rejected or aborted a motion)."""


@dataclasses.dataclass(frozen=True)
class Segment:
    """One timed piece of a phase. ``arm``: (K, 6) joint waypoints (rad) passed through in order over ``duration``
    s (K = 1 holds); ``hand``: (2, 24) joint targets (rad, canonical order; squeeze targets may pass the limits) at
    the start and end. Both follow the same piecewise-linear paths with smoothstep time scaling (at rest at both
    ends)."""

    phase: str
    duration: float
    arm: np.ndarray
    hand: np.ndarray

    def targets(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Arm (6,) and hand (24,) targets at time ``t`` ∈ [0, duration] s into the segment."""
        s = 1.0 if self.duration <= 0 else min(max(t / self.duration, 0.0), 1.0)
        s = s * s * (3.0 - 2.0 * s)  # smoothstep time scaling: zero velocity at both ends, same path
        k = len(self.arm) - 1
        x = s * k
        i = min(int(np.floor(x)), max(k - 1, 0))
        arm = self.arm[0] if k == 0 else self.arm[i] + (x - i) * (self.arm[i + 1] - self.arm[i])
        return arm, self.hand[0] + s * (self.hand[1] - self.hand[0])


@dataclasses.dataclass
class CandidateReport:
    """Feasibility of one input grasp: ``reason`` in REASONS (``ok`` = feasible), ``message`` says what failed."""

    grasp_index: int
    reason: str
    message: str = ""


@dataclasses.dataclass
class GraspPlan:
    """A feasible grasp turned into timed segments, plus the key flange poses (4, 4) in world and joint solutions."""

    grasp_index: int
    segments: list[Segment]
    flange_poses: dict[str, np.ndarray]
    arm_solutions: dict[str, np.ndarray]


@dataclasses.dataclass
class Trajectories:
    """Recorded joint trajectories: ``time`` (T,) s; ``arm`` (T, 6) and ``hand`` (T, 24) rad in the order of
    ``arm_names``/``hand_names``; ``object_position`` (T, 3) m in world; ``phase`` (T,) phase names."""

    time: np.ndarray
    arm_names: tuple[str, ...]
    arm: np.ndarray
    hand_names: tuple[str, ...]
    hand: np.ndarray
    object_position: np.ndarray
    phase: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time.tolist(), "arm_names": list(self.arm_names), "arm": self.arm.tolist(),
                "hand_names": list(self.hand_names), "hand": self.hand.tolist(),
                "object_position": self.object_position.tolist(), "phase": list(self.phase)}


@dataclasses.dataclass
class ExecutionResult:
    """Outcome of one execution.

    success: lifted and held. phase_reached: last phase entered (PHASES). reason: REASONS. grasp_index: index of the
    executed grasp in the input list (None when none was executed). timings: wall seconds per stage (``plan`` and each
    executed phase) plus ``sim_time`` (simulated s). lift_height: object height gain at the end (m).
    candidates: feasibility of every checked grasp. frames: rendered (H, W, 3) uint8 images when asked for.
    object_lifted: whether a measurement showed the object lifted (MuJoCo: the object's height; a robot: a sensed
    grasp); None when nothing was measured. ``success`` never stands in for it.
    """

    success: bool
    phase_reached: str
    reason: str
    grasp_index: int | None
    message: str = ""
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    trajectories: Trajectories | None = None
    lift_height: float = 0.0
    candidates: list[CandidateReport] = dataclasses.field(default_factory=list)
    frames: list[np.ndarray] = dataclasses.field(default_factory=list)
    object_lifted: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without frames)."""
        return {
            "success": self.success, "phase_reached": self.phase_reached, "reason": self.reason,
            "grasp_index": self.grasp_index, "message": self.message, "timings": dict(self.timings),
            "lift_height_m": self.lift_height, "object_lifted": self.object_lifted,
            "candidates": [dataclasses.asdict(c) for c in self.candidates],
            "trajectories": None if self.trajectories is None else self.trajectories.to_dict(),
        }


class ExecutionBackend(abc.ABC):
    """Executes the best reachable grasp of a ranked list (MuJoCo in the embedded default; MoveIt on the robot)."""

    @abc.abstractmethod
    def execute(self, grasps: Sequence[Grasp], object_pose_world: np.ndarray, **kwargs: Any) -> ExecutionResult:
        """grasps: best first, palm poses in the object frame; object_pose_world: (4, 4) object-to-world."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Bring the robot to rest where it is, now (called from another thread while ``execute`` runs); that
        ``execute`` then returns reason ``cancelled``. A stop before ``execute`` starts does nothing."""


__all__ = ["PHASES", "REASONS", "CandidateReport", "ExecutionBackend", "ExecutionResult", "GraspPlan", "Segment",
           "Trajectories"]
