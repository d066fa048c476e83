"""The one ``main`` body every node shares: init, autostart lifecycle nodes, spin a MultiThreadedExecutor, shut down."""

from __future__ import annotations

import threading
from collections.abc import Callable

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.node import Node

RCLError = rclpy_implementation.RCLError


def spin_until_shutdown(executor: Executor, context=None, stop: threading.Event | None = None) -> None:
    """Spin ``executor`` until Ctrl-C, an external shutdown of ``context`` (default: the global one) or ``stop``.

    Ctrl-C shuts the context down from rclpy's signal handler. When that lands between the executor's ``ok()`` check
    and its next wait, rclpy raises "failed to initialize wait set: the given context is not valid": that is a normal
    stop too (it made ``diffgrasp ros-sim`` exit 2 once in a loaded test run); while the context is valid the error
    propagates.
    """
    try:
        while rclpy.ok(context=context) and (stop is None or not stop.is_set()):
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RCLError:
        if rclpy.ok(context=context):
            raise


def spin_node(make_node: Callable[[], Node], num_threads: int, args=None) -> None:
    """Create the node (configure + activate it when it is a lifecycle node with ``autostart``), spin it until
    Ctrl-C or an external shutdown, then destroy it and shut rclpy down."""
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        if hasattr(node, "autostart"):
            node.autostart()
        executor = MultiThreadedExecutor(num_threads=num_threads)
        executor.add_node(node)
        spin_until_shutdown(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
