"""Generalized Q1 (design notes §6): a differentiable grasp-quality metric for hand points near the surface.

Each candidate i has a position p_i (m, object frame), the **inward** unit normal n_i of the object at its closest point
(the direction a finger pushes) and a signed distance d_i (m). Its wrench map is G_i = [I; [p_i − c]× / ρ] with c the
torque centre (default: origin) and ρ = ``torque_scale`` in m (torques / ρ are in N, comparable with forces). Forces lie
in exact Coulomb cones (friction μ) with the shared budget Σ_i e^{α|d_i|} (f_i·n_i) ≤ 1; ``alpha`` is in 1/m (α = 100
means a point 1 cm from the surface contributes a cone e^{−1} ≈ 0.37 as large). The support function of that wrench
set is

    h(s) = max_i e^{−α|d_i|} φ_i(G_iᵀ s),   φ_i(b) = max(0, b·n_i + μ ‖b − (b·n_i) n_i‖),

and Q̃1 = min over unit s ∈ R⁶ of h(s). With all d_i = 0 it is the classical L1 Q1 with exact (not discretised) cones.
We take the minimum over a fixed quasi-random direction set (an upper bound), refine the best few directions by
projected (softmax-smoothed) subgradient steps on the sphere (no autograd), then evaluate h once more, with autograd,
at the best direction
found: gradients w.r.t. points, normals and distances flow through the active contact (envelope theorem).
"""

from __future__ import annotations

import math

import torch

from diffgrasp._checks import check_shape

_DIRECTIONS: dict[tuple[int, str, torch.dtype], torch.Tensor] = {}


