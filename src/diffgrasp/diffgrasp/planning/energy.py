"""The refinement's energy: ``GraspLoss`` (design notes §6) on the planner's SDF grid, plus the support-plane term.

An energy is ``(position (B, 3) m, rotation (B, 3, 3), u (B, 18) rad) -> (total (B,), terms dict[str, (B,)])``
(diffgrasp.planning.refiner.Energy).
"""

from __future__ import annotations

import numpy as np
import torch

from diffgrasp.geometry import ObjectModel
from diffgrasp.hand import JointCoupling, ShadowHand
from diffgrasp.losses import GraspLoss, support_plane_violation
from diffgrasp.planning.fast_object import GridObject, SurfaceSubsetHand
from diffgrasp.planning.planner_config import PlannerConfig


def diffgrasp_energy(hand: ShadowHand, obj: ObjectModel, grid: GridObject, coupling: JointCoupling,
                     config: PlannerConfig, plane: np.ndarray | None = None):
    """The planner's energy for ``obj`` (planning frame) with ``config.loss``; ``plane`` (4,) adds
    ``w_support`` × the clearance violation of the skin and the forearm housing."""
    # The grid answers the many skin samples; the ~45 contact candidates (Q1, closeness) use the exact distance
    # unless grid_contacts (the exact BVH query was a third of an iteration's time).
    grasp_loss = GraspLoss(SurfaceSubsetHand(hand, config.surface_stride), grid if config.grid_contacts else obj,
                           config.loss, surface_distance=grid.grid)

    skin = SurfaceSubsetHand(hand, config.surface_stride)
    plane_t = None if plane is None else torch.as_tensor(plane, dtype=hand.dtype, device=hand.device)

    def energy(position: torch.Tensor, rotation: torch.Tensor, u: torch.Tensor):
        # Candidates are independent: evaluating them in chunks keeps every tensor cache-sized (on the 2-core box a
        # batch of 128 cost 4.8 ms per candidate and iteration in one piece, 2.9 ms in chunks of 64).
        chunk = config.refine_chunk
        if not chunk or position.shape[0] <= chunk:
            return energy_chunk(position, rotation, u)
        parts = [energy_chunk(p, r, v) for p, r, v in zip(position.split(chunk), rotation.split(chunk), u.split(chunk))]
        return (torch.cat([t for t, _ in parts]),
                {key: torch.cat([terms[key] for _, terms in parts]) for key in parts[0][1]})

    def energy_chunk(position: torch.Tensor, rotation: torch.Tensor, u: torch.Tensor):
        q22 = coupling.expand(u)
        out = grasp_loss(position, rotation, q22)
        if plane_t is None:
            return out.total, out.terms
        # The skin and the forearm's bulky housing (its hull's vertices): the housing is what meets a table first.
        points = torch.cat([skin.surface_points(position, rotation, q22), hand.forearm_hull_points(position, rotation)],
                           dim=1)
        support = support_plane_violation(points, plane_t, config.support_margin_m)
        return out.total + config.w_support * support, {**out.terms, "support_plane": support}

    return energy


__all__ = ["diffgrasp_energy"]
