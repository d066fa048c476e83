"""SafeActionClient against rclpy's lost-response race (ros2/rclpy#1123), over DDS.

The sender is held up between sending a request and recording it (a dict whose insert waits 0.3 s, as a preempted
thread would): rclpy's own ActionClient then drops the server's answer and the goal's future never completes;
SafeActionClient gets the goal accepted and its result.
"""

from __future__ import annotations

import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy")
pytestmark = pytest.mark.ros

from rclpy.action import ActionClient, ActionServer  # noqa: E402
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from rclpy.node import Node  # noqa: E402
from test_ros_nodes import spinning, wait  # noqa: E402

from diffgrasp_interfaces.action import RefineGrasps  # noqa: E402
from diffgrasp_ros.action_client import SafeActionClient  # noqa: E402


class SlowInsert(dict):
    """A dict whose inserts wait first: the window between sending a request and recording it, made wide."""

    def __setitem__(self, key, value) -> None:
        time.sleep(0.3)
        super().__setitem__(key, value)


def _immediate(goal_handle):
    goal_handle.succeed()
    return RefineGrasps.Result(message="done", iterations=1)


@pytest.mark.parametrize("client_class", [ActionClient, SafeActionClient])
def test_an_answer_that_beats_the_bookkeeping_is_not_lost(ros_context, client_class):
    server_node, client_node = Node("race_server"), Node("race_client")
    group = ReentrantCallbackGroup()
    server = ActionServer(server_node, RefineGrasps, "race_refine", execute_callback=_immediate,
                          callback_group=group)
    client = client_class(client_node, RefineGrasps, "race_refine", callback_group=group)
    with spinning(server_node, client_node):
        assert client.wait_for_server(timeout_sec=10.0)
        time.sleep(0.5)  # both sides matched: only the race is left
        client._pending_goal_requests = SlowInsert()
        future = client.send_goal_async(RefineGrasps.Goal(num_grasps=1))
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        answered = done.wait(3.0)
        if client_class is ActionClient:  # the race reproduced: the goal response was ignored
            assert not answered, "rclpy answers now (ros2/rclpy#1123 fixed): SafeActionClient can go"
        else:
            assert answered and future.result().accepted
            client._pending_result_requests = SlowInsert()
            response = wait(future.result().get_result_async(), 5.0)
            assert response.result.message == "done"
        server.destroy()
        client.destroy()
