"""Static transforms on /tf_static without tf2_ros: a broadcaster and a lookup over the latched frames.

Camera extrinsics are static by design (eye-on-base, ``config/cameras.yaml``), the drivers publish link → optical
frames on /tf_static, and the fused object's pose is published there too (late subscribers get it). These two
classes do what ``tf2_ros.StaticTransformBroadcaster`` and a ``tf2_ros.Buffer`` do for static frames, with the same
topic and QoS, so they interoperate with tf2 tools; they exist because tf2_ros is not on PyPI (rclpy is) and the
nodes must run on machines whose ROS comes from pip.

``FrameTree`` is the ROS-free part: parent/child edges (4, 4) and the composition of a chain between two frames.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

from diffgrasp_ros.conversions import transform_from_ros

STATIC_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL)
"""tf2_ros' static broadcaster QoS (latched: each publisher keeps its one message of all its transforms)."""
LISTENER_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                          durability=DurabilityPolicy.TRANSIENT_LOCAL)


class TransformNotFound(LookupError):
    """No chain of static transforms between two frames."""


class FrameTree:
    """Static frames: ``set(parent, child, T_parent_child)``; ``lookup(target, source)`` = T_target_source (4, 4)."""

    def __init__(self) -> None:
        self._edges: dict[str, tuple[str, np.ndarray]] = {}

    def set(self, parent: str, child: str, matrix: np.ndarray) -> None:
        self._edges[child] = (parent, np.asarray(matrix, dtype=float))

    def frames(self) -> set[str]:
        return set(self._edges) | {parent for parent, _ in self._edges.values()}

    def _to_root(self, frame: str) -> tuple[list[str], np.ndarray]:
        """Frames from ``frame`` up to its root and T_root_frame."""
        chain, matrix, seen = [frame], np.eye(4), {frame}
        while chain[-1] in self._edges:
            parent, edge = self._edges[chain[-1]]
            if parent in seen:
                raise TransformNotFound(f"transform loop through {parent}")
            matrix = edge @ matrix
            chain.append(parent)
            seen.add(parent)
        return chain, matrix

    def lookup(self, target: str, source: str) -> np.ndarray:
        """T_target_source: maps points in ``source`` coordinates to ``target`` coordinates."""
        source_chain, root_source = self._to_root(source)
        target_chain, root_target = self._to_root(target)
        if source_chain[-1] != target_chain[-1]:
            known = ", ".join(sorted(self.frames())) or "none"
            raise TransformNotFound(f"no static transform between {target!r} and {source!r} (frames known: {known})")
        return np.linalg.inv(root_target) @ root_source


class StaticBroadcaster:
    """Publishes transforms on /tf_static; every call republishes all transforms sent so far (by child frame)."""

    def __init__(self, node: Node) -> None:
        self.publisher = node.create_publisher(TFMessage, "/tf_static", STATIC_QOS)
        self._by_child: dict[str, Any] = {}

    def send(self, transforms: list[Any]) -> None:
        for t in transforms:
            self._by_child[t.child_frame_id] = t
        self.publisher.publish(TFMessage(transforms=list(self._by_child.values())))


class StaticListener:
    """Subscribes to /tf_static and answers ``lookup(target, source)`` from what was latched so far."""

    def __init__(self, node: Node, callback_group: Any = None) -> None:
        self.tree = FrameTree()
        self._lock = threading.Lock()
        self.subscription = node.create_subscription(TFMessage, "/tf_static", self._on_message, LISTENER_QOS,
                                                     callback_group=callback_group)

    def _on_message(self, msg: Any) -> None:
        with self._lock:
            for t in msg.transforms:
                matrix, parent, child = transform_from_ros(t)
                self.tree.set(parent, child, matrix)

    def lookup(self, target: str, source: str) -> np.ndarray:
        with self._lock:
            return self.tree.lookup(target, source)


__all__ = ["FrameTree", "TransformNotFound", "STATIC_QOS", "StaticBroadcaster", "StaticListener"]
