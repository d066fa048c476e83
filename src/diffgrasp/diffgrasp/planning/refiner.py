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
from diffgrasp.planning.deadline import stop_status
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


class Adam:
    """``torch.optim.Adam`` (defaults: betas 0.9/0.999, eps 1e-8, no weight decay) over parameter groups, stepped by
    torch's own single-tensor Adam kernel: the same numbers, bit for bit (tested), without the optimizer
    machinery's first-use import of torch._dynamo (~1.3 s on the 2-core box, a fifth of a 5 s budget). Falls back
    to ``torch.optim.Adam`` where that kernel is not available. ``lrs`` (settable) are the groups' learning rates."""

    def __init__(self, groups: list[list[torch.Tensor]], lrs: list[float]) -> None:
        try:
            from torch.optim.adam import _single_tensor_adam
        except ImportError:  # another torch: its public optimizer
            _single_tensor_adam = None
        self.groups, self.lrs = groups, list(lrs)
        self._kernel = _single_tensor_adam
        if _single_tensor_adam is None:
            self._torch = torch.optim.Adam([{"params": g, "lr": lr} for g, lr in zip(groups, lrs, strict=True)])
            return
        self._state = [[(torch.zeros_like(p), torch.zeros_like(p), torch.tensor(0.0)) for p in g] for g in groups]

    def zero_grad(self) -> None:
        for group in self.groups:
            for p in group:
                p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        if self._kernel is None:
            for g, lr in zip(self._torch.param_groups, self.lrs, strict=True):
                g["lr"] = lr
            self._torch.step()
            return
        for group, state, lr in zip(self.groups, self._state, self.lrs, strict=True):
            params = [p for p in group if p.grad is not None]
            live = [s for p, s in zip(group, state, strict=True) if p.grad is not None]
            self._kernel(params, [p.grad for p in params], [s[0] for s in live], [s[1] for s in live], [],
                         [s[2] for s in live], grad_scale=None, found_inf=None, amsgrad=False, has_complex=False,
                         beta1=0.9, beta2=0.999, lr=lr, weight_decay=0.0, eps=1e-8, maximize=False,
                         capturable=False, differentiable=False, decoupled_weight_decay=False)


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
    base_lrs = [config.lr_position, config.lr_rotation, config.lr_joints]
    opt = Adam([[pos], [rot6], [uu]], base_lrs)
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
        stop = stop_status(should_cancel, deadline, clock)
        if stop is not None:
            status = stop
            break
        frac = it / max(1, config.iterations - 1)
        scale = config.lr_decay + (1 - config.lr_decay) * 0.5 * (1 + math.cos(math.pi * frac))
        opt.lrs = [lr * scale for lr in base_lrs]
        opt.zero_grad()
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
