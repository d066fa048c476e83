"""Classical Ferrari–Canny Q1 (L1 grasp wrench space) with a qhull convex hull: the evaluation reference.

Conventions: contacts exactly on the surface; ``normals`` are **inward** unit normals (the direction in which the finger
pushes the object); each Coulomb cone (friction μ) is discretised into ``num_edges`` edges with unit normal force,
f_ij = n_i + μ (cos θ_j t1_i + sin θ_j t2_i); the wrench of an edge is [f; (p − center) × f / torque_scale] with p in m
and
torque_scale in m (so both halves are in N). Q1 = distance from the origin to the nearest facet of the hull of all edge
wrenches; 0 if the origin is not strictly inside or the hull is degenerate (rank < 6).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from diffgrasp._checks import check_finite, check_shape


def tangent_basis(normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit tangents (N, 3) each, orthogonal to unit ``normals`` (N, 3) and to each other (deterministic)."""
    n = np.asarray(normals, dtype=float)
    helper = np.where(np.abs(n[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    t1 = np.cross(n, helper)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    t2 = np.cross(n, t1)
    return t1, t2


def contact_wrenches(points: np.ndarray, normals: np.ndarray, mu: float = 0.7, num_edges: int = 8,
                     torque_scale: float = 1.0, center: np.ndarray | None = None) -> np.ndarray:
    """Edge wrenches (N·E, 6) of discretised friction cones (module docstring); μ = 0: one wrench per contact."""
    p = np.asarray(points, dtype=float)
    n = np.asarray(normals, dtype=float)
    n = n / np.linalg.norm(n, axis=1, keepdims=True)
    if center is not None:
        p = p - np.asarray(center, dtype=float)[None]
    if mu == 0:
        forces = n[:, None, :]
    else:
        t1, t2 = tangent_basis(n)
        theta = 2 * np.pi * np.arange(num_edges) / num_edges
        cos, sin = np.cos(theta)[None, :, None], np.sin(theta)[None, :, None]
        forces = n[:, None] + mu * (cos * t1[:, None] + sin * t2[:, None])
    torques = np.cross(p[:, None, :], forces) / torque_scale
    return np.concatenate([forces, torques], axis=-1).reshape(-1, 6)


def q1_from_wrenches(wrenches: np.ndarray) -> float:
    """Distance from the origin to the nearest facet of conv(wrenches (M, 6)); 0 if outside or degenerate."""
    w = np.asarray(wrenches, dtype=float)
    if len(w) < 7 or np.linalg.matrix_rank(w, tol=1e-10 * max(1.0, np.abs(w).max())) < 6:
        return 0.0
    try:
        hull = ConvexHull(w)
    except QhullError:
        return 0.0
    offsets = hull.equations[:, -1]          # facet: normal · x + offset ≤ 0 inside, unit normal
    worst = float(offsets.max())
    return max(0.0, -worst)


def exact_q1(points: np.ndarray, normals: np.ndarray, mu: float = 0.7, num_edges: int = 8,
             torque_scale: float = 1.0, center: np.ndarray | None = None) -> float:
    """Ferrari–Canny Q1 of contacts points (N, 3) m, inward normals (N, 3); torques about ``center`` (default origin).

    torque_scale: m (divides torques). Returns a float ≥ 0 (0 = not force closure). Accepts numpy arrays or tensors.
    """
    points = np.asarray(points.detach().cpu() if hasattr(points, "detach") else points, dtype=float)
    normals = np.asarray(normals.detach().cpu() if hasattr(normals, "detach") else normals, dtype=float)
    check_shape("points", points, ("N", 3))
    check_shape("normals", normals, (len(points), 3))
    check_finite("points", points)
    check_finite("normals", normals)
    if not (mu >= 0 and num_edges >= 3 and torque_scale > 0):
        raise ValueError(f"exact_q1: need mu >= 0, num_edges >= 3, torque_scale > 0; "
                         f"got {mu}, {num_edges}, {torque_scale}")
    if len(points) == 0:
        return 0.0
    return q1_from_wrenches(contact_wrenches(points, normals, mu, num_edges, torque_scale, center))
