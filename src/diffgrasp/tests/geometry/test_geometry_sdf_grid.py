"""SDFGrid (fast path) against the exact ObjectModel signed distance (reference)."""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from diffgrasp.geometry import ObjectModel
from diffgrasp.geometry.sdf_grid import SDFGrid


def _sphere() -> ObjectModel:
    return ObjectModel(trimesh.creation.icosphere(subdivisions=4, radius=0.04).apply_translation([0.1, 0, 0.02]),
                       name="sphere")


def test_grid_matches_exact_signed_distance_near_the_surface():
    obj = _sphere()
    grid = SDFGrid(obj, voxel_size=0.002)
    rng = np.random.default_rng(0)
    surface = obj.surface_samples(3000, seed=1)
    pts = torch.as_tensor(surface + rng.normal(scale=0.008, size=surface.shape))[None]
    d_exact, n_exact = obj.signed_distance(pts)
    d, n = grid.signed_distance(pts)
    err = (d - d_exact).abs()
    near = d_exact.abs() < 0.004                      # the band where penetration and contact are decided
    assert near.sum() > 1000
    assert err[near].max() < 3e-4 and err[near].mean() < 5e-5
    assert err.max() < 2e-3                           # farther out a coarse sample set answers (see sdf_grid.py)
    assert (torch.sign(d) == torch.sign(d_exact))[d_exact.abs() > 5e-4].all()
    cos = (n * n_exact).sum(-1)
    assert cos.median() > 0.999 and cos.min() > 0.95


def test_outside_the_box_distance_keeps_growing_and_points_back():
    obj = _sphere()
    grid = SDFGrid(obj, voxel_size=0.003, margin=0.01)
    far = torch.tensor([[[0.1, 0.0, 0.3], [0.1, 0.0, 0.5]]], dtype=torch.float64)
    d, n = grid.signed_distance(far)
    assert d[0, 1] > d[0, 0] > 0.2
    assert (n[0, :, 2] > 0.9).all()  # outward = away from the object, +z here


def test_grid_is_differentiable_in_float64():
    obj = _sphere()
    grid = SDFGrid(obj, voxel_size=0.002)
    pts = torch.as_tensor(obj.surface_samples(5, seed=2) * 1.0 + 0.003, dtype=torch.float64)[None]
    pts.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: grid.signed_distance(p)[0], (pts,), eps=1e-6, atol=1e-5)
    d, n = grid.signed_distance(pts)
    (g,) = torch.autograd.grad(d.sum(), pts)
    assert torch.allclose(g / g.norm(dim=-1, keepdim=True), n, atol=0.05)  # ∂d/∂x agrees with the normal


def test_distance_only_call_equals_signed_distance_inside_and_outside_the_box():
    obj = _sphere()
    grid = SDFGrid(obj, voxel_size=0.003, margin=0.01)
    rng = np.random.default_rng(3)
    pts = torch.as_tensor(rng.uniform([0.0, -0.1, -0.08], [0.2, 0.1, 0.12], size=(2, 500, 3)))
    pts.requires_grad_(True)
    d_call = grid(pts)
    d_full, _ = grid.signed_distance(pts)
    assert torch.allclose(d_call, d_full, atol=1e-12)
    (g_call,) = torch.autograd.grad(d_call.sum(), pts)
    (g_full,) = torch.autograd.grad(d_full.sum(), pts)
    assert torch.allclose(g_call, g_full, atol=1e-9)


def test_no_points_give_empty_answers():
    grid = SDFGrid(_sphere(), voxel_size=0.004)
    none = torch.zeros(1, 0, 3, dtype=torch.float64)
    d, n = grid.signed_distance(none)
    assert d.shape == (1, 0) and n.shape == (1, 0, 3) and grid(none).shape == (1, 0)
