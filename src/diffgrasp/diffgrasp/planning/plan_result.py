"""Planner outputs: progress reports during refinement and the final result."""

from __future__ import annotations

import dataclasses

from diffgrasp.grasps import Grasp

STATUSES = ("succeeded", "cancelled", "time_budget")


@dataclasses.dataclass(frozen=True)
class ProgressInfo:
    """Sent to the progress callback every ``feedback_every`` iterations (and at stage changes)."""

    stage: str                  # "refine" | "postprocess"
    iteration: int
    total_iterations: int
    best_loss: float
    terms: dict[str, float]     # the loss terms of the best candidate
    elapsed_s: float


@dataclasses.dataclass
class PlanResult:
    """K ranked grasps (best first) in the object file's frame, with how the run ended.

    status: "succeeded", "cancelled" (the cancel hook) or "time_budget" (a stage was cut short or skipped to keep
    the budget; the grasps are the best so far). message: one line for the user, empty when there is nothing to say
    (k capped to the candidate pool, what the budget cut).
    """

    grasps: list[Grasp]
    status: str = "succeeded"
    iterations: int = 0
    best_loss: float = float("nan")
    loss_terms: dict[str, float] = dataclasses.field(default_factory=dict)
    num_candidates: int = 0
    num_rejected: dict[str, int] = dataclasses.field(default_factory=dict)
    timings_s: dict[str, float] = dataclasses.field(default_factory=dict)
    message: str = ""

    @property
    def success(self) -> bool:
        return self.status == "succeeded" and bool(self.grasps)
