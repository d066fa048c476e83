"""Pair each depth image with its CameraInfo by header stamp (what message_filters' ApproximateTimeSynchronizer does
for two topics; message_filters is not on PyPI). ROS-free: messages are duck-typed, stamps in nanoseconds."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class FramePairer:
    """Keeps the last ``queue_size`` depth and info messages; calls ``on_pair(depth, info)`` once for each depth
    whose info has a stamp within ``slop_ns`` (the closest one), in arrival order."""

    def __init__(self, on_pair: Callable[[Any, Any], None], stamp_ns: Callable[[Any], int], slop_ns: int,
                 queue_size: int = 5) -> None:
        self.on_pair, self.stamp_ns, self.slop_ns = on_pair, stamp_ns, int(slop_ns)
        self._depth: deque = deque(maxlen=queue_size)
        self._info: deque = deque(maxlen=queue_size)
        self._lock = threading.Lock()

    def add_depth(self, msg: Any) -> None:
        self._add(msg, self._depth)

    def add_info(self, msg: Any) -> None:
        self._add(msg, self._info)

    def _add(self, msg: Any, queue: deque) -> None:
        pairs = []
        with self._lock:
            queue.append(msg)
            for depth in list(self._depth):
                t = self.stamp_ns(depth)
                candidates = [(abs(self.stamp_ns(i) - t), k) for k, i in enumerate(self._info)]
                close = [c for c in candidates if c[0] <= self.slop_ns]
                if close:
                    _, k = min(close)
                    pairs.append((depth, self._info[k]))
                    self._depth.remove(depth)
        for depth, info in pairs:
            self.on_pair(depth, info)


__all__ = ["FramePairer"]
