"""An rclpy ActionClient that loses no answer: neither to rclpy 7.1.x's bookkeeping race nor to a dropped DDS reply.

Two ways a goal went unanswered for 30 s in our ros-sim test under load:

- **rclpy's race** (ros2/rclpy#1123, fixed upstream later): ``send_goal_async`` sends the request and only then
  records its sequence number. When an executor thread takes the server's answer in between, ``execute`` finds no
  pending request, logs "Ignoring unexpected goal response" and the future never completes (the same for result and
  cancel requests). Here each request is sent and recorded under one lock, and ``execute`` looks responses up under it.
- **A reply lost on the wire:** a service reply is written to the client's reply reader only once the server has
  matched it; Fast DDS waits a bounded time for that match and then drops the reply (ros2/rmw_fastrtps#751). The
  request reached the server and the goal runs, but its acceptance (or later its result) never arrives.
  ``send_goal_and_wait`` and ``wait_for_result`` recover: the server publishes every accepted goal's status on the
  transient-local status topic, so a goal whose status shows up is adopted as accepted; without answer or status,
  the request is sent again with the same goal UUID (a server that did get the first one rejects the copy, and the
  status still shows the acceptance). A result that does not arrive after the status turned terminal is asked for
  again (the server keeps results for minutes).
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from typing import Any

from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.action.client import ClientGoalHandle
from unique_identifier_msgs.msg import UUID

_TERMINAL = (GoalStatus.STATUS_SUCCEEDED, GoalStatus.STATUS_CANCELED, GoalStatus.STATUS_ABORTED)
_POLL_S = 0.02


class SafeActionClient(ActionClient):
    """``rclpy.action.ActionClient`` with recorded-before-answered requests and recovery of lost replies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_lock = threading.Lock()
        self._watched: dict[bytes, int] = {}  # goal UUID → last status seen on the status topic (UNKNOWN: none yet)
        self._forgotten: set[int] = set()  # sequence numbers of goal requests given up on: late replies are dropped

    # -- the race: send and record under one lock ------------------------------------------------------------------
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
        rest = dict(taken_data)
        with self._request_lock:  # a request being sent is recorded before its response is looked up
            goal = rest.pop("goal", None)
            if goal is not None and goal[0] not in self._forgotten:
                await super().execute({"goal": goal})  # rclpy's goal branch awaits nothing: it runs under the lock
            status = rest.get("status")
            if status is not None:
                for entry in status.status_list:
                    key = bytes(entry.goal_info.goal_id.uuid)
                    if key in self._watched:
                        self._watched[key] = entry.status
        if rest:
            await super().execute(rest)

    # -- recovery of lost replies ----------------------------------------------------------------------------------
    def send_goal_and_wait(self, goal: Any, timeout_s: float, feedback_callback: Any = None,
                           resend_after_s: float = 5.0) -> ClientGoalHandle | None:
        """Send ``goal`` and wait for the server's answer; the goal handle (accepted or not), None after ``timeout_s``.

        Call it from a thread other than the executor's that spins this client.
        """
        goal_id = UUID(uuid=list(uuid.uuid4().bytes))
        key = bytes(goal_id.uuid)
        with self._request_lock:
            self._watched[key] = GoalStatus.STATUS_UNKNOWN
        deadline, futures = time.monotonic() + timeout_s, []
        copy_rejected_at: float | None = None
        try:
            while time.monotonic() < deadline:
                futures.append(self.send_goal_async(goal, feedback_callback, goal_id))
                resend_at = time.monotonic() + resend_after_s
                while time.monotonic() < min(deadline, resend_at):
                    answers = [f.result() for f in futures if f.done() and f.result() is not None]
                    accepted = [h for h in answers if h.accepted]
                    if accepted:
                        return accepted[0]
                    if self._watched[key] != GoalStatus.STATUS_UNKNOWN:
                        return self._adopt(goal_id, futures)
                    if futures[0].done() and futures[0].result() is not None:
                        return futures[0].result()  # the first request rejected: the server's real answer
                    if answers and copy_rejected_at is None:  # a duplicate of an accepted goal, or a rejection
                        copy_rejected_at = time.monotonic()
                    if copy_rejected_at is not None and time.monotonic() - copy_rejected_at > resend_after_s:
                        return answers[0]  # no status since: the server rejected the goal
                    time.sleep(_POLL_S)
            return None
        finally:
            with self._request_lock:
                self._watched.pop(key, None)
                self._forget_goal_requests(key)

    def wait_for_result(self, handle: ClientGoalHandle, timeout_s: float | None,
                        reask_after_s: float = 2.0) -> Any | None:
        """The result response of an accepted goal (``.status``, ``.result``); None after ``timeout_s``."""
        key = bytes(handle.goal_id.uuid)
        with self._request_lock:
            self._watched[key] = handle.status
        deadline = float("inf") if timeout_s is None else time.monotonic() + timeout_s
        futures = [handle.get_result_async()]
        terminal_since: float | None = None
        try:
            while time.monotonic() < deadline:
                for future in futures:
                    if future.done() and future.result() is not None:
                        return future.result()
                if terminal_since is None and self._watched[key] in _TERMINAL:
                    terminal_since = time.monotonic()
                if terminal_since is not None and time.monotonic() - terminal_since > reask_after_s:
                    futures.append(handle.get_result_async())  # the goal ended but its result reply was lost
                    terminal_since = time.monotonic()
                time.sleep(_POLL_S)
            return None
        finally:
            with self._request_lock:
                self._watched.pop(key, None)
                for future in futures:
                    self._remove_pending_result_request(future)

    def _adopt(self, goal_id: Any, futures: list[Any]) -> ClientGoalHandle:
        """A goal whose acceptance is known from its status only: a handle as if its reply had arrived."""
        key = bytes(goal_id.uuid)
        with self._request_lock:
            for future in futures:  # its reply may have been processed meanwhile
                if future.done() and future.result() is not None and future.result().accepted:
                    return future.result()
            self._forget_goal_requests(key)
            response = self._action_type.Impl.SendGoalService.Response(accepted=True)
            handle = ClientGoalHandle(self, goal_id, response)
            handle._status = self._watched[key]
            self._goal_handles[key] = weakref.ref(handle)
            return handle

    def _forget_goal_requests(self, key: bytes) -> None:
        """Drop the pending goal requests for ``key`` (their late replies are then ignored). Under the lock."""
        for seq, goal_id in list(self._goal_sequence_number_to_goal_id.items()):
            if bytes(goal_id.uuid) == key:
                del self._goal_sequence_number_to_goal_id[seq]
                self._forgotten.add(seq)
                future = self._pending_goal_requests.pop(seq, None)
                if future is not None:
                    self.remove_future(future)


__all__ = ["SafeActionClient"]
