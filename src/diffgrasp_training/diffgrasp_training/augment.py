"""Object-pose augmentation that needs no re-rendering: quarter turns about the vertical axis of the object frame.

The network's virtual cameras (``diffgrasp.perception.views.view_poses``) are one looking down and V − 1 around at
equal azimuths. Turning the object by 90° about the vertical through its centre therefore turns the top view by 90°
in its image plane and moves each side view (V − 1) / 4 places along the ring (measured exact, to the pixel, on a
YCB clamp). The references turn with the object; for the GraspLoss the predictions are turned back into the mesh's
frame. Table samples stay on their table (the turn keeps z).
"""

from __future__ import annotations

import math

import torch


def quarter_turns(num_objects: int, seed: int, step: int, rank: int) -> torch.Tensor:
    """(K,) int64 in 0..3: how many quarter turns each object of the batch gets (a function of seed, step, rank, so
    a resumed run augments as the uninterrupted one)."""
    g = torch.Generator().manual_seed(seed * 104_729 + step * 31 + rank + 1)
    return torch.randint(0, 4, (num_objects,), generator=g)


def turn_matrices(turns: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(K,) quarter turns → (K, 3, 3) rotations about +z by 90° × turns."""
    angle = turns.to(torch.float64) * (math.pi / 2)
    c, s = torch.cos(angle).round(), torch.sin(angle).round()  # exact 0/±1
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1),
                        torch.stack([zero, zero, one], -1)], -2).to(dtype)


def turn_views(views: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """views (K, V, H, W) of the objects → the views of the objects turned by ``turns`` (K,) quarter turns."""
    sides = views.shape[1] - 1
    if sides % 4:
        raise ValueError(f"quarter-turn augmentation needs num_views − 1 divisible by 4, got {views.shape[1]} views")
    out = views.clone()
    for k in range(1, 4):  # four cases, not a loop over objects
        idx = (turns % 4 == k).nonzero().flatten()
        if len(idx):
            v = views[idx]
            out[idx, 0] = torch.rot90(v[:, 0], k, dims=(1, 2))
            out[idx, 1:] = torch.roll(v[:, 1:], k * sides // 4, dims=1)
    return out


def turn_batch(batch: dict[str, torch.Tensor], turns: torch.Tensor) -> dict[str, torch.Tensor]:
    """A training batch (``GraspDataset.batch``) with every object turned: views, reference palm poses (about the
    centre: they are centre-relative) and ``turn`` (K, 3, 3), which :class:`~diffgrasp_training.objective.Objective`
    undoes on the predictions before the GraspLoss."""
    rot = turn_matrices(turns, batch["ref_position"].dtype).to(batch["ref_position"].device)
    out = dict(batch)
    out["views"] = turn_views(batch["views"], turns.to(batch["views"].device))
    out["ref_position"] = torch.einsum("kij,krj->kri", rot, batch["ref_position"])
    out["ref_rotation"] = rot[:, None] @ batch["ref_rotation"]
    out["turn"] = rot
    return out


__all__ = ["quarter_turns", "turn_batch", "turn_matrices", "turn_views"]