def direction_set(num: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(num, 6) fixed unit directions: the 12 signed axes, then scrambled-Sobol (seed 0) Gaussian directions."""
    if num < 12:
        raise ValueError(f"num_directions: expected at least 12 (the signed axes), got {num}")
    key = (num, str(device), dtype)
    if key not in _DIRECTIONS:
        eye = torch.eye(6, dtype=torch.float64)
        axes = torch.cat([eye, -eye])
        sobol = torch.quasirandom.SobolEngine(6, scramble=True, seed=0).draw(num - 12, dtype=torch.float64)
        gauss = math.sqrt(2.0) * torch.erfinv(2.0 * sobol.clamp(1e-9, 1 - 1e-9) - 1.0)
        gauss = gauss / gauss.norm(dim=1, keepdim=True)
        _DIRECTIONS[key] = torch.cat([axes, gauss]).to(device=device, dtype=dtype)
    return _DIRECTIONS[key]


def wrench_maps(points: torch.Tensor, torque_scale: float | torch.Tensor = 1.0,
                center: torch.Tensor | None = None) -> torch.Tensor:
    """(B, N, 3, 6) maps M_i = G_iᵀ = [I | −[p_i − c]× / ρ], so that b_i = M_i s = s_f + s_t × (p_i − c) / ρ."""
    p = points if center is None else points - center.reshape(-1, 1, 3)
    p = p / torch.as_tensor(torque_scale, dtype=p.dtype, device=p.device).reshape(-1, 1, 1)
    zero = torch.zeros_like(p[..., 0])
    x, y, z = p.unbind(-1)
    # −[p]× = [[0, z, −y], [−z, 0, x], [y, −x, 0]]
    neg_skew = torch.stack([torch.stack([zero, z, -y], -1), torch.stack([-z, zero, x], -1),
                            torch.stack([y, -x, zero], -1)], -2)
    eye = torch.eye(3, dtype=p.dtype, device=p.device).expand(*p.shape[:-1], 3, 3)
    return torch.cat([eye, neg_skew], dim=-1)


def _phi(maps: torch.Tensor, normals: torch.Tensor, scale: torch.Tensor, dirs: torch.Tensor, mu: float
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled cone support values (B, R, N) and b (B, R, N, 3) for directions dirs (B, R, 6) or (R, 6)."""
    if dirs.ndim == 2:
        b = torch.einsum("bnij,rj->brni", maps, dirs)
    else:
        b = torch.einsum("bnij,brj->brni", maps, dirs)
    bn = (b * normals[:, None]).sum(-1)
    bt2 = (b * b).sum(-1) - bn * bn
    tiny = torch.finfo(b.dtype).tiny ** 0.5
    phi = torch.relu(bn + mu * torch.sqrt(bt2.clamp_min(tiny)))
    return phi * scale[:, None, :], b


def support_function(points: torch.Tensor, normals: torch.Tensor, distances: torch.Tensor, directions: torch.Tensor,
                     mu: float = 0.7, alpha: float = 100.0, torque_scale: float | torch.Tensor = 1.0,
                     center: torch.Tensor | None = None) -> torch.Tensor:
    """h(s) (B, R) of the generalized wrench set for directions (R, 6) or (B, R, 6) (any norm; h is 1-homogeneous).

    points (B, N, 3) m, normals (B, N, 3) inward (normalised here), distances (B, N) m, alpha 1/m, torque_scale m.
    """
    n = normals / normals.norm(dim=-1, keepdim=True)
    scale = torch.exp(-alpha * distances.abs())
    phi, _ = _phi(wrench_maps(points, torque_scale, center), n, scale, directions, mu)
    return phi.max(dim=-1).values


def _quadratic_forms(maps: torch.Tensor, n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """w_i = M_iᵀ n_i (B, N, 6), Q_i = M_iᵀ M_i (B, N, 6, 6): b·n = w·s, |b|² = sᵀ Q s (no (B, K, N, 3) tensors)."""
    w = torch.einsum("bnij,bni->bnj", maps, n)
    q = torch.einsum("bnij,bnik->bnjk", maps, maps)
    return w, q


def _phi_fast(pc: tuple[torch.Tensor, ...], nc: tuple[torch.Tensor, ...], scale: torch.Tensor, s: torch.Tensor,
              mu: float) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor]:
    """Scaled cone support (B, R, N), b components 3 × (B, R, N), b·n and |b_t| (B, R, N) for s (B, R, 6).

    pc, nc: x/y/z components (B, 1, N) of p̃ = (p − c)/ρ and n. Component-wise (no size-3 inner dimension) for speed.
    """
    px, py, pz = pc
    nx, ny, nz = nc
    s0, s1, s2, s3, s4, s5 = (s[..., k:k + 1] for k in range(6))
    bx = s0 + s4 * pz - s5 * py                                     # b = s_f + s_t × p̃
    by = s1 + s5 * px - s3 * pz
    bz = s2 + s3 * py - s4 * px
    bn = bx * nx + by * ny + bz * nz
    bt = torch.sqrt((bx * bx + by * by + bz * bz - bn * bn).clamp_min(0.0))
    return torch.relu(bn + mu * bt) * scale, (bx, by, bz), bn, bt


def _scan(w: torch.Tensor, q: torch.Tensor, scale: torch.Tensor, dirs: torch.Tensor, mu: float) -> torch.Tensor:
    """h (B, K) over a shared direction set dirs (K, 6): two matrix products and a few (B, N, K) element-wise ops."""
    bn = torch.einsum("bnj,kj->bnk", w, dirs)
    ss = (dirs[:, :, None] * dirs[:, None, :]).flatten(1)           # (K, 36)
    bb = torch.einsum("bnm,km->bnk", q.flatten(-2), ss)
    phi = torch.relu(bn + mu * torch.sqrt((bb - bn * bn).clamp_min(0.0))) * scale[..., None]
    return phi.max(dim=1).values


def _refine(pt: torch.Tensor, n: torch.Tensor, scale: torch.Tensor, s: torch.Tensor, mu: float,
            steps: int, step0: float, decay: float, temperature: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Descent of h on the unit sphere from s (B, R, 6), softmax-smoothed subgradients; returns the best (h, s) seen.

    ∇_s φ_i = M_iᵀ g_i = [g_i; p̃_i × g_i] with g_i = n_i + μ b_t/|b_t|, p̃ = (p − c)/ρ. The contacts are weighted by
    softmax(φ_i / (τ h)) (τ = ``temperature``·decay^k shrinks toward the arg-max subgradient), which moves toward the
    kink where several contacts are active instead of zig-zagging around it; steps are normalised to
    ``step0``·decay^k rad.
    """
    pc = tuple(pt[:, None, :, k] for k in range(3))
    nc = tuple(n[:, None, :, k] for k in range(3))
    sc = scale[:, None, :]
    phi, b, bn, bt = _phi_fast(pc, nc, sc, s, mu)
    h = phi.max(-1).values                                          # (B, R)
    best_h, best_s = h, s
    angle, tau = step0, temperature
    for _ in range(steps):
        w = torch.softmax((phi - h[..., None]) / (tau * h[..., None]).clamp_min(1e-12), dim=-1) * sc * (phi > 0)
        inv_bt = mu / bt.clamp_min(1e-12)
        g3 = [nk + inv_bt * (bk - bn * nk) for bk, nk in zip(b, nc, strict=True)]   # 3 × (B, R, N)
        gf = [(w * gk).sum(-1) for gk in g3]
        px, py, pz = pc
        gt = [(w * (py * g3[2] - pz * g3[1])).sum(-1), (w * (pz * g3[0] - px * g3[2])).sum(-1),
              (w * (px * g3[1] - py * g3[0])).sum(-1)]
        g = torch.stack(gf + gt, -1)                                # (B, R, 6)
        g = g - (g * s).sum(-1, keepdim=True) * s                   # tangent to the sphere
        s = s - angle * g / g.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        s = s / s.norm(dim=-1, keepdim=True)
        angle *= decay
        tau *= decay
        phi, b, bn, bt = _phi_fast(pc, nc, sc, s, mu)
        h = phi.max(-1).values
        better = h < best_h
        best_h = torch.where(better, h, best_h)
        best_s = torch.where(better[..., None], s, best_s)
    return best_h, best_s


def generalized_q1(points: torch.Tensor, normals: torch.Tensor, distances: torch.Tensor, mu: float = 0.7,
                   alpha: float = 100.0, torque_scale: float | torch.Tensor = 1.0, center: torch.Tensor | None = None,
                   num_directions: int = 128, refine_top: int = 6, refine_steps: int = 20,
                   refine_step0: float = 0.5, refine_decay: float = 0.85, refine_temperature: float = 0.2
                   ) -> torch.Tensor:
    """Generalized Q1 (B,) ≥ 0 of candidate points (B, N, 3) m with inward normals (B, N, 3) and distances (B, N) m.

    mu: friction coefficient. alpha: 1/m. torque_scale: ρ in m (scalar or (B,)), torques about ``center`` ((3,) or
    (B, 3) m; default the origin of ``points``). num_directions: size of the fixed direction set (≥ 12);
    refine_top: how many of the best directions are refined; refine_steps: descent steps each (softmax-smoothed
    subgradient, temperature ``refine_temperature`` relative to h), first step ``refine_step0`` rad, step and
    temperature shrinking by ``refine_decay`` per step. The result is an upper bound of the exact minimum that
    tightens with more directions/steps; differentiable w.r.t. points, normals and distances (not w.r.t. ρ or c).
    """
    check_shape("points", points, ("B", "N", 3))
    check_shape("normals", normals, tuple(points.shape))
    check_shape("distances", distances, tuple(points.shape[:2]))
    if points.shape[1] == 0:                                        # no contacts: the wrench set is {0}
        return (points.sum(dim=(1, 2)) + normals.sum(dim=(1, 2)) + distances.sum(dim=1)) * 0.0
    n = normals / normals.norm(dim=-1, keepdim=True)
    scale = torch.exp(-alpha * distances.abs())
    maps = wrench_maps(points, torque_scale, center)
    with torch.no_grad():
        sc0 = scale.detach()
        w0, q0 = _quadratic_forms(maps.detach(), n.detach())
        dirs = direction_set(num_directions, points.device, points.dtype)
        h = _scan(w0, q0, sc0, dirs, mu)                            # (B, K)
        top = max(1, min(refine_top, num_directions))
        h_top, idx = h.topk(top, dim=1, largest=False)
        s = dirs[idx]                                               # (B, top, 6)
        if refine_steps > 0:
            pt = points.detach() if center is None else points.detach() - center.reshape(-1, 1, 3)
            pt = pt / torch.as_tensor(torque_scale, dtype=pt.dtype, device=pt.device).reshape(-1, 1, 1)
            h_top, s = _refine(pt, n.detach(), sc0, s, mu, refine_steps, refine_step0, refine_decay,
                               refine_temperature)
        best = h_top.argmin(dim=1)
        s_best = s[torch.arange(len(s), device=s.device), best]     # (B, 6)
    phi, _ = _phi(maps, n, scale, s_best[:, None, :], mu)           # with autograd, (B, 1, N)
    return phi.max(-1).values[:, 0]
