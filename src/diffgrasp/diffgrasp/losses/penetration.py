"""Penetration terms (B,), in metres: hand surface samples inside the object, object surface samples inside the hand.

Both are sums of depths over points (so they grow with the depth and with the penetrating area); divide by the number of
points for a mean. Depth = max(0, −d) with d the signed distance (negative inside).
"""

from __future__ import annotations

import torch

from diffgrasp._checks import check_shape


def hand_in_object_penetration(distances: torch.Tensor) -> torch.Tensor:
    """Σ_p max(0, −d_p) over hand surface samples: distances (B, P) m to the object (negative inside) → (B,) m."""
    check_shape("distances", distances, ("B", "P"))
    return torch.relu(-distances).sum(dim=1)


def point_segment_distance(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Distance from points x (B, S, 1, 3) to segments [a, b] (B, 1, K, 3) → (B, S, K) m; a == b (a sphere) is fine."""
    ab = b - a
    denom = (ab * ab).sum(-1)
    t = ((x - a) * ab).sum(-1) / denom.clamp_min(eps)
    t = t.clamp(0.0, 1.0)
    diff = x - (a + t[..., None] * ab)
    sq = (diff * diff).sum(-1)
    return torch.sqrt(sq.clamp_min(eps * eps))


def capsule_signed_distance(points: torch.Tensor, a: torch.Tensor, b: torch.Tensor, radius: torch.Tensor
                            ) -> torch.Tensor:
    """Signed distance (B, S, K) m of points (B, S, 3) to capsules (ends a, b (B, K, 3), radius (K,)); < 0 inside."""
    return point_segment_distance(points[:, :, None, :], a[:, None], b[:, None]) - radius


def object_in_hand_penetration(object_points: torch.Tensor, a: torch.Tensor, b: torch.Tensor, radius: torch.Tensor
                               ) -> torch.Tensor:
    """Σ_s max_k max(0, r_k − dist(x_s, segment_k)): object samples (S, 3) or (B, S, 3) inside hand capsules → (B,) m.

    a, b: (B, K, 3) capsule segment ends in the object frame, radius: (K,) m.
    """
    check_shape("a", a, ("B", "K", 3))
    check_shape("b", b, tuple(a.shape))
    check_shape("radius", radius, (a.shape[1],))
    if object_points.ndim == 2:
        object_points = object_points[None].expand(a.shape[0], -1, -1)
    check_shape("object_points", object_points, (a.shape[0], "S", 3))
    depth = torch.relu(-capsule_signed_distance(object_points, a, b, radius))   # (B, S, K)
    return depth.max(dim=2).values.sum(dim=1)
