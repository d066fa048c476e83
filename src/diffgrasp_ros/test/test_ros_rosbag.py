"""A rosbag2 (mcap) file with our messages: written with rosbags, read back with rosbags and, independently, with
mcap-ros2-support (which decodes from the schema text stored in the file, i.e. from our .msg definitions)."""

from __future__ import annotations

import numpy as np
import pytest
from test_ros_action_messages import cube_observation
from test_ros_conversions import assert_grasps_equal, random_grasp
from test_ros_sensor_conversions import make_views

from diffgrasp.grasps import GraspSet
from diffgrasp_ros import action_messages as am
from diffgrasp_ros import conversions as cv
from diffgrasp_ros import sensor_conversions as sc


@pytest.fixture()
def recorded(tmp_path, factory, typestore):
    from rosbags.rosbag2 import StoragePlugin, Writer

    rng = np.random.default_rng(0)
    views = make_views(rng, v=2)
    grasps = GraspSet("cube", "", [random_grasp(rng) for _ in range(3)])
    messages = {
        "/capture/views": sc.multiview_to_ros(factory, views, stamp_ns=10**18, encoding="16UC1"),
        "/cam0/cam0/depth/image_rect_raw": sc.depth_to_ros(factory, views.depth[0], "cam0_depth_optical_frame",
                                                           10**18, "32FC1"),
        "/fusion/observation": cube_observation(factory),
        "/refinement/grasps": cv.grasp_set_to_ros(factory, grasps, object_id="cube", source="refined"),
        "/refine_grasps/feedback": am.refine_feedback_to_ros(factory, 10, 100, 0.5, {"q1": -0.1}, 1.0),
        "/hand_controller/goal": cv.follow_joint_trajectory_goal(factory, cv.joint_trajectory_to_ros(
            factory, ["rh_FFJ3", "rh_FFJ2"], [0.0, 0.4], np.array([[0.1, 0.2], [0.5, 0.6]]))),
    }
    path = tmp_path / "bag"
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        for i, (topic, msg) in enumerate(messages.items()):
            conn = writer.add_connection(topic, msg.__msgtype__, typestore=typestore)
            writer.write(conn, 10**18 + i, typestore.serialize_cdr(msg, msg.__msgtype__))
    return path, messages, views, grasps


def test_rosbag2_mcap_round_trip_with_rosbags(recorded, typestore):
    from rosbags.highlevel import AnyReader

    path, messages, views, grasps = recorded
    with AnyReader([path], default_typestore=typestore) as reader:
        got = {conn.topic: reader.deserialize(raw, conn.msgtype) for conn, _, raw in reader.messages()}
        types = {conn.topic: conn.msgtype for conn in reader.connections}
    assert types == {t: m.__msgtype__ for t, m in messages.items()}
    back = sc.multiview_from_ros(got["/capture/views"])
    valid = ~np.isnan(views.depth)
    assert np.array_equal(np.isnan(back.depth), ~valid)
    assert np.abs(back.depth[valid] - views.depth[valid]).max() <= 0.0005 + 1e-6  # 16UC1: whole millimetres
    assert np.array_equal(sc.depth_from_ros(got["/cam0/cam0/depth/image_rect_raw"]), views.depth[0], equal_nan=True)
    for a, b in zip(grasps.grasps, cv.grasp_set_from_ros(got["/refinement/grasps"]).grasps, strict=True):
        assert_grasps_equal(a, b)
    assert got["/refine_grasps/feedback"].iteration == 10
    assert cv.joint_trajectory_from_ros(got["/hand_controller/goal"].trajectory)[0] == ["rh_FFJ3", "rh_FFJ2"]
    assert len(sc.observation_from_ros(got["/fusion/observation"]).faces) == 12


def test_rosbag2_mcap_decodes_with_mcap_ros2(recorded):
    """An independent decoder (mcap_ros2 from the schema stored in the file) sees the same values."""
    mcap_reader = pytest.importorskip("mcap.reader")
    decoder = pytest.importorskip("mcap_ros2.decoder")

    path, messages, views, grasps = recorded
    (mcap_file,) = path.glob("*.mcap")
    seen = {}
    with mcap_file.open("rb") as stream:
        reader = mcap_reader.make_reader(stream, decoder_factories=[decoder.DecoderFactory()])
        for schema, channel, _, decoded in reader.iter_decoded_messages():
            seen[channel.topic] = (schema.name, decoded)
    name, grasp_msg = seen["/refinement/grasps"]
    assert name == "diffgrasp_interfaces/msg/GraspSet"
    first = grasp_msg.grasps[0]
    assert list(first.joint_names) == list(messages["/refinement/grasps"].grasps[0].joint_names)
    assert np.array_equal(np.asarray(first.grasp_positions), grasps.grasps[0].joint_vector())
    assert seen["/refine_grasps/feedback"][1].best_loss_terms.names == ["q1"]
    image = seen["/cam0/cam0/depth/image_rect_raw"][1]
    depth = np.frombuffer(bytes(image.data), dtype="<f4").reshape(image.height, image.width)
    assert np.array_equal(depth, views.depth[0], equal_nan=True)
