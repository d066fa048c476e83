"""Slow cvxpy references for generalized Q1 (tests and benchmarks only; cvxpy/cvxpylayers are imported lazily).

The generalized wrench set (losses/q1.py) is W = {Σ_i G_i f_i : ‖f_i − (f_i·n_i) n_i‖ ≤ μ f_i·n_i,
Σ_i e^{α|d_i|} f_i·n_i ≤ 1}. Its support function h(s) = max_{w ∈ W} s·w is one SOCP per direction s, written here
directly in the contact forces f_i (independent of the closed form used by ``support_function``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def support_function_socp(points: np.ndarray, normals: np.ndarray, distances: np.ndarray,
                          directions: np.ndarray, mu: float = 0.7, alpha: float = 100.0, torque_scale: float = 1.0,
                          center: np.ndarray | None = None, tol: float = 1e-10) -> np.ndarray:
    """h(s) for several independent cases at once, by cvxpy + Clarabel.

    points/normals (C, N, 3), distances (C, N), directions (C, 6): one direction per case. The C cases share one
    cvxpy problem (a sum of independent objectives, each maximised separately). Returns (C,).
    """
    import cvxpy as cp  # optional dependency (the `reference` extra)

    p = np.asarray(points, dtype=float)
    n = np.asarray(normals, dtype=float)
    n = n / np.linalg.norm(n, axis=-1, keepdims=True)
    if center is not None:
        p = p - np.asarray(center, dtype=float)
    p = p / torque_scale
    s = np.asarray(directions, dtype=float)
    cases, count = p.shape[:2]
    rows = cases * count
    nn = n.reshape(rows, 3)
    f = cp.Variable((rows, 3))
    normal_part = cp.sum(cp.multiply(f, nn), axis=1)                          # (C·N,) f_i·n_i
    tangential = f - cp.multiply(cp.reshape(normal_part, (rows, 1), order="C"), nn)
    budget = sp.csr_matrix((np.exp(alpha * np.abs(np.asarray(distances, dtype=float))).reshape(-1),
                            (np.repeat(np.arange(cases), count), np.arange(rows))), shape=(cases, rows))
    # s·Σ G_i f_i = Σ_i f_i·(s_f + s_t × p_i)
    b = (s[:, None, :3] + np.cross(s[:, None, 3:], p)).reshape(rows, 3)
    problem = cp.Problem(cp.Maximize(cp.sum(cp.multiply(f, b))),
                         [cp.SOC(mu * normal_part, tangential, axis=1), budget @ normal_part <= 1])
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol)
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"support_function_socp: solver status {problem.status}")
    return (f.value * b).sum(axis=1).reshape(cases, count).sum(axis=1)


def support_layer(num_contacts: int, mu: float = 0.7):
    """A cvxpylayers layer computing h(s) for a batch of grasps and one direction each (for timing the cvxpy path).

    Parameters per grasp: u (N,) = b_i·n_i, v (N, 2) = tangential components of b_i = G_iᵀ s in a tangent basis,
    c (N,) = e^{α|d_i|}. Variables: normal forces a (N,) ≥ 0 and tangential forces t (N, 2) with ‖t_i‖ ≤ μ a_i,
    Σ c_i a_i ≤ 1; objective max Σ u_i a_i + v_i·t_i (DPP). Returns (layer, parameter list).
    """
    import cvxpy as cp  # optional dependencies (the `reference` extra)
    from cvxpylayers.torch import CvxpyLayer

    u = cp.Parameter(num_contacts)
    v = cp.Parameter((num_contacts, 2))
    c = cp.Parameter(num_contacts, nonneg=True)
    a = cp.Variable(num_contacts)
    t = cp.Variable((num_contacts, 2))
    constraints = [cp.SOC(mu * a, t, axis=1), c @ a <= 1]
    problem = cp.Problem(cp.Maximize(u @ a + cp.sum(cp.multiply(v, t))), constraints)
    return CvxpyLayer(problem, parameters=[u, v, c], variables=[a, t]), (u, v, c)
