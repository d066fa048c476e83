"""Exact (qhull) Ferrari–Canny Q1: hand-computable cases to 1e-9, degenerate cases, invariances, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from diffgrasp.losses import contact_wrenches, exact_q1


def pinch_pairs(rng: np.random.Generator, pairs: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Frictionless antipodal pairs: (p, n) and (p + λ n, −n) give the wrenches ±[n; p × n]."""
    p = rng.uniform(-0.05, 0.05, size=(pairs, 3))
    n = rng.normal(size=(pairs, 3))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    lam = rng.uniform(0.02, 0.06, size=(pairs, 1))
    return np.concatenate([p, p + lam * n]), np.concatenate([n, -n])


def cross_polytope_q1(vectors: np.ndarray) -> float:
    """Inradius of conv{±v_k} for 6 independent v_k (columns of A): min over sign patterns ε of 1/‖A⁻ᵀ ε‖."""
    inv_t = np.linalg.inv(vectors.T).T   # A⁻ᵀ with A = vectors.T (columns v_k)
    return min(1.0 / np.linalg.norm(inv_t @ np.array(eps)) for eps in itertools.product((-1.0, 1.0), repeat=6))


@pytest.mark.parametrize("seed", range(5))
def test_frictionless_pinch_pairs_hand_computable(seed):
    rng = np.random.default_rng(seed)
    points, normals = pinch_pairs(rng)
    rho = 0.05
    v = np.concatenate([normals[:6], np.cross(points[:6], normals[:6]) / rho], axis=1)   # (6, 6) rows v_k
    expected = cross_polytope_q1(v)
    assert expected > 0
    assert exact_q1(points, normals, mu=0.0, torque_scale=rho) == pytest.approx(expected, abs=1e-9)


def test_opposed_contacts_on_sphere_are_degenerate():
    points = np.array([[0.04, 0, 0], [-0.04, 0, 0]])
    normals = np.array([[-1.0, 0, 0], [1.0, 0, 0]])
    # all wrenches have zero torque about the x axis: the hull is flat in 6-D, Q1 = 0
    assert np.allclose(contact_wrenches(points, normals)[:, 3], 0)
    assert exact_q1(points, normals, mu=0.7) == 0.0


def test_one_sided_contacts_are_not_force_closure():
    rng = np.random.default_rng(0)
    points = rng.uniform(-0.05, 0.05, size=(10, 3))
    normals = np.tile([0.0, 0.0, 1.0], (10, 1)) + rng.normal(scale=0.05, size=(10, 3))
    assert exact_q1(points, normals, mu=0.3) == 0.0          # every force pushes up: origin outside


def test_sphere_grasp_positive_and_rotation_invariant():
    rng = np.random.default_rng(1)
    d = rng.normal(size=(8, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    points, normals = 0.04 * d, -d
    q = exact_q1(points, normals, mu=0.7, torque_scale=0.04)
    assert q > 0.05
    rot = Rotation.from_rotvec([0.3, -1.1, 0.7]).as_matrix()
    # the discretised cones' edges turn with the tangent basis, so with friction only approximately invariant ...
    assert exact_q1(points @ rot.T, normals @ rot.T, mu=0.7, torque_scale=0.04) == pytest.approx(q, rel=0.05)
    # ... and exactly without friction
    pp, nn = pinch_pairs(rng)
    q0 = exact_q1(pp, nn, mu=0.0, torque_scale=0.04)
    assert exact_q1(pp @ rot.T, nn @ rot.T, mu=0.0, torque_scale=0.04) == pytest.approx(q0, abs=1e-9)
    # torques about a centre: translating contacts and centre together changes nothing
    shift = np.array([0.1, -0.2, 0.05])
    assert exact_q1(points + shift, normals, mu=0.7, torque_scale=0.04, center=shift) == pytest.approx(q, abs=1e-9)
    # unit normal force: scaling the normals does not matter
    assert exact_q1(points, 3 * normals, mu=0.7, torque_scale=0.04) == pytest.approx(q, abs=1e-9)
    # more friction, larger cones, larger Q1; more edges, closer to the exact cone (from below)
    assert exact_q1(points, normals, mu=0.9, torque_scale=0.04) > q
    assert exact_q1(points, normals, mu=0.7, num_edges=16, torque_scale=0.04) > q
    # tensors accepted
    assert exact_q1(torch.as_tensor(points), torch.as_tensor(normals), torque_scale=0.04) == pytest.approx(q)


def test_bad_input():
    with pytest.raises(ValueError, match=r"points: expected shape \(N, 3\)"):
        exact_q1(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"normals: expected shape \(3, 3\)"):
        exact_q1(np.zeros((3, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        exact_q1(np.full((3, 3), np.nan), np.ones((3, 3)))
    with pytest.raises(ValueError, match="torque_scale > 0"):
        exact_q1(np.zeros((3, 3)), np.ones((3, 3)), torque_scale=0.0)
    assert exact_q1(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
