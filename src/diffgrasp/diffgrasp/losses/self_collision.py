"""Self-collision (B,), in metres: penetration depth between capsule pairs of non-adjacent hand links.

Capsule k is the set of points within radius r_k of the segment [a_k, b_k] (a sphere when a_k == b_k). The depth of a
pair (i, j) is max(0, r_i + r_j − dist(segment_i, segment_j)); the term is the sum over the given pairs.
"""

from __future__ import annotations

import torch

from diffgrasp._checks import check_shape


def segment_segment_distance(p1: torch.Tensor, q1: torch.Tensor, p2: torch.Tensor, q2: torch.Tensor,
                             eps: float = 1e-12) -> torch.Tensor:
    """Distance between segments [p1, q1] and [p2, q2], all (..., 3) → (...,). Degenerate segments (points) allowed.

    Ericson's closest-points-of-two-segments with clamping; differentiable almost everywhere.
    """
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a = (d1 * d1).sum(-1)
    e = (d2 * d2).sum(-1)
    f = (d2 * r).sum(-1)
    c = (d1 * r).sum(-1)
    b = (d1 * d2).sum(-1)
    a_safe, e_safe = a.clamp_min(eps), e.clamp_min(eps)
    denom = a * e - b * b
    # s on the infinite lines (parallel segments: s = 0), clamped to [0, 1]
    s = torch.where(denom > eps * a_safe * e_safe, (b * f - c * e) / denom.clamp_min(eps * a_safe * e_safe),
                    torch.zeros_like(denom)).clamp(0.0, 1.0)
    s = torch.where(a <= eps, torch.zeros_like(s), s)
    t = (b * s + f) / e_safe
    # t out of range: clamp it and recompute s for the clamped t
    t_c = t.clamp(0.0, 1.0)
    s = torch.where(t != t_c, ((b * t_c - c) / a_safe).clamp(0.0, 1.0), s)
    # degenerate second segment (a point): t = 0, s = projection of p2 on the first segment
    t_c = torch.where(e <= eps, torch.zeros_like(t_c), t_c)
    s = torch.where(e <= eps, (-c / a_safe).clamp(0.0, 1.0), s)
    s = torch.where(a <= eps, torch.zeros_like(s), s)
    diff = (p1 + s[..., None] * d1) - (p2 + t_c[..., None] * d2)
    return torch.sqrt((diff * diff).sum(-1).clamp_min(eps * eps))


def self_collision(a: torch.Tensor, b: torch.Tensor, radius: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Σ over pairs of max(0, r_i + r_j − dist) → (B,) m. a, b: (B, K, 3) m; radius: (K,) m; pairs: (M, 2) long."""
    check_shape("a", a, ("B", "K", 3))
    check_shape("b", b, tuple(a.shape))
    check_shape("radius", radius, (a.shape[1],))
    check_shape("pairs", pairs, ("M", 2))
    i, j = pairs[:, 0], pairs[:, 1]
    dist = segment_segment_distance(a[:, i], b[:, i], a[:, j], b[:, j])      # (B, M)
    return torch.relu(radius[i] + radius[j] - dist).sum(dim=1)
