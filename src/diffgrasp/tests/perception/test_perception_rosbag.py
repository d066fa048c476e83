"""rosbag2 recordings of realsense2_camera topics → Capture (written and read with rosbags)."""

from __future__ import annotations

import numpy as np
import pytest

from diffgrasp.perception.rosbag_import import read_rosbag_capture, write_rosbag_capture
from diffgrasp.perception.simulate import ring_rig, simulate_capture


@pytest.fixture(scope="module")
def small_capture(shared_objects):
    rig = ring_rig(2, width=160, height=120, fx=96.0)
    cap = simulate_capture(shared_objects / "057_racquetball.obj", rig, noise="none")
    cap.stamps[:] = [100.0, 100.004]
    return rig, cap


@pytest.mark.parametrize("encoding, atol", [("16UC1", 5e-4 + 1e-7), ("32FC1", 0.0)])
def test_round_trip_with_tf_static(tmp_path, small_capture, encoding, atol):
    rig, cap = small_capture
    bag = write_rosbag_capture(tmp_path / "bag", cap, namespace="/cameras", encoding=encoding)
    back = read_rosbag_capture(bag)
    assert back.names == cap.names
    assert np.array_equal(np.isnan(back.depth), np.isnan(cap.depth))
    np.testing.assert_allclose(back.depth, cap.depth, atol=atol)
    np.testing.assert_allclose(back.intrinsics, cap.intrinsics)
    np.testing.assert_allclose(back.camera_to_world, cap.camera_to_world, atol=1e-9)
    np.testing.assert_allclose(back.stamps, cap.stamps, atol=1e-6)
    with_rig = read_rosbag_capture(bag, rig=rig)
    np.testing.assert_allclose(with_rig.camera_to_world, cap.camera_to_world, atol=1e-6)


def test_missing_calibration_and_camera(tmp_path, small_capture):
    _, cap = small_capture
    bag = write_rosbag_capture(tmp_path / "bag", cap)
    with pytest.raises(ValueError, match="missing calibration for sim_cam0"):
        read_rosbag_capture(bag, world_frame="base_link")
    with pytest.raises(ValueError, match="no depth topic for camera cam_top"):
        read_rosbag_capture(bag, cameras=["cam_top"])
    with pytest.raises(FileNotFoundError):
        read_rosbag_capture(tmp_path / "none")


def test_wrong_encoding_in_bag(tmp_path, small_capture):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    T = ts.types
    hdr = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=1, nanosec=0), frame_id="c_depth")
    img = T["sensor_msgs/msg/Image"](header=hdr, height=2, width=2, encoding="rgb8", is_bigendian=0, step=6,
                                     data=np.zeros(12, np.uint8))
    info = T["sensor_msgs/msg/CameraInfo"](
        header=hdr, height=2, width=2, distortion_model="plumb_bob", d=np.zeros(5),
        k=np.array([1.0, 0, 1, 0, 1, 1, 0, 0, 1]), r=np.eye(3).ravel(), p=np.zeros(12), binning_x=0, binning_y=0,
        roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
    with Writer(tmp_path / "bag", version=9) as w:
        c1 = w.add_connection("/c/depth/image_rect_raw", "sensor_msgs/msg/Image", typestore=ts)
        c2 = w.add_connection("/c/depth/camera_info", "sensor_msgs/msg/CameraInfo", typestore=ts)
        w.write(c1, 1, ts.serialize_cdr(img, "sensor_msgs/msg/Image"))
        w.write(c2, 1, ts.serialize_cdr(info, "sensor_msgs/msg/CameraInfo"))
    with pytest.raises(ValueError, match="camera c: unsupported depth encoding 'rgb8'"):
        read_rosbag_capture(tmp_path / "bag")


def test_capture_from_messages_checks_sizes(small_capture):
    from types import SimpleNamespace

    from diffgrasp.perception.rosbag_import import capture_from_messages

    _, cap = small_capture
    stamp = SimpleNamespace(sec=5, nanosec=500_000_000)
    hdr = SimpleNamespace(stamp=stamp, frame_id="c0_depth_optical_frame")
    raw = (np.nan_to_num(cap.depth[0]) * 1000).round().astype("<u2")
    img = SimpleNamespace(header=hdr, height=raw.shape[0], width=raw.shape[1], encoding="16UC1", is_bigendian=0,
                          step=raw.shape[1] * 2, data=raw.tobytes())
    info = SimpleNamespace(header=hdr, height=raw.shape[0], width=raw.shape[1], k=cap.intrinsics[0].ravel(),
                           d=np.zeros(5))
    out = capture_from_messages(["c0"], [img], [info], cap.camera_to_world[:1])
    np.testing.assert_allclose(out.depth[0], cap.depth[0], atol=5e-4 + 1e-7)
    assert out.stamps[0] == 5.5
    bad_info = SimpleNamespace(**{**info.__dict__, "width": 10})
    with pytest.raises(ValueError, match="camera c0: camera_info is 10x"):
        capture_from_messages(["c0"], [img], [bad_info], cap.camera_to_world[:1])
    with pytest.raises(ValueError, match="need one of each"):
        capture_from_messages(["c0", "c1"], [img], [info], cap.camera_to_world[:1])
    distorted = SimpleNamespace(**{**info.__dict__, "d": np.array([0.1, 0, 0, 0, 0])})
    with pytest.raises(ValueError, match="distortion"):
        capture_from_messages(["c0"], [img], [distorted], cap.camera_to_world[:1])
