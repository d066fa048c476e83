"""spin_until_shutdown: Ctrl-C that lands between the executor's ok() check and its wait is a normal stop.

The race is made certain: the executor's spin_once shuts the context down first (as rclpy's SIGINT handler does from
another thread). rclpy then raises RCLError ("... the given context is not valid"), which once made ``diffgrasp
ros-sim`` exit 2 after a successful goal.
"""

from __future__ import annotations

import threading

import pytest

rclpy = pytest.importorskip("rclpy")
pytestmark = pytest.mark.ros

from rclpy.context import Context  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402

from diffgrasp_ros.spin import RCLError, spin_until_shutdown  # noqa: E402


def _racing_executor(context: Context) -> MultiThreadedExecutor:
    class Racing(MultiThreadedExecutor):
        def spin_once(self, timeout_sec=None):
            context.shutdown()  # Ctrl-C after the ok() check
            return super().spin_once(timeout_sec)

    executor = Racing(context=context)
    executor.add_node(Node("racing", context=context))
    return executor


def test_a_shutdown_between_check_and_wait_is_a_normal_stop():
    context = Context()
    rclpy.init(context=context)
    executor = _racing_executor(context)
    with pytest.raises(RCLError, match="context is not valid"):  # what rclpy does without the guard
        executor.spin_once(timeout_sec=0.1)

    context = Context()
    rclpy.init(context=context)
    spin_until_shutdown(_racing_executor(context), context=context)  # returns
    assert not context.ok()


def test_stop_ends_the_spin():
    context = Context()
    rclpy.init(context=context)
    executor = MultiThreadedExecutor(context=context)
    executor.add_node(Node("stoppable", context=context))
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    spin_until_shutdown(executor, context=context, stop=stop)
    assert stop.is_set() and context.ok()
    executor.shutdown()
    context.shutdown()
