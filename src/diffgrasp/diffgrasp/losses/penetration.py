"""Penetration terms (B,), in metres: hand surface samples inside the object, object surface samples inside the hand.

Both are sums of depths over points (so they grow with the depth and with the penetrating area); divide by the number of
points for a mean. Depth = max(0, −d) with d the signed distance (negative inside).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from diffgrasp._checks import check_shape


def hand_in_object_penetration(distances: torch.Tensor) -> torch.Tensor:
    """Σ_p max(0, −d_p) over hand surface samples: distances (B, P) m to the object (negative inside) → (B,) m."""
    check_shape("distances", distances, ("B", "P"))
    return torch.relu(-distances).sum(dim=1)


def sparse_hand_in_object_penetration(points: torch.Tensor, distance: Callable[[torch.Tensor], torch.Tensor]
                                      ) -> torch.Tensor:
    """Σ_p max(0, −d_p) of points (B, P, 3) m under ``distance`` (points (B, N, 3) → d (B, N), negative inside) → (B,).

    Equal to ``hand_in_object_penetration(distance(points))`` in value and gradient, but ``distance`` runs without
    autograd on all points and with autograd only on the few inside (a few % of the hand's samples in refinement).
    """
    check_shape("points", points, ("B", "P", 3))
    with torch.no_grad():
        # The margin keeps points whose no-grad and autograd evaluations could round to opposite signs.
        bi, pi = torch.nonzero(distance(points) < 1e-7, as_tuple=True)
    depth = torch.relu(-distance(points[bi, pi][None])[0])
    return torch.zeros(points.shape[0], dtype=points.dtype, device=points.device).index_add(0, bi, depth)


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

    Only a few of the B·S·K point-capsule pairs ever penetrate, so the dense distances are computed without autograd
    (from dot products, no (B, S, K, 3) temporaries) to find each point's deepest capsule, and only the penetrating
    pairs are recomputed with autograd: the same value and gradient as the dense expression
    (:func:`dense_object_in_hand_penetration`), ~8x faster forward + backward for 64 grasps × 512 samples × 43 capsules.
    """
    check_shape("a", a, ("B", "K", 3))
    check_shape("b", b, tuple(a.shape))
    check_shape("radius", radius, (a.shape[1],))
    if object_points.ndim == 2:
        object_points = object_points[None].expand(a.shape[0], -1, -1)
    check_shape("object_points", object_points, (a.shape[0], "S", 3))
    with torch.no_grad():
        depth = radius - _segment_distance_by_dots(object_points, a, b)        # (B, S, K)
        deepest, k = depth.max(dim=2)
        # A margin so that rounding in the dot-product form cannot drop a barely penetrating pair.
        bi, si = torch.nonzero(deepest > -1e-6, as_tuple=True)
        ki = k[bi, si]
    dist = point_segment_distance(object_points[bi, si][:, None, None], a[bi, ki][:, None, None],
                                  b[bi, ki][:, None, None])[:, 0, 0]
    pen = torch.relu(radius[ki] - dist)
    return torch.zeros(a.shape[0], dtype=a.dtype, device=a.device).index_add(0, bi, pen)


def dense_object_in_hand_penetration(object_points: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                                     radius: torch.Tensor) -> torch.Tensor:
    """Reference for :func:`object_in_hand_penetration`: every point-capsule pair through autograd (slow)."""
    if object_points.ndim == 2:
        object_points = object_points[None].expand(a.shape[0], -1, -1)
    depth = torch.relu(-capsule_signed_distance(object_points, a, b, radius))   # (B, S, K)
    return depth.max(dim=2).values.sum(dim=1)


def _segment_distance_by_dots(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance (B, S, K) from points x (B, S, 3) to segments [a, b] (B, K, 3) from batched dot products."""
    ab = b - a
    ab2 = (ab * ab).sum(-1).clamp_min(1e-12)[:, None]                          # (B, 1, K)
    xa = torch.bmm(x, ab.transpose(1, 2)) - (a * ab).sum(-1)[:, None]          # (x − a)·ab  (B, S, K)
    t = (xa / ab2).clamp(0.0, 1.0)
    xa2 = ((x * x).sum(-1)[..., None] - 2 * torch.bmm(x, a.transpose(1, 2))
           + (a * a).sum(-1)[:, None])                                         # |x − a|²
    return (xa2 - 2 * t * xa + t * t * ab2).clamp_min(0.0).sqrt()
