"""Simulated cameras recorded to rosbag2 as a RealSense rig would publish them (16UC1 depth + CameraInfo per camera,
calibration on /tf_static), replayed through the nodes' conversion path: MultiViewDepth → core Capture → fusion →
ObjectObservation → (network → GraspSet when the packaged checkpoint exists)."""

from __future__ import annotations

import numpy as np
import pytest

from diffgrasp_ros import conversions as cv
from diffgrasp_ros import sensor_conversions as sc


@pytest.fixture(scope="module")
def simulated_bag(tmp_path_factory, typestore):
    import trimesh
    from rosbags.rosbag2 import StoragePlugin, Writer

    from diffgrasp.perception.simulate import ring_rig, simulate_capture
    from diffgrasp_ros.message_factory import RosbagsFactory

    f = RosbagsFactory(typestore)
    box = trimesh.creation.box((0.06, 0.05, 0.08))
    rig = ring_rig(num_cameras=4)  # 640x480 D435-like (at 320x240 fusion finds too few object points)
    capture = simulate_capture(box, rig, noise="realsense", seed=0)
    path = tmp_path_factory.mktemp("bag") / "sim_rig"
    stamp = 1_700_000_000_000_000_000
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        tf = writer.add_connection("/tf_static", "tf2_msgs/msg/TFMessage", typestore=typestore)
        transforms = [cv.transform_to_ros(f, cam.camera_to_world(), "world", f"{cam.name}_depth_optical_frame",
                                          stamp) for cam in rig.cameras]
        msg = typestore.types["tf2_msgs/msg/TFMessage"](transforms=transforms)
        writer.write(tf, stamp, typestore.serialize_cdr(msg, "tf2_msgs/msg/TFMessage"))
        for i, cam in enumerate(rig.cameras):
            frame = f"{cam.name}_depth_optical_frame"
            depth = writer.add_connection(f"/{cam.name}/{cam.name}/depth/image_rect_raw", "sensor_msgs/msg/Image",
                                          typestore=typestore)
            info = writer.add_connection(f"/{cam.name}/{cam.name}/depth/camera_info", "sensor_msgs/msg/CameraInfo",
                                         typestore=typestore)
            image = sc.depth_to_ros(f, capture.depth[i], frame, stamp + i, "16UC1")
            writer.write(depth, stamp + i, typestore.serialize_cdr(image, "sensor_msgs/msg/Image"))
            k = sc.camera_info_to_ros(f, capture.intrinsics[i], cam.width, cam.height, frame, stamp + i)
            writer.write(info, stamp + i, typestore.serialize_cdr(k, "sensor_msgs/msg/CameraInfo"))
    return path, capture, box


@pytest.fixture(scope="module")
def replayed(simulated_bag, typestore, factory):
    """The bag read back and passed through the capture and fusion nodes' conversion path."""
    from rosbags.highlevel import AnyReader

    from diffgrasp.perception.fusion import fuse

    path, capture, box = simulated_bag
    images, infos, transforms = {}, {}, {}
    with AnyReader([path], default_typestore=typestore) as reader:
        for conn, _, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic == "/tf_static":
                transforms.update({t.child_frame_id: t for t in msg.transforms})
            elif conn.topic.endswith("image_rect_raw"):
                images[conn.topic.split("/")[1]] = msg
            else:
                infos[conn.topic.split("/")[1]] = msg
    names = sorted(images)
    assert names == list(capture.names)
    # what the capture node does: one MultiViewDepth from the paired messages and the calibration
    views_msg = factory("diffgrasp_interfaces/msg/MultiViewDepth", header=cv.header_to_ros(factory, "world"),
                        camera_names=names, depth=[images[n] for n in names], camera_info=[infos[n] for n in names],
                        base_to_camera=[transforms[images[n].header.frame_id] for n in names])
    raw = typestore.serialize_cdr(views_msg, views_msg.__msgtype__)
    views = sc.multiview_from_ros(typestore.deserialize_cdr(raw, views_msg.__msgtype__))
    replayed = sc.capture_from_views(views)
    # what the fusion node does
    result = fuse(replayed)
    obs = sc.observation_from_fusion(result, "box", views.base_frame, int(views.stamps_ns[0]), views.names)
    return replayed, sc.observation_to_ros(factory, obs)


def test_replayed_capture_matches_the_recording(simulated_bag, replayed):
    _, capture, _ = simulated_bag
    replayed_capture, _ = replayed
    valid = np.isfinite(capture.depth)
    assert np.array_equal(np.isfinite(replayed_capture.depth), valid)
    assert np.abs(replayed_capture.depth[valid] - capture.depth[valid]).max() <= 0.0005 + 1e-6  # whole millimetres
    assert np.allclose(replayed_capture.camera_to_world, capture.camera_to_world, atol=1e-9)


def test_replayed_capture_fuses_into_the_object(simulated_bag, replayed, cdr):
    _, capture, box = simulated_bag
    msg = cdr(replayed[1])
    back = sc.observation_from_ros(msg)
    extents = np.array([msg.bbox_size.x, msg.bbox_size.y, msg.bbox_size.z])
    assert back.watertight and len(back.faces) > 100
    assert np.allclose(np.sort(extents), np.sort(box.extents), atol=0.015)  # noisy fused box within 1.5 cm per side
    true_centre = np.asarray(capture.metadata["object_pose_world"]["position"])  # box centre (resting on the table)
    assert np.linalg.norm(back.object_to_world[:3, 3] - true_centre) < 0.01


def test_replayed_observation_gives_network_grasps(replayed, factory, cdr):
    from diffgrasp.network import default_checkpoint_path

    if not default_checkpoint_path().exists():
        pytest.skip(f"no packaged network checkpoint at {default_checkpoint_path()} (inference step not run)")
    import trimesh

    from diffgrasp.grasps import GraspSet
    from diffgrasp.network import GraspPredictor

    back = sc.observation_from_ros(cdr(replayed[1]))
    grasps = GraspPredictor().predict(trimesh.Trimesh(back.vertices, back.faces, process=False), 4)
    set_msg = cdr(cv.grasp_set_to_ros(factory, GraspSet("box", "", grasps), object_id="box", source="network"))
    assert len(cv.grasp_set_from_ros(set_msg).grasps) == 4
