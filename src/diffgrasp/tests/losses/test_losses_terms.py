"""Penetration, self-collision, closeness and joint-limit terms: values vs hand-computed/brute force, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffgrasp.geometry import ObjectModel
from diffgrasp.losses import (
    capsule_signed_distance,
    closeness,
    hand_in_object_penetration,
    joint_limit_violation,
    object_in_hand_penetration,
    segment_segment_distance,
    self_collision,
    sparse_hand_in_object_penetration,
)
from diffgrasp.losses.penetration import dense_object_in_hand_penetration

f64 = torch.float64


def brute_segment_distance(p1, q1, p2, q2, samples: int = 20001) -> float:
    t = np.linspace(0, 1, samples)[:, None]
    a = p1 + t * (q1 - p1)
    b = p2 + t * (q2 - p2)
    # exact in the second segment for each sample of the first (projection), then refine the min by sampling
    d2 = q2 - p2
    denom = max(float(d2 @ d2), 1e-300)
    u = np.clip(((a - p2) @ d2) / denom, 0, 1)[:, None]
    best = np.linalg.norm(a - (p2 + u * d2), axis=1).min()
    d1 = q1 - p1
    denom = max(float(d1 @ d1), 1e-300)
    v = np.clip(((b - p1) @ d1) / denom, 0, 1)[:, None]
    return float(min(best, np.linalg.norm(b - (p1 + v * d1), axis=1).min()))


def test_segment_distance_vs_brute_force():
    rng = np.random.default_rng(0)
    p1, q1, p2, q2 = (rng.normal(size=(300, 3)) for _ in range(4))
    q2[:30] = p2[:30]                                   # point vs segment
    q1[30:60] = p1[30:60]
    q2[30:60] = p2[30:60]                               # point vs point
    q2[60:90] = p2[60:90] + (q1[60:90] - p1[60:90])     # parallel segments
    ours = segment_segment_distance(*(torch.as_tensor(x) for x in (p1, q1, p2, q2))).numpy()
    brute = np.array([brute_segment_distance(*(x[i] for x in (p1, q1, p2, q2))) for i in range(300)])
    assert (ours <= brute + 1e-12).all()
    np.testing.assert_allclose(ours, brute, atol=2e-6)   # sampling resolution of the brute force


def test_segment_distance_gradcheck():
    rng = np.random.default_rng(1)
    args = tuple(torch.as_tensor(rng.normal(size=(20, 3)), dtype=f64).requires_grad_(True) for _ in range(4))
    assert torch.autograd.gradcheck(segment_segment_distance, args, eps=1e-7, atol=1e-6)


def test_self_collision_values_and_gradient():
    # capsule 0 along x at z = 0, capsule 1 along y at z = 0.015, capsule 2 a sphere far away
    a = torch.tensor([[[-0.02, 0, 0], [0, -0.02, 0.015], [1, 1, 1]]], dtype=f64)
    b = torch.tensor([[[0.02, 0, 0], [0, 0.02, 0.015], [1, 1, 1]]], dtype=f64)
    radius = torch.tensor([0.01, 0.008, 0.01], dtype=f64)
    pairs = torch.tensor([[0, 1], [0, 2], [1, 2]])
    value = self_collision(a, b, radius, pairs)
    assert value.shape == (1,)
    assert value.item() == pytest.approx(0.018 - 0.015, abs=1e-12)
    a2 = a.clone()
    a2[0, 1, 2] = b[0, 1, 2] = 0.05                     # lift capsule 1 clear
    assert self_collision(a2, b, radius, pairs).item() == 0.0
    a = a.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: self_collision(x, b, radius, pairs), (a,), eps=1e-7, atol=1e-6)


def test_object_in_hand_penetration():
    a = torch.tensor([[[0.0, 0, 0]], [[0.0, 0, 0.005]]], dtype=f64)      # two grasps, one capsule along z
    b = torch.tensor([[[0.0, 0, 0.04]], [[0.0, 0, 0.045]]], dtype=f64)
    radius = torch.tensor([0.01], dtype=f64)
    points = torch.tensor([[0.004, 0, 0.02], [0, 0.02, 0.02], [0, 0, -0.006]], dtype=f64)
    value = object_in_hand_penetration(points, a, b, radius)
    assert value[0].item() == pytest.approx(0.006 + 0.0 + 0.004, abs=1e-12)
    assert value[1].item() == pytest.approx(0.006 + 0.0 + 0.0, abs=1e-12)
    sd = capsule_signed_distance(points[None].expand(2, -1, -1), a, b, radius)
    assert sd.shape == (2, 3, 1) and sd[0, 1, 0].item() == pytest.approx(0.01)
    a = a.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: object_in_hand_penetration(points, x, b, radius), (a,),
                                    eps=1e-7, atol=1e-6)


def _random_hand_like_capsules(rng, batch: int = 6, count: int = 9):
    a = torch.as_tensor(rng.uniform(-0.05, 0.05, size=(batch, count, 3)))
    b = a + torch.as_tensor(rng.normal(scale=0.02, size=(batch, count, 3)))
    b[:, 0] = a[:, 0]                                                   # a sphere among them
    radius = torch.as_tensor(rng.uniform(0.005, 0.015, size=count))
    return a, b, radius


def test_object_in_hand_penetration_matches_the_dense_reference_in_value_and_gradient():
    rng = np.random.default_rng(0)
    a, b, radius = _random_hand_like_capsules(rng)
    points = torch.as_tensor(rng.uniform(-0.06, 0.06, size=(300, 3)))
    a.requires_grad_(True)
    sparse = object_in_hand_penetration(points, a, b, radius)
    dense = dense_object_in_hand_penetration(points, a, b, radius)
    assert (dense > 0).sum() >= 4 and torch.allclose(sparse, dense, atol=1e-14)
    (g_sparse,) = torch.autograd.grad(sparse.sum(), a)
    (g_dense,) = torch.autograd.grad(dense.sum(), a)
    assert g_dense.abs().max() > 1 and torch.allclose(g_sparse, g_dense, atol=1e-10)
    assert torch.autograd.gradcheck(lambda x: object_in_hand_penetration(points[:40], x, b, radius), (a,),
                                    eps=1e-7, atol=1e-6)
    none_inside = object_in_hand_penetration(points + 1.0, a, b, radius)  # far away: exactly zero, still (B,)
    assert none_inside.shape == (6,) and (none_inside == 0).all()


def test_sparse_hand_in_object_penetration_matches_the_dense_sum(shared_objects):
    obj = ObjectModel.from_file(shared_objects / "009_gelatin_box.obj")
    rng = np.random.default_rng(1)
    surface = obj.surface_samples(200, seed=0)
    points = torch.as_tensor(surface[None] + rng.normal(scale=0.004, size=(3, 200, 3))).requires_grad_(True)
    distance = lambda p: obj.signed_distance(p)[0]  # noqa: E731
    sparse = sparse_hand_in_object_penetration(points, distance)
    dense = hand_in_object_penetration(distance(points))
    assert (dense > 0).all() and torch.allclose(sparse, dense, atol=1e-14)
    (g_sparse,) = torch.autograd.grad(sparse.sum(), points)
    (g_dense,) = torch.autograd.grad(dense.sum(), points)
    assert torch.allclose(g_sparse, g_dense, atol=1e-12)
    x = points[:1, :20].detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: sparse_hand_in_object_penetration(p, distance), (x,),
                                    eps=1e-7, atol=1e-5)


def test_hand_penetration_grows_with_depth(shared_objects):
    obj = ObjectModel.from_file(shared_objects / "009_gelatin_box.obj")
    surface = torch.as_tensor(obj.surface_samples(64, seed=0))
    _, normal = obj.signed_distance(surface)
    depths = torch.linspace(-0.01, 0.01, 9, dtype=f64)                # negative = outside
    points = surface[None] - depths[:, None, None] * normal[None]
    d, _ = obj.signed_distance(points)
    pen = hand_in_object_penetration(d)
    assert (pen[:5] < 1e-9).all()                                       # outside or on the surface
    assert (pen[5:] > pen[4:-1]).all()                                  # strictly growing with depth
    assert 0.3 < pen[-1].item() <= 64 * 0.01 + 1e-9       # near edges another face can be closer than 1 cm
    x = points[6:7].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: hand_in_object_penetration(obj.signed_distance(p)[0]), (x,),
                                    eps=1e-7, atol=1e-6)


def test_closeness():
    d = torch.tensor([[0.05, -0.001, 0.002, 0.3, 0.01], [0.1, 0.2, 0.3, 0.4, 0.5]], dtype=f64)
    value = closeness(d, k=2)
    assert value[0].item() == pytest.approx(0.001**2 + 0.002**2)
    assert value[1].item() == pytest.approx(0.1**2 + 0.2**2)
    assert closeness(d, k=10)[1].item() == pytest.approx(float((d[1] ** 2).sum()))
    x = d.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: closeness(t, 3), (x,), eps=1e-7, atol=1e-6)
    with pytest.raises(ValueError, match="k: expected at least 1"):
        closeness(d, k=0)


def test_joint_limits():
    lower = torch.tensor([-0.3, 0.0, 0.0], dtype=f64)
    upper = torch.tensor([0.3, 1.5, 1.5], dtype=f64)
    q = torch.tensor([[0.0, 0.5, 1.0], [0.5, -0.2, 1.6]], dtype=f64)
    value = joint_limit_violation(q, lower, upper)
    torch.testing.assert_close(value, torch.tensor([0.0, 0.2 + 0.2 + 0.1], dtype=f64))
    x = q.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: joint_limit_violation(t, lower, upper), (x,), eps=1e-7, atol=1e-6)
    with pytest.raises(ValueError, match=r"lower: expected shape \(2\), got \(3,\)"):
        joint_limit_violation(q[:, :2], lower, upper)
