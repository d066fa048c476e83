"""Closeness (B,), in m²: pulls the k contact candidates nearest the surface onto it.

Σ over the k candidates with the smallest |d| of d², where d (B, C) m is each candidate's signed distance to the object.
The selection is re-made at each call (piecewise constant, no gradient); the gradient flows through the chosen d.
"""

from __future__ import annotations

import torch

from diffgrasp._checks import check_shape


def closeness(distances: torch.Tensor, k: int = 5) -> torch.Tensor:
    """Σ_{k nearest} d² (B,) m² for distances (B, C) m; k is clipped to C."""
    check_shape("distances", distances, ("B", "C"))
    if k < 1:
        raise ValueError(f"k: expected at least 1 contact, got {k}")
    k = min(k, distances.shape[1])
    idx = distances.detach().abs().topk(k, dim=1, largest=False).indices
    return distances.gather(1, idx).square().sum(dim=1)
