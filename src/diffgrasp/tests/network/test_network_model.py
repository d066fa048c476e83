"""GraspNet: output shapes and conventions, joint limits, config validation, YAML mirror, views rendering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from diffgrasp.config import load_config, to_dict
from diffgrasp.hand import JointCoupling
from diffgrasp.network import GraspNet, NetworkConfig, render_views

REPO = Path(__file__).resolve().parents[4]


def test_yaml_mirrors_dataclass_defaults():
    assert to_dict(load_config(NetworkConfig, REPO / "config" / "network.yaml")) == to_dict(NetworkConfig())


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="backbone.*small_cnn"):
        NetworkConfig(backbone="vgg")
    with pytest.raises(ValueError, match="image_size"):
        NetworkConfig(image_size=8)


def test_outputs_shapes_limits_and_rotations():
    cfg = NetworkConfig(num_grasps=4)
    net = GraspNet(cfg)
    views = torch.zeros(3, 5, 64, 64)
    views[:, :, 20:40, 20:40] = 0.45 + 0.1 * torch.rand(3, 5, 20, 20)
    with torch.no_grad():
        for layer in net.head:  # large outputs push the sigmoid to its ends: limits must still hold
            if isinstance(layer, torch.nn.Linear):
                layer.weight.mul_(50.0)
        out = net(views)
    assert out.position.shape == (3, 4, 3) and out.rotation.shape == (3, 4, 3, 3)
    assert out.joints_reduced.shape == (3, 4, 18) and out.joints.shape == (3, 4, 22)
    assert torch.isfinite(out.joints).all() and torch.isfinite(out.position).all()
    coupling = JointCoupling(cfg.coupling_ratio)
    lo, hi = coupling.limits()
    assert (out.joints_reduced >= lo - 1e-6).all() and (out.joints_reduced <= hi + 1e-6).all()
    torch.testing.assert_close(out.joints, coupling.expand(out.joints_reduced.reshape(-1, 18)).reshape(3, 4, 22))
    rtr = out.rotation.transpose(-1, -2) @ out.rotation
    torch.testing.assert_close(rtr, torch.eye(3).expand_as(rtr), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(out.rotation), torch.ones(3, 4), atol=1e-5, rtol=0)
    # Different objects give different grasps (the views matter).
    assert not torch.allclose(out.position[0], out.position[1])


def test_gradients_reach_every_parameter():
    net = GraspNet(NetworkConfig(num_grasps=2))
    views = 0.45 + 0.1 * torch.rand(2, 5, 64, 64)
    out = net(views)
    (out.position.square().sum() + out.rotation6d.square().sum() + out.joints.sum()).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_wrong_view_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"views: expected shape \(B, 5, 64, 64\)"):
        GraspNet()(torch.zeros(1, 4, 64, 64))


def test_sphere_views_match_geometry_and_follow_the_object():
    cfg = NetworkConfig()
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.05)
    views, centre = render_views(sphere, cfg)
    assert views.shape == (5, 64, 64) and views.dtype == np.float32
    np.testing.assert_allclose(centre, 0, atol=1e-9)
    # The view axis through the centre hits the sphere at camera_distance − r (pixel centres are ±0.5 px off axis).
    mid = views[:, 31:33, 31:33]
    np.testing.assert_allclose(mid, cfg.camera_distance_m - 0.05, atol=4e-4)
    # Silhouette area ≈ π r², pixel side = 2·half_width/64.
    px = (2 * cfg.view_half_width_m / cfg.image_size) ** 2
    np.testing.assert_allclose((views > 0).sum(axis=(1, 2)) * px, np.pi * 0.05**2, rtol=0.05)
    # Translating the mesh changes the centre, not the views (object-centred frame).
    moved = sphere.copy()
    moved.apply_translation([0.3, -0.2, 0.1])
    views2, centre2 = render_views(moved, cfg)
    np.testing.assert_allclose(centre2, [0.3, -0.2, 0.1], atol=1e-9)
    np.testing.assert_allclose(views2, views, atol=1e-5)


def test_point_cloud_views_agree_with_mesh_views():
    cfg = NetworkConfig()
    box = trimesh.creation.box(extents=[0.08, 0.06, 0.1])
    mesh_views, _ = render_views(box, cfg)
    points, _ = trimesh.sample.sample_surface_even(box, 40000, seed=0)
    cloud_views, _ = render_views(points, cfg)
    both = (mesh_views > 0) & (cloud_views > 0)
    assert both.sum() > 0.8 * (mesh_views > 0).sum()
    assert np.median(np.abs(mesh_views[both] - cloud_views[both])) < 3e-3


def test_box_top_view_axes_and_com_centre():
    cfg = NetworkConfig()
    box = trimesh.creation.box(extents=[0.08, 0.04, 0.1])
    views, _ = render_views(box, cfg)
    px = 2 * cfg.view_half_width_m / cfg.image_size
    top = views[0] > 0  # view 0: image right = +x, image down = −y
    assert top.any(axis=0).sum() * px == pytest.approx(0.08, abs=1.5 * px)
    assert top.any(axis=1).sum() * px == pytest.approx(0.04, abs=1.5 * px)
    np.testing.assert_allclose(views[0][top], cfg.camera_distance_m - 0.05, atol=1e-5)
    # A cone's centre of mass sits a quarter of the height above its base; its bbox centre at half the height.
    cone = trimesh.creation.cone(radius=0.04, height=0.12, sections=64)
    _, c_bbox = render_views(cone, cfg)
    _, c_com = render_views(cone, NetworkConfig(centre="com"))
    assert c_bbox[2] == pytest.approx(0.06, abs=1e-6)
    assert c_com[2] == pytest.approx(0.03, abs=1e-3)


def test_resnet18_backbone_only_with_torchvision():
    cfg = NetworkConfig(backbone="resnet18", num_grasps=2)
    try:
        import torchvision  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="needs torchvision"):
            GraspNet(cfg)
        return
    out = GraspNet(cfg)(0.45 + 0.1 * torch.rand(1, 5, 64, 64))
    assert out.joints.shape == (1, 2, 22)
