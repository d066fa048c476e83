"""The one ``main`` body every node shares: init, autostart lifecycle nodes, spin a MultiThreadedExecutor, shut down."""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node


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
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
