"""Object-centred network views of meshes and point clouds."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from diffgrasp.perception.views import render_object_views, view_poses


def test_view_poses_look_at_the_origin():
    poses = view_poses(5, distance=0.5)
    assert poses.shape == (5, 4, 4)
    for T in poses:
        np.testing.assert_allclose(np.linalg.norm(T[:3, 3]), 0.5)
        np.testing.assert_allclose(T[:3, 2], -T[:3, 3] / 0.5, atol=1e-12)
    np.testing.assert_allclose(poses[0][:3, 2], [0, 0, -1])


def test_box_views_have_the_expected_depth():
    box = trimesh.creation.box(extents=(0.1, 0.06, 0.04))
    box.apply_translation([1.0, 2.0, 3.0])            # views are centred: placement does not matter
    v = render_object_views(box, num_views=5, size=64)
    assert v.shape == (5, 64, 64) and v.dtype == np.float32
    top = v[0]
    np.testing.assert_allclose(top[top > 0], 0.5 - 0.02, atol=1e-5)     # top face 2 cm above the centre
    frac = (top > 0).mean()
    assert frac == pytest.approx(0.1 * 0.06 / 0.36 ** 2, rel=0.1)
    moved = box.copy()
    moved.apply_translation([-0.3, 0.1, 0.0])
    np.testing.assert_allclose(render_object_views(moved), v, atol=1e-5)


def test_point_cloud_views_match_mesh_views(shared_objects):
    mesh = trimesh.load(shared_objects / "057_racquetball.obj", force="mesh")
    pts = trimesh.sample.sample_surface(mesh, 200_000, seed=0)[0]
    vm = render_object_views(mesh, size=48, extent=0.1)
    vp = render_object_views(pts, size=48, extent=0.1, center=(mesh.vertices.min(0) + mesh.vertices.max(0)) / 2)
    both = (vm > 0) & (vp > 0)
    assert both.sum() > 0.8 * (vm > 0).sum()
    assert np.abs(vm - vp)[both].mean() < 0.002


def test_bad_geometry():
    with pytest.raises(ValueError, match="expected a mesh or"):
        render_object_views(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="num_views"):
        view_poses(0)
