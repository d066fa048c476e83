"""Generalized Q1: support function vs a cvxpy SOCP, vs exact (qhull) Q1 at d = 0, monotonicity, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from diffgrasp.geometry import ObjectModel
from diffgrasp.losses import exact_q1, generalized_q1, support_function
from diffgrasp.losses.q1_reference import support_function_socp

cvxpy = pytest.importorskip("cvxpy")


def random_contact_sets(mesh: trimesh.Trimesh, count: int, n_range: tuple[int, int], rng: np.random.Generator):
    """Random contact sets on a mesh surface: points relative to the COM, inward normals, torque scale ρ."""
    com = mesh.center_mass
    rho = float(np.linalg.norm(mesh.vertices - com, axis=1).max())
    for _ in range(count):
        n = int(rng.integers(n_range[0], n_range[1] + 1))
        points, faces = trimesh.sample.sample_surface(mesh, n, seed=int(rng.integers(2**31)))
        yield points - com, -mesh.face_normals[faces], rho


def shapes(shared_objects) -> list[trimesh.Trimesh]:
    return [trimesh.creation.icosphere(subdivisions=4, radius=0.04), trimesh.creation.box(extents=(0.06, 0.1, 0.04)),
            ObjectModel.from_file(shared_objects / "012_strawberry.obj").mesh]


def q1_one(points, normals, rho, **kw) -> float:
    p = torch.as_tensor(points)[None]
    return float(generalized_q1(p, torch.as_tensor(normals)[None], torch.zeros(p.shape[:2], dtype=p.dtype),
                                torque_scale=rho, **kw))


def test_support_function_matches_socp():
    """216 random cases (3–20 contacts, distances −2..3 cm, random directions): relative error ≤ 1e-5."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for n in range(3, 21):
        cases = 12
        p = rng.normal(size=(cases, n, 3)) * 0.05
        normals = rng.normal(size=(cases, n, 3))
        d = rng.uniform(-0.02, 0.03, size=(cases, n))
        s = rng.normal(size=(cases, 6))
        center = rng.normal(size=3) * 0.01
        reference = support_function_socp(p, normals, d, s, mu=0.6, alpha=80.0, torque_scale=0.07, center=center)
        ours = support_function(torch.as_tensor(p), torch.as_tensor(normals), torch.as_tensor(d),
                                torch.as_tensor(s)[:, None, :], mu=0.6, alpha=80.0, torque_scale=0.07,
                                center=torch.as_tensor(center))[:, 0].numpy()
        assert (reference > 0).all()
        worst = max(worst, float(np.max(np.abs(ours - reference) / reference)))
    assert worst <= 1e-5


