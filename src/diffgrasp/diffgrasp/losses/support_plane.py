"""Support-plane clearance (B,), in metres: hand points below the surface the object rests on (a table).

plane (4,) = (a, b, c, d) with unit normal (a, b, c) pointing into free space: a point x is clear when
n·x + d ≥ margin. The term is Σ over points of max(0, margin − (n·x + d)).
"""

from __future__ import annotations

import torch

from diffgrasp._checks import check_shape


def support_plane_violation(points: torch.Tensor, plane: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """points (B, P, 3) m, plane (4,) → Σ max(0, margin − (n·x + d)) per grasp (B,) m."""
    check_shape("points", points, ("B", "P", 3))
    check_shape("plane", plane, (4,))
    height = points @ plane[:3] + plane[3]
    return torch.relu(margin - height).sum(dim=1)
