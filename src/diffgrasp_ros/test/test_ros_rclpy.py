"""rclpy tests (rclpy from PyPI here, set up by scripts/setup_ros.sh; the ROS image runs them under `colcon test`).

1. The rclpy message classes built from our installed interfaces (and the real control_msgs / moveit_msgs)
   serialise to the same CDR bytes as the rosbags typestore built from the .msg files and the vendored definitions.
2. The refinement node: invalid goals rejected, feedback during refinement, busy → reject, cancel → best so far.
"""

from __future__ import annotations

import importlib.util
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
pytestmark = pytest.mark.ros


def _same_bytes(rosbags_msg, rclpy_msg, typestore) -> bool:
    """rclpy's CDR decoded by rosbags and encoded again equals rosbags' own encoding, byte for byte. (rclpy's raw
    bytes leave the alignment padding uninitialised — measured: same length, different padding — so they are
    compared after a rosbags decode, which reads every field.)"""
    from rclpy.serialization import serialize_message

    decoded = typestore.deserialize_cdr(bytes(serialize_message(rclpy_msg)), rosbags_msg.__msgtype__)
    return (bytes(typestore.serialize_cdr(decoded, rosbags_msg.__msgtype__))
            == bytes(typestore.serialize_cdr(rosbags_msg, rosbags_msg.__msgtype__)))


def test_rclpy_and_rosbags_messages_serialise_identically(typestore, factory):
    from test_ros_action_messages import cube_observation
    from test_ros_conversions import random_grasp

    from diffgrasp.grasps import GraspSet
    from diffgrasp_ros import action_messages as am
    from diffgrasp_ros import conversions as cv
    from diffgrasp_ros.message_factory import RclpyFactory

    rng = np.random.default_rng(0)
    grasps = GraspSet("cube", "", [random_grasp(rng) for _ in range(2)])
    rf = RclpyFactory()
    builders = [
        lambda f: cv.grasp_set_to_ros(f, grasps, object_id="cube"),
        lambda f: cube_observation(f),
        lambda f: am.refine_feedback_to_ros(f, 3, 10, 0.5, {"q1": -0.1}, 1.0),
        lambda f: cv.follow_joint_trajectory_goal(f, cv.joint_trajectory_to_ros(f, ["a"], [0.0, 1.0],
                                                                                np.array([[0.0], [1.0]]))),
        lambda f: cv.box_collision_object_to_ros(f, "table", "world", np.eye(4), (1.0, 1.0, 0.1)),
    ]
    ros_machine = importlib.util.find_spec("control_msgs") is not None  # control_msgs/moveit_msgs: not on PyPI
    for build in builders if ros_machine else builders[:3]:
        assert _same_bytes(build(factory), build(rf), typestore)


def test_refinement_node_goal_policies(ros_context, factory):
    from rclpy.action import ActionClient
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node
    from test_ros_action_messages import cube_observation

    from diffgrasp_interfaces.action import RefineGrasps
    from diffgrasp_ros.message_factory import RclpyFactory
    from diffgrasp_ros.refinement_node import RefinementNode

    server = RefinementNode()
    assert server.autostart()
    client_node = Node("refine_test_client")
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(server)
    executor.add_node(client_node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        client = ActionClient(client_node, RefineGrasps, "refine_grasps")
        assert client.wait_for_server(timeout_sec=10.0)
        rf = RclpyFactory()

        def send(goal, feedback=None):
            done = threading.Event()
            future = client.send_goal_async(goal, feedback_callback=feedback)
            future.add_done_callback(lambda _: done.set())
            assert done.wait(10.0)
            return future.result()

        bad = RefineGrasps.Goal(observation=cube_observation(rf), num_grasps=0)
        assert not send(bad).accepted
        feedback = []
        goal = RefineGrasps.Goal(observation=cube_observation(rf), num_grasps=2, max_iterations=400)
        first = send(goal, lambda fb: feedback.append(fb.feedback.iteration))
        assert first.accepted
        assert not send(goal).accepted  # busy
        deadline = time.monotonic() + 120
        while not feedback and time.monotonic() < deadline:
            time.sleep(0.05)
        assert feedback, "no feedback during refinement"
        cancel_done = threading.Event()
        first.cancel_goal_async().add_done_callback(lambda _: cancel_done.set())
        assert cancel_done.wait(10.0)
        result_done = threading.Event()
        result_future = first.get_result_async()
        result_future.add_done_callback(lambda _: result_done.set())
        assert result_done.wait(180.0)
        result = result_future.result().result
        assert result.error_code in (RefineGrasps.Result.CANCELLED, RefineGrasps.Result.SUCCESS)
        assert result.iterations >= feedback[-1]
    finally:
        executor.shutdown()
        server.destroy_node()
        client_node.destroy_node()
