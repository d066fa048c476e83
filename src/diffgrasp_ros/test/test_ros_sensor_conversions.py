"""Depth images, CameraInfo, multi-view captures, clouds, meshes and observations: messages ↔ arrays via CDR."""

from __future__ import annotations

import numpy as np
import pytest

from diffgrasp_ros import sensor_conversions as sc
from diffgrasp_ros.conversions import position_quaternion_to_matrix


def depth_image(rng: np.random.Generator, h: int = 48, w: int = 64) -> np.ndarray:
    depth = (0.4 + rng.random((h, w)) * 0.8).astype(np.float32)
    depth[rng.random((h, w)) < 0.1] = np.nan
    return depth


def test_depth_32fc1_is_bit_exact_and_16uc1_is_millimetre_exact(factory, cdr):
    rng = np.random.default_rng(0)
    depth = depth_image(rng)
    back = sc.depth_from_ros(cdr(sc.depth_to_ros(factory, depth, "cam_optical_frame", 1, "32FC1")))
    assert back.dtype == np.float32 and np.array_equal(back, depth, equal_nan=True)
    msg = cdr(sc.depth_to_ros(factory, depth, "cam_optical_frame", 1, "16UC1"))
    assert msg.step == 64 * 2 and msg.encoding == "16UC1"
    back = sc.depth_from_ros(msg)
    assert np.array_equal(np.isnan(back), np.isnan(depth))
    valid = ~np.isnan(depth)
    assert np.abs(back[valid] - depth[valid]).max() <= 0.0005 + 1e-6  # rounded to whole millimetres


def test_depth_honours_step_padding_and_big_endian(factory):
    rng = np.random.default_rng(1)
    mm = rng.integers(1, 5000, size=(5, 7)).astype(">u2")  # big-endian rows
    padded = np.zeros((5, 7 * 2 + 6), dtype=np.uint8)
    padded[:, :14] = mm.view(np.uint8).reshape(5, 14)
    msg = sc.depth_to_ros(factory, np.ones((5, 7), np.float32), "f", 0, "16UC1")
    msg.is_bigendian, msg.step, msg.data = 1, 20, padded.reshape(-1)
    assert np.array_equal(sc.depth_from_ros(msg), mm.astype(np.float32) / 1000)
    msg.encoding = "rgb8"
    with pytest.raises(ValueError, match="depth encoding 'rgb8' not supported"):
        sc.depth_from_ros(msg)
    with pytest.raises(ValueError, match="depth encoding 'mono8' not supported"):
        sc.depth_to_ros(factory, np.ones((2, 2)), "f", 0, "mono8")


def test_32fc1_inf_and_non_positive_become_nan(factory):
    depth = np.array([[np.inf, -np.inf, 0.0, -1.0, 0.5]], np.float32)
    back = sc.depth_from_ros(sc.depth_to_ros(factory, depth, "f"))
    assert np.isnan(back[0, :4]).all() and back[0, 4] == np.float32(0.5)


def test_camera_info_round_trip(factory, cdr):
    K = np.array([[615.0, 0.0, 320.5], [0.0, 616.0, 240.25], [0.0, 0.0, 1.0]])
    msg = cdr(sc.camera_info_to_ros(factory, K, 640, 480, "cam_optical_frame", 5))
    intr = sc.camera_info_from_ros(msg)
    assert np.array_equal(intr.K, K) and (intr.width, intr.height) == (640, 480)
    assert intr.distortion_model == "plumb_bob"
    assert np.array_equal(np.asarray(msg.p).reshape(3, 4)[:, :3], K)
    with pytest.raises(ValueError, match="positive focal lengths"):
        sc.camera_info_to_ros(factory, np.zeros((3, 3)), 640, 480, "f")


def make_views(rng: np.random.Generator, v: int = 3) -> sc.DepthViews:
    poses = []
    for i in range(v):
        q = rng.normal(size=4)
        poses.append(position_quaternion_to_matrix(rng.normal(size=3), q / np.linalg.norm(q)))
    K = np.array([[60.0, 0, 32], [0, 60.0, 24], [0, 0, 1]])
    return sc.DepthViews([f"cam{i}" for i in range(v)], np.stack([depth_image(rng) for _ in range(v)]),
                         np.stack([K] * v), np.stack(poses), np.arange(v, dtype=np.int64) + 10**18,
                         [f"cam{i}_depth_optical_frame" for i in range(v)], "world")


def test_multiview_round_trip_and_checks(factory, cdr):
    rng = np.random.default_rng(2)
    views = make_views(rng)
    msg = cdr(sc.multiview_to_ros(factory, views, stamp_ns=10**18))
    back = sc.multiview_from_ros(msg)
    assert back.names == views.names and back.optical_frames == views.optical_frames and back.base_frame == "world"
    assert np.array_equal(back.depth, views.depth, equal_nan=True)
    assert np.array_equal(back.intrinsics, views.intrinsics) and np.array_equal(back.stamps_ns, views.stamps_ns)
    assert np.allclose(back.camera_to_world, views.camera_to_world, atol=1e-12)
    msg.base_to_camera[1].child_frame_id = "cam1_link"
    with pytest.raises(ValueError, match="view cam1: missing calibration for 'cam1_depth_optical_frame'"):
        sc.multiview_from_ros(msg)
    msg.camera_info.pop()
    with pytest.raises(ValueError, match="3 camera_names, 3 depth, 2 camera_info"):
        sc.multiview_from_ros(msg)


