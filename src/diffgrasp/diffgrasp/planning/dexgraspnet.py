"""DexGraspNet-style baseline (Wang et al., ICRA 2023), built from our parts for side-by-side comparison.

Energy per grasp: E = E_fc + 100·E_dis + 100·E_pen + 10·E_spen + E_joints with
E_fc = ‖ĉᵀ G‖ (frictionless force closure of n_contact selected contact candidates, normals ĉ inward, G the 3×6 wrench
maps [I, [p]×]), E_dis = Σ|d| of the selected candidates, E_pen = Σ max(0, −d) over hand surface samples, E_spen the
capsule self-penetration, E_joints the joint-limit violation. Optimisation: annealed, Metropolis-accepted
RMSProp-scaled gradient steps, with a random switch of the selected contacts at each proposal (their Algorithm 1).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from diffgrasp.geometry import ObjectModel
from diffgrasp.geometry.rotations import matrix_to_rotation6d, rotation6d_to_matrix
from diffgrasp.hand import JointCoupling, ShadowHand
from diffgrasp.losses.self_collision import self_collision
from diffgrasp.planning.deadline import stop_status
from diffgrasp.planning.plan_result import ProgressInfo
from diffgrasp.planning.planner_config import PlannerConfig
from diffgrasp.planning.refiner import RefineOutcome, RefineState

N_CONTACT = 4
W_DIS, W_PEN, W_SPEN, W_JOINTS = 100.0, 100.0, 10.0, 1.0
STEP_SIZE, STARTING_TEMPERATURE, TEMPERATURE_DECAY, ANNEAL_PERIOD = 0.005, 18.0, 0.95, 30
STEP_DECAY, SWITCH_PROBABILITY, MU_RMS = 0.98, 0.5, 0.98
SURFACE_SUBSAMPLE = 400  # hand surface samples used for E_pen during the search


class DexGraspNetEnergy:
    """The baseline energy, batched over grasps; contact selection ``idx`` (B, N_CONTACT) indexes the candidates."""

    def __init__(self, hand: ShadowHand, obj: ObjectModel, coupling: JointCoupling, seed: int) -> None:
        self.hand, self.obj, self.coupling = hand, obj, coupling
        g = torch.Generator().manual_seed(seed)
        p = hand.num_surface_points
        self.surface_subset = torch.randperm(p, generator=g)[:min(SURFACE_SUBSAMPLE, p)].to(hand.device)
        self.lower, self.upper = coupling.limits(hand.device, hand.dtype)

    def __call__(self, pos: torch.Tensor, rot: torch.Tensor, u: torch.Tensor, idx: torch.Tensor
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        q22 = self.coupling.expand(u)
        pts, _ = self.hand.contact_candidates(pos, rot, q22)
        sel = torch.gather(pts, 1, idx[..., None].expand(-1, -1, 3))  # (B, n, 3)
        d, n_out = self.obj.signed_distance(sel)
        normal = -n_out  # inward
        p = sel - torch.as_tensor(self.obj.center_of_mass, dtype=sel.dtype, device=sel.device)
        # G_i (3, 6) = [I, [p_i]×]: f·G_i = (f, p_i × f ... as in DexGraspNet's transpose form)
        cross = torch.zeros(p.shape[:-1] + (3, 3), dtype=p.dtype, device=p.device)
        cross[..., 0, 1], cross[..., 0, 2] = -p[..., 2], p[..., 1]
        cross[..., 1, 0], cross[..., 1, 2] = p[..., 2], -p[..., 0]
        cross[..., 2, 0], cross[..., 2, 1] = -p[..., 1], p[..., 0]
        eye = torch.eye(3, dtype=p.dtype, device=p.device).expand_as(cross)
        g = torch.cat([eye, cross], dim=-1)  # (B, n, 3, 6)
        wrench = torch.einsum("bni,bnij->bj", normal, g)
        e_fc = wrench.norm(dim=-1)
        e_dis = d.abs().sum(-1)
        surf = self.hand.surface_points(pos, rot, q22)[:, self.surface_subset]
        ds, _ = self.obj.signed_distance(surf)
        e_pen = (-ds).clamp_min(0).sum(-1)
        a, b, r = self.hand.collision_capsules(pos, rot, q22)
        e_spen = self_collision(a, b, r, self.hand.self_collision_pairs)
        e_joints = ((u - self.upper).clamp_min(0) + (self.lower - u).clamp_min(0)).sum(-1)
        total = e_fc + W_DIS * e_dis + W_PEN * e_pen + W_SPEN * e_spen + W_JOINTS * e_joints
        return total, {"fc": e_fc, "distance": e_dis, "penetration": e_pen, "self_penetration": e_spen,
                       "joint_limits": e_joints}


def refine_dexgraspnet(hand: ShadowHand, obj: ObjectModel, coupling: JointCoupling, pos: torch.Tensor,
                       rot: torch.Tensor, u: torch.Tensor, config: PlannerConfig, rng: np.random.Generator,
                       progress: Callable[[ProgressInfo], None] | None, should_cancel: Callable[[], bool] | None,
                       deadline: float | None, start: float,
                       clock: Callable[[], float] = time.perf_counter) -> RefineOutcome:
    """Annealed Metropolis search on the DexGraspNet energy; ``config.optim.iterations`` proposals; stops when
    cancelled or past ``deadline`` (a ``clock`` value)."""
    gen = torch.Generator(device="cpu").manual_seed(int(rng.integers(2**31)))
    energy = DexGraspNetEnergy(hand, obj, coupling, int(rng.integers(2**31)))
    b, c = pos.shape[0], hand.num_contacts
    x = torch.cat([pos, matrix_to_rotation6d(rot), u], dim=1).detach()  # (B, 27)
    idx = torch.randint(c, (b, N_CONTACT), generator=gen).to(pos.device)

    def evaluate(state: torch.Tensor, sel: torch.Tensor):
        state = state.detach().requires_grad_(True)
        total, terms = energy(state[:, :3], rotation6d_to_matrix(state[:, 3:9]), state[:, 9:], sel)
        (grad,) = torch.autograd.grad(total.sum(), state)
        return total.detach(), {k: v.detach() for k, v in terms.items()}, grad

    e, terms, grad = evaluate(x, idx)
    ema = torch.zeros_like(x)
    status, it = "succeeded", 0
    iterations = config.optim.iterations
    for it in range(iterations):
        stop = stop_status(should_cancel, deadline, clock)
        if stop is not None:
            status = stop
            break
        temperature = STARTING_TEMPERATURE * TEMPERATURE_DECAY ** (it // ANNEAL_PERIOD)
        step = STEP_SIZE * STEP_DECAY ** (it // ANNEAL_PERIOD)
        ema = MU_RMS * ema + (1 - MU_RMS) * (grad ** 2).mean(0, keepdim=True)
        proposal = x - step * grad / (ema.sqrt() + 1e-6)
        proposal[:, 9:] = torch.maximum(torch.minimum(proposal[:, 9:], energy.upper), energy.lower)
        switch = torch.rand((b, N_CONTACT), generator=gen).to(pos.device) < SWITCH_PROBABILITY
        new_idx = torch.where(switch, torch.randint(c, (b, N_CONTACT), generator=gen).to(pos.device), idx)
        e_new, terms_new, grad_new = evaluate(proposal, new_idx)
        accept_p = torch.exp(((e - e_new) / temperature).clamp(max=0.0))
        accept = torch.rand(b, generator=gen).to(pos.device) < accept_p
        x = torch.where(accept[:, None], proposal, x)
        idx = torch.where(accept[:, None], new_idx, idx)
        e = torch.where(accept, e_new, e)
        grad = torch.where(accept[:, None], grad_new, grad)
        terms = {k: torch.where(accept, terms_new[k], v) for k, v in terms.items()}
        if progress is not None and it % config.optim.feedback_every == 0:
            i = int(e.argmin())
            progress(ProgressInfo("refine", it, iterations, float(e[i]), {k: float(v[i]) for k, v in terms.items()},
                                  clock() - start))
    state = RefineState(x[:, :3], rotation6d_to_matrix(x[:, 3:9]), x[:, 9:], e, terms)
    return RefineOutcome(state, it, status)
