"""An rclpy ActionClient without the lost-response race of rclpy 7.1.x (ros2/rclpy#1123, fixed upstream later).

``ActionClient.send_goal_async`` sends the request and only then records its sequence number. When an executor
thread takes the server's answer in between, ``execute`` finds no pending request, logs "Ignoring unexpected goal
response" and the goal's future never completes (the same for result and cancel requests). On localhost the answer
can come back within that window: a GraspObject goal then went unanswered for 30 s in our ros-sim test. Here each
request is sent and recorded under one lock, and ``execute`` takes the lock before it looks a response up.
"""

from __future__ import annotations

import threading
from typing import Any

from rclpy.action import ActionClient


class SafeActionClient(ActionClient):
    """``rclpy.action.ActionClient`` whose requests are recorded before their responses are looked up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_lock = threading.Lock()

    def send_goal_async(self, goal: Any, feedback_callback: Any = None, goal_uuid: Any = None) -> Any:
        with self._request_lock:
            return super().send_goal_async(goal, feedback_callback, goal_uuid)

    def _cancel_goal_async(self, goal_handle: Any) -> Any:
        with self._request_lock:
            return super()._cancel_goal_async(goal_handle)

    def _get_result_async(self, goal_handle: Any) -> Any:
        with self._request_lock:
            return super()._get_result_async(goal_handle)

    async def execute(self, taken_data: Any) -> None:
        with self._request_lock:  # a request being sent is recorded before its response is looked up
            pass
        await super().execute(taken_data)


__all__ = ["SafeActionClient"]