def test_cloud_round_trip_and_foreign_layout(factory, cdr, typestore):
    rng = np.random.default_rng(3)
    pts = rng.normal(size=(500, 3)).astype(np.float32)
    msg = cdr(sc.cloud_to_ros(factory, pts, "object"))
    assert msg.is_dense and msg.point_step == 12
    assert np.array_equal(sc.cloud_from_ros(msg), pts)
    # a RealSense-like layout: x y z rgb with 16-byte points, read by field offsets
    rec = np.zeros(500, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("rgb", "<f4")])
    rec["x"], rec["y"], rec["z"] = pts.T
    fields = [factory("sensor_msgs/msg/PointField", name=n, offset=4 * i, datatype=7, count=1)
              for i, n in enumerate(["x", "y", "z", "rgb"])]
    msg.fields, msg.point_step, msg.row_step, msg.data = fields, 16, 16 * 500, rec.view(np.uint8)
    assert np.array_equal(sc.cloud_from_ros(msg), pts)
    msg.fields = fields[:2]
    with pytest.raises(ValueError, match="needs float32 x, y, z"):
        sc.cloud_from_ros(msg)


def test_mesh_and_observation_round_trip(factory, cdr):
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.04)
    rng = np.random.default_rng(4)
    pose = position_quaternion_to_matrix(np.array([0.6, 0.1, 0.05]), np.array([0.0, 0.0, 0.3826834, 0.9238795]))
    obs = sc.Observation("obj", "world", 42, pose, mesh.vertices, mesh.faces,
                         rng.normal(size=(100, 3)).astype(np.float32) * 0.04, True, "/tmp/obj.ply", ["a", "b"])
    msg = cdr(sc.observation_to_ros(factory, obs))
    assert np.allclose([msg.bbox_size.x, msg.bbox_size.y, msg.bbox_size.z], mesh.extents)
    back = sc.observation_from_ros(msg)
    assert np.array_equal(back.vertices, mesh.vertices) and np.array_equal(back.faces, mesh.faces)
    assert np.array_equal(back.points, obs.points) and np.allclose(back.object_to_world, pose, atol=1e-7)
    assert (back.object_id, back.frame_id, back.stamp_ns, back.watertight, back.mesh_path, back.camera_names) == \
        ("obj", "world", 42, True, "/tmp/obj.ply", ["a", "b"])
    with pytest.raises(ValueError, match=r"face indices outside \[0, 3\)"):
        sc.mesh_to_ros(factory, np.zeros((3, 3)), np.array([[0, 1, 3]]))


def test_capture_and_fusion_result_through_messages(factory, cdr):
    """Core perception types (Capture, FusionResult) → messages → core types."""
    import trimesh

    from diffgrasp.perception.fusion import FusionResult

    views = make_views(np.random.default_rng(5))
    capture = sc.capture_from_views(views)
    assert capture.names == tuple(views.names) and np.allclose(capture.stamps, views.stamps_ns / 1e9)
    again = sc.views_from_capture(capture, views.optical_frames, "world")
    msg = cdr(sc.multiview_to_ros(factory, again))
    back = sc.capture_from_views(sc.multiview_from_ros(msg))
    assert np.array_equal(back.depth, capture.depth, equal_nan=True)
    assert np.allclose(back.camera_to_world, capture.camera_to_world, atol=1e-12)
    assert np.array_equal(back.intrinsics, capture.intrinsics)

    box = trimesh.creation.box((0.04, 0.05, 0.06))
    object_to_world = position_quaternion_to_matrix(np.array([0.1, -0.2, 0.03]), np.array([0.0, 0.0, 0.0, 1.0]))
    world_mesh = box.copy()
    world_mesh.apply_transform(object_to_world)
    points_world = world_mesh.vertices.astype(np.float32)
    result = FusionResult(mesh=world_mesh, points=points_world, object_to_world=object_to_world,
                          table_plane=np.array([0.0, 0.0, 1.0, 0.0]))
    obs = sc.observation_from_fusion(result, "box", "world", 9, ["cam0"], "")
    assert obs.watertight and np.allclose(obs.vertices, box.vertices, atol=1e-12)
    assert np.allclose(obs.points, box.vertices, atol=1e-6)
    back_obs = sc.observation_from_ros(cdr(sc.observation_to_ros(factory, obs)))
    assert np.allclose(back_obs.object_to_world, object_to_world, atol=1e-12)
    assert np.array_equal(back_obs.vertices, obs.vertices)
