"""``PlanContext``: what every stage of one plan shares (design notes §6).

One object per ``plan_grasps`` call: the hand, the object in the planning frame and in its file's frame, the frames
between them, the support plane, the seeded generator, the ``Control`` (the time budget's deadline and schedule and
the cancel hook, in one place), the physics scorer, the progress callback and the stage timings. The stages
(``planning.starts``, ``refiner``/``energy``, ``measure``, ``ranking``, ``reseed``, ``verify``) take it instead of
long parameter lists.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable

import numpy as np
import torch

from diffgrasp.geometry import ObjectModel
from diffgrasp.hand import JointCoupling, ShadowHand
from diffgrasp.planning.deadline import Control
from diffgrasp.planning.energy import diffgrasp_energy
from diffgrasp.planning.fast_object import GridObject
from diffgrasp.planning.plan_result import ProgressInfo
from diffgrasp.planning.planner_config import PlannerConfig
from diffgrasp.planning.refiner import Energy
from diffgrasp.planning.scoring import GraspScorer


@dataclasses.dataclass
class PlanContext:
    """Shared state of one plan. Frames: ``obj`` is the mesh moved into the planning frame (``to_canonical`` (4, 4)
    maps the file frame there, ``to_file`` back); ``file_object`` is the mesh as given, which the physics scorer
    simulates. ``plane``: the support plane (4,) in the planning frame, or None. ``grid`` is built before the starts
    (``build_grid``). ``timings`` collects seconds per stage for the result."""

    config: PlannerConfig
    k: int
    obj: ObjectModel
    file_object: ObjectModel
    to_canonical: np.ndarray
    plane: np.ndarray | None
    hand: ShadowHand
    coupling: JointCoupling
    rng: np.random.Generator
    control: Control
    scorer: GraspScorer | None
    progress: Callable[[ProgressInfo], None] | None
    timings: dict[str, float]
    start: float          # perf_counter at the request's start (progress reports' elapsed time)
    clock_start: float    # the deadline's clock then
    short: bool           # a budget below ``budget.short_s``: cheaper preprocessing
    grid: GridObject | None = None

    @functools.cached_property
    def to_file(self) -> np.ndarray:
        """(4, 4) planning frame → the object file's frame."""
        return np.linalg.inv(self.to_canonical)

    @functools.cached_property
    def u_limits(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Reduced-joint limits (18,), (18,) rad."""
        return self.coupling.limits(self.hand.device, self.hand.dtype)

    @functools.cached_property
    def energy(self) -> Energy:
        """The grasp loss (plus the support-plane term) on this object, built on first use and shared by the
        refinement and the reseeding rounds."""
        return diffgrasp_energy(self.hand, self.obj, self.grid, self.coupling, self.config, self.plane)

    def add_time(self, key: str, since: float) -> None:
        """Add the seconds since ``since`` (a perf_counter value) to ``timings[key]`` (summed over rounds)."""
        self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - since

    def build_grid(self) -> None:
        """The signed-distance grid refinement and closing share (a short budget builds it from fewer samples)."""
        budget = self.config.budget
        self.grid = GridObject(self.obj, self.config.sdf_voxel_m, budget.sdf_surface_samples if self.short else None)


__all__ = ["PlanContext"]
