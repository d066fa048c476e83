"""Batched gradient refinement of all candidates at once (Adam, cosine-decayed learning rates).

The state is palm position (B, 3) m, palm rotation as 6D (B, 6), reduced joints u (B, 18) rad. The energy is any
callable ``(position, rotation (B, 3, 3), u) -> (total (B,), terms dict[str, (B,)])``; each candidate keeps its best
state seen so far, which is what ``refine`` returns.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import torch

from diffgrasp.geometry.rotations import matrix_to_rotation6d, rotation6d_to_matrix
from diffgrasp.planning.plan_result import ProgressInfo
from diffgrasp.planning.planner_config import OptimConfig

Energy = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]


@dataclasses.dataclass
class RefineState:
    """Candidate grasps during refinement (object frame)."""

    position: torch.Tensor   # (B, 3) m
    rotation: torch.Tensor   # (B, 3, 3)
    u: torch.Tensor          # (B, 18) rad
    loss: torch.Tensor       # (B,) energy of this state
    terms: dict[str, torch.Tensor]

    def select(self, index: torch.Tensor) -> RefineState:
        return RefineState(self.position[index], self.rotation[index], self.u[index], self.loss[index],
                           {k: v[index] for k, v in self.terms.items()})


@dataclasses.dataclass
class RefineOutcome:
    state: RefineState
    iterations: int
    status: str  # "succeeded" | "cancelled" | "time_budget"


def refine(position: torch.Tensor, rotation: torch.Tensor, u: torch.Tensor, energy: Energy,
           u_limits: tuple[torch.Tensor, torch.Tensor], config: OptimConfig,
           progress: Callable[[ProgressInfo], None] | None = None,
           should_cancel: Callable[[], bool] | None = None, deadline: float | None = None,
           start_time: float | None = None, clock: Callable[[], float] = time.perf_counter) -> RefineOutcome:
    """Minimise ``energy`` from the given candidates; cancellation and the deadline (a ``clock`` value) are checked
    every iteration."""
    start_time = start_time or clock()
    pos = position.detach().clone().requires_grad_(True)
    rot6 = matrix_to_rotation6d(rotation.detach()).clone().requires_grad_(True)
    uu = u.detach().clone().requires_grad_(True)
    lo, hi = u_limits
    opt = torch.optim.Adam([
        {"params": [pos], "lr": config.lr_position},
        {"params": [rot6], "lr": config.lr_rotation},
        {"params": [uu], "lr": config.lr_joints},
    ])
    base_lrs = [g["lr"] for g in opt.param_groups]
    best: RefineState | None = None
    status, it = "succeeded", 0
    for it in range(config.iterations + 1):
        rot = rotation6d_to_matrix(rot6)
        total, terms = energy(pos, rot, uu)
        with torch.no_grad():
            current = RefineState(pos.detach().clone(), rot.detach().clone(), uu.detach().clone(),
                                  total.detach().clone(), {k: v.detach().clone() for k, v in terms.items()})
            best = current if best is None else _keep_better(best, current)
        if progress is not None and (it % config.feedback_every == 0 or it == config.iterations):
            i = int(best.loss.argmin())
            progress(ProgressInfo("refine", it, config.iterations, float(best.loss[i]),
                                  {k: float(v[i]) for k, v in best.terms.items()}, clock() - start_time))
        if it == config.iterations:
            break
        if should_cancel is not None and should_cancel():
            status = "cancelled"
            break
        if deadline is not None and clock() >= deadline:
            status = "time_budget"
            break
        frac = it / max(1, config.iterations - 1)
        scale = config.lr_decay + (1 - config.lr_decay) * 0.5 * (1 + math.cos(math.pi * frac))
        for g, lr in zip(opt.param_groups, base_lrs, strict=True):
            g["lr"] = lr * scale
        opt.zero_grad(set_to_none=True)
        total.sum().backward()
        opt.step()
        with torch.no_grad():
            uu.copy_(torch.maximum(torch.minimum(uu, hi), lo))
    assert best is not None
    return RefineOutcome(best, it, status)


def _keep_better(best: RefineState, current: RefineState) -> RefineState:
    better = current.loss < best.loss
    pick = lambda a, b: torch.where(better.view(-1, *([1] * (a.ndim - 1))), b, a)  # noqa: E731
    return RefineState(pick(best.position, current.position), pick(best.rotation, current.rotation),
                       pick(best.u, current.u), pick(best.loss, current.loss),
                       {k: pick(best.terms[k], current.terms[k]) for k in best.terms})
