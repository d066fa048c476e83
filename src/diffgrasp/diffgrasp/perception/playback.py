"""Lossless replay of a RealSense recording through pyrealsense2's own playback device.

``rs.pipeline`` over a playback file drops framesets while the caller is busy (measured: a 3-frame recording replayed
as frames 0 and 2 about once in 40 runs on a loaded CPU), so replay reads the playback device's sensors directly, the
way librealsense's maintainers advise: non-real-time playback hands every frame to the sensor callback, and the
callback blocks while ``max_buffered`` depth frames wait, which throttles the playback instead of dropping frames.
Depth and colour are paired by nearest timestamp and joined into a frameset (for ``rs.align``) by a processing block.

The playback starts reading when its first sensor starts and drops what it reads for a sensor not yet started, so the
sensors start while it is paused: otherwise colour frame 0 went missing (its depth frame paired with colour frame 1)
about once in 150 replays of a 3-frame recording on a loaded CPU.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any


class PlaybackReader:
    """Depth (and colour, when recorded) framesets of a ``.db3``/``.bag`` file, in recorded order, none dropped.

    rs: the ``pyrealsense2`` module. ``next_frameset(timeout_ms)`` → an ``rs.frameset`` (depth, plus colour when the
    recording has it) or None once the recording is exhausted (or nothing arrives within ``timeout_ms``).
    """

    max_buffered: int = 8  # depth frames held before the playback waits (8 VGA depth+colour frames ≈ 12 MB)
    color_grace_s: float = 1.0  # after the recording ended, how long a depth frame waits for its colour frame

    def __init__(self, rs: Any, path: str | os.PathLike) -> None:
        self.rs = rs
        self.path = str(path)
        self._ctx = rs.context()
        self.device = self._ctx.load_device(self.path)
        self.playback = self.device.as_playback()
        self.playback.set_real_time(False)
        self._cond = threading.Condition()
        self._depth: collections.deque = collections.deque()
        self._color: collections.deque = collections.deque()
        self._closing = False
        self._started = False
        self.sensors = list(self.device.query_sensors())
        streams = [p.stream_type() for s in self.sensors for p in s.get_stream_profiles()]
        self.has_color = rs.stream.color in streams
        if rs.stream.depth not in streams:
            raise ValueError(f"recording {self.path} has no depth stream")
        self._join = rs.processing_block(self._compose)
        self._join_queue = rs.frame_queue(2, keep_frames=True)
        self._join.start(self._join_queue)
        self._pending_color: Any = None
        self.playback.pause()
        for s in self.sensors:
            s.open(s.get_stream_profiles())
        for s in self.sensors:
            self._start(s)
        self.playback.resume()

    def _start(self, sensor: Any) -> None:
        sensor.start(self._on_frame)

    def _on_frame(self, frame: Any) -> None:
        kind = frame.get_profile().stream_type()
        if kind not in (self.rs.stream.depth, self.rs.stream.color):
            return
        frame.keep()
        with self._cond:
            self._started = True
            if kind == self.rs.stream.depth:  # back-pressure: wait for the consumer rather than drop
                while len(self._depth) >= self.max_buffered and not self._closing:
                    self._cond.wait(0.05)
                self._depth.append(frame)
            else:
                self._color.append(frame)
            self._cond.notify_all()

    def _compose(self, frame: Any, source: Any) -> None:
        parts = [frame] if self._pending_color is None else [frame, self._pending_color]
        source.frame_ready(source.allocate_composite_frame(parts))

    def _ended(self) -> bool:
        status = self.playback.current_status()
        if status == self.rs.playback_status.playing:
            self._started = True
        return self._started and status == self.rs.playback_status.stopped

    def _wait(self, ready: Any, deadline: float, grace_s: float = 0.0) -> bool:
        """Wait (holding the lock) until ``ready()``; False at the deadline, or ``grace_s`` after the recording
        ended without it."""
        ended_at = None
        while not ready():
            if ended_at is None and self._ended():
                ended_at = time.monotonic()
            if ended_at is not None and time.monotonic() >= ended_at + grace_s:
                return ready()  # the last frame was handed over before the status turned to stopped
            if time.monotonic() > deadline:
                return False
            self._cond.wait(0.02)
        return True

    def next_frameset(self, timeout_ms: int) -> Any:
        deadline = time.monotonic() + timeout_ms / 1000.0
        with self._cond:
            if not self._wait(lambda: bool(self._depth), deadline):
                return None
            depth = self._depth.popleft()
            color = None
            if self.has_color:
                t = depth.get_timestamp()
                # the colour frame recorded at or after this depth frame, or the recording's end: each sensor has
                # its own callback thread, so the last colour frame can arrive after the status turned to stopped
                self._wait(lambda: any(c.get_timestamp() >= t for c in self._color), deadline,
                           grace_s=self.color_grace_s)
                while len(self._color) > 1 and abs(self._color[1].get_timestamp() - t) <= abs(
                        self._color[0].get_timestamp() - t):
                    self._color.popleft()
                color = self._color[0] if self._color else None
            self._cond.notify_all()
        self._pending_color = color
        self._join.invoke(depth)
        return self._join_queue.wait_for_frame(max(timeout_ms, 1000)).as_frameset()

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for s in self.sensors:
            try:
                s.stop()
                s.close()
            except RuntimeError:  # already stopped by the end of the file
                pass
        with self._cond:
            self._depth.clear()
            self._color.clear()