def _compare(shared_objects, per_shape: int, n_range: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(1)
    rel = []
    for mesh in shapes(shared_objects):
        for points, normals, rho in random_contact_sets(mesh, per_shape, n_range, rng):
            exact = exact_q1(points, normals, mu=0.7, num_edges=8, torque_scale=rho)
            ours = q1_one(points, normals, rho)
            # upper bound of the exact-cone Q1, which contains the 8-edge cones: never below exact_q1
            assert ours >= exact - 1e-9
            if exact > 1e-6:
                rel.append((ours - exact) / exact)
    return np.asarray(rel)


def test_close_to_exact_q1(shared_objects):
    rel = _compare(shared_objects, 15, (3, 20))
    assert len(rel) >= 30
    assert np.median(rel) <= 0.10 and np.percentile(rel, 90) <= 0.3


@pytest.mark.slow
def test_close_to_exact_q1_distribution(shared_objects, capsys):
    """≥ 200 contact sets (3–20 contacts; sphere, box, YCB strawberry): the distribution quoted in the issue note."""
    rel = _compare(shared_objects, 75, (3, 20))
    with capsys.disabled():
        print(f"\ngeneralized vs exact Q1 (8 edges), {len(rel)} force-closure sets: median {np.median(rel):.4f}, "
              f"p90 {np.percentile(rel, 90):.4f}, max {rel.max():.4f}")
    assert len(rel) >= 200
    assert np.median(rel) <= 0.10


def test_frictionless_pinch_pairs_close_to_hand_value():
    """μ = 0 (a polytope: the hardest case for the subgradient refinement): default settings stay an upper bound
    within 60 %, a larger direction set with longer refinement comes within 6 % of the hand-computable value."""
    for seed in (3, 4, 5):
        rng = np.random.default_rng(seed)
        p = rng.uniform(-0.05, 0.05, size=(6, 3))
        n = rng.normal(size=(6, 3))
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        points, normals = np.concatenate([p, p + 0.04 * n]), np.concatenate([n, -n])
        exact = exact_q1(points, normals, mu=0.0, torque_scale=0.05)
        assert exact > 0
        assert exact - 1e-9 <= q1_one(points, normals, 0.05, mu=0.0) <= 1.6 * exact
        careful = q1_one(points, normals, 0.05, mu=0.0, num_directions=512, refine_steps=60, refine_top=16,
                         refine_decay=0.93)
        assert exact - 1e-9 <= careful <= 1.06 * exact


def test_opposed_pair_is_zero():
    points = np.array([[0.04, 0, 0], [-0.04, 0, 0]])
    normals = np.array([[-1.0, 0, 0], [1.0, 0, 0]])
    assert q1_one(points, normals, 0.04) == pytest.approx(0.0, abs=1e-12)


def test_moving_a_contact_away_lowers_q1(shared_objects):
    obj = ObjectModel.from_file(shared_objects / "012_strawberry.obj")
    tetra = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
    points = torch.as_tensor(obj.center_of_mass + 0.1 * tetra)
    # project onto the surface, then push contact 0 outward along the normal by 0..3 cm
    dist, normal = obj.signed_distance(points)
    surface = points - dist[:, None] * normal
    offsets = torch.linspace(0.0, 0.03, 7, dtype=torch.float64)
    batch = surface[None].repeat(len(offsets), 1, 1)
    batch[:, 0] = surface[0] + offsets[:, None] * normal[0]
    d_b, n_b = obj.signed_distance(batch)
    torch.testing.assert_close(d_b[:, 0], offsets, atol=1e-9, rtol=0)
    kw = dict(torque_scale=obj.characteristic_length, center=torch.as_tensor(obj.center_of_mass))
    # fixed direction set only: h(s) falls pointwise as e^{-α d_0} falls, so the minimum cannot rise
    fixed = generalized_q1(batch, -n_b, d_b, refine_steps=0, **kw)
    assert fixed[0] > 0.01 and (fixed[1:] <= fixed[:-1] + 1e-12).all() and fixed[-1] < 0.97 * fixed[0]
    refined = generalized_q1(batch, -n_b, d_b, **kw)
    assert (refined <= fixed + 1e-12).all()                              # refinement only tightens the bound
    assert (refined[1:] <= refined[:-1] * 1.05).all()                  # refinement noise of the upper bound
    assert refined[-1] < 0.97 * refined[0]
    # the three other contacts still hold the object: Q1 settles where contact 0 is no longer active
    # all contacts 1 cm away: every cone shrinks by e^{-α·0.01} = e^{-1}, and so does Q1 (1-homogeneous)
    far = generalized_q1(batch[:1], -n_b[:1], torch.full_like(d_b[:1], 0.01), refine_steps=0, **kw)
    assert far.item() == pytest.approx(fixed[0].item() * np.exp(-1.0), rel=1e-9)


def test_batch_equals_single_and_gradients_flow():
    torch.manual_seed(0)
    points = torch.randn(5, 12, 3, dtype=torch.float64) * 0.05
    normals = -points + 0.01 * torch.randn_like(points)
    d = torch.rand(5, 12, dtype=torch.float64) * 0.01
    batched = generalized_q1(points, normals, d, torque_scale=0.05)
    single = torch.stack([generalized_q1(points[i:i + 1], normals[i:i + 1], d[i:i + 1], torque_scale=0.05)[0]
                          for i in range(5)])
    torch.testing.assert_close(batched, single)
    x = points.clone().requires_grad_(True)
    generalized_q1(x, normals, d, torque_scale=0.05).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    q32 = generalized_q1(points.float(), normals.float(), d.float(), torque_scale=0.05)
    assert q32.dtype == torch.float32
    torch.testing.assert_close(q32.double(), batched, atol=1e-4, rtol=1e-3)


def test_gradcheck_float64():
    """With refinement off the active direction is locally fixed, so autograd must equal finite differences."""
    torch.manual_seed(1)
    points = (torch.randn(3, 8, 3, dtype=torch.float64) * 0.05).requires_grad_(True)
    normals = (-points.detach() + 0.01 * torch.randn(3, 8, 3, dtype=torch.float64)).requires_grad_(True)
    d = (0.002 + torch.rand(3, 8, dtype=torch.float64) * 0.01).requires_grad_(True)
    center = torch.tensor([0.001, -0.002, 0.003], dtype=torch.float64)

    def fn(p, n, dist):
        return generalized_q1(p, n, dist, torque_scale=0.05, center=center, refine_steps=0)

    assert torch.autograd.gradcheck(fn, (points, normals, d), eps=1e-7, atol=1e-6)


def test_no_contacts_is_zero():
    q = generalized_q1(torch.zeros(3, 0, 3), torch.zeros(3, 0, 3), torch.zeros(3, 0))
    assert q.shape == (3,) and (q == 0).all()


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"normals: expected shape"):
        generalized_q1(torch.zeros(2, 5, 3), torch.zeros(2, 4, 3), torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"distances: expected shape"):
        generalized_q1(torch.zeros(2, 5, 3), torch.ones(2, 5, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="at least 12"):
        generalized_q1(torch.zeros(2, 5, 3), torch.ones(2, 5, 3), torch.zeros(2, 5), num_directions=6)
