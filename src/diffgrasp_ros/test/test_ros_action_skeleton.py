"""The shared single-goal action-server skeleton (``lifecycle.ExclusiveActionServer``) on its own, over DDS (issue 22).

The same rules hold on a minimal lifecycle node and on the orchestrator (a plain node): an invalid goal is rejected, a
second goal while one runs is rejected (busy), a cancel mid-run is accepted and the goal ends CANCELED with the best
result obtained so far, and the busy lock is released for the next goal.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

rclpy = pytest.importorskip("rclpy")
pytestmark = pytest.mark.ros

from action_msgs.msg import GoalStatus  # noqa: E402
from action_msgs.srv import CancelGoal  # noqa: E402
from rclpy.action import ActionClient, ActionServer, CancelResponse  # noqa: E402
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from rclpy.node import Node  # noqa: E402
from test_ros_nodes import FakeStages, activate, params, spinning, wait  # noqa: E402

from diffgrasp_interfaces.action import ExecuteGrasp, GraspObject, RefineGrasps  # noqa: E402
from diffgrasp_ros.lifecycle import ExclusiveActionServer, StageNode  # noqa: E402
from diffgrasp_ros.orchestrator_node import OrchestratorNode  # noqa: E402


class CountingNode(StageNode):
    """RefineGrasps on the shared skeleton, no planner: the run improves a loss every 10 ms until cancelled and
    returns the best so far, as the refinement node does between planner iterations."""

    def __init__(self) -> None:
        super().__init__("skeleton_probe", **params(autostart=False, diagnostics_period_s=0.0))
        self.server: ExclusiveActionServer | None = None

    def configure(self, params: dict[str, Any]) -> None:
        self.server = ExclusiveActionServer(self, RefineGrasps, "skeleton_refine", validate=self._validate,
                                            run=self._run)

    def cleanup(self) -> None:
        if self.server is not None:
            self.server.destroy()
            self.server = None

    @staticmethod
    def _validate(goal: Any) -> None:
        if goal.num_grasps < 1:
            raise ValueError(f"num_grasps: expected >= 1, got {goal.num_grasps}")

    @staticmethod
    def _run(goal_handle: Any) -> Any:
        iteration, best = 0, float("inf")
        while not goal_handle.is_cancel_requested:
            iteration += 1
            best = min(best, 1.0 / iteration)
            goal_handle.publish_feedback(RefineGrasps.Feedback(iteration=iteration, best_loss=best))
            time.sleep(0.01)
        goal_handle.canceled()
        return RefineGrasps.Result(error_code=RefineGrasps.Result.CANCELLED, message="cancelled: best so far",
                                   status="cancelled", iterations=iteration, best_loss=best)


def _sub_goal_sent(orchestrator) -> bool:
    """True once the orchestrator holds the running stage goal (a cancel before that is not forwarded: the
    orchestrator sees it only at the next stage boundary)."""
    deadline = time.monotonic() + 10.0
    while orchestrator._sub_goal is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return orchestrator._sub_goal is not None


def _cancel(handle) -> None:
    response = wait(handle.cancel_goal_async())
    assert response.return_code == CancelGoal.Response.ERROR_NONE and len(response.goals_canceling) == 1


def test_busy_rejected_and_cancel_returns_the_best_so_far(ros_context):
    node = CountingNode()
    client_node = Node("skeleton_client")
    with spinning(node, client_node):
        assert activate(node)
        client = ActionClient(client_node, RefineGrasps, "skeleton_refine")
        assert client.wait_for_server(timeout_sec=10.0)
        assert not wait(client.send_goal_async(RefineGrasps.Goal(num_grasps=0))).accepted  # invalid
        feedback: list = []
        first = wait(client.send_goal_async(RefineGrasps.Goal(num_grasps=1),
                                            feedback_callback=lambda m: feedback.append(m.feedback)))
        assert first.accepted
        deadline = time.monotonic() + 10.0
        while len(feedback) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(feedback) >= 3, "no feedback while the goal runs"
        assert node.busy.locked()
        assert not wait(client.send_goal_async(RefineGrasps.Goal(num_grasps=1))).accepted  # busy
        _cancel(first)
        response = wait(first.get_result_async())
        assert response.status == GoalStatus.STATUS_CANCELED
        result = response.result
        assert result.error_code == RefineGrasps.Result.CANCELLED and result.message == "cancelled: best so far"
        assert result.iterations >= feedback[-1].iteration
        assert result.best_loss == pytest.approx(1.0 / result.iterations)
        assert result.best_loss <= feedback[-1].best_loss
        assert not node.busy.locked()
        assert node.goals == {"accepted": 1, "rejected": 2, "succeeded": 0, "failed": 1}
        again = wait(client.send_goal_async(RefineGrasps.Goal(num_grasps=1)))  # the lock was released
        assert again.accepted
        _cancel(again)
        assert wait(again.get_result_async()).status == GoalStatus.STATUS_CANCELED


class MovingArm(FakeStages):
    """FakeStages whose execution server runs until cancelled (cancel accepted, reentrant group), like an arm moving
    to the object."""

    def __init__(self) -> None:
        super().__init__(execution_results=[(0, "lift")])
        self.execute.destroy()
        self.executing = threading.Event()
        self.execute = ActionServer(self, ExecuteGrasp, "execute_grasp", self._move,
                                    cancel_callback=lambda _: CancelResponse.ACCEPT,
                                    callback_group=ReentrantCallbackGroup())

    def _move(self, goal_handle):
        self.execute_calls += 1
        self.executing.set()
        while not goal_handle.is_cancel_requested:
            time.sleep(0.01)
        goal_handle.canceled()
        return ExecuteGrasp.Result(error_code=ExecuteGrasp.Result.CANCELLED, phase_reached="approach",
                                   message="cancelled")


def test_orchestrator_busy_rejected_and_cancel_returns_what_was_obtained(ros_context):
    """The orchestrator on the same skeleton: its cancel reaches the running execution goal, and the CANCELED
    result carries the observation and the candidates obtained before."""
    stages = MovingArm()
    orchestrator = OrchestratorNode(**params(server_timeout_s=5.0, diagnostics_period_s=0.0))
    client_node = Node("skeleton_grasp_client")
    goal = GraspObject.Goal(object_id="cube", num_candidates=3, refine=False, execute=True)
    with spinning(orchestrator, stages, client_node):
        client = ActionClient(client_node, GraspObject, "grasp_object")
        assert client.wait_for_server(timeout_sec=10.0)
        assert not wait(client.send_goal_async(GraspObject.Goal(num_candidates=0))).accepted  # invalid
        first = wait(client.send_goal_async(goal))
        assert first.accepted and stages.executing.wait(30.0) and _sub_goal_sent(orchestrator)
        assert not wait(client.send_goal_async(goal)).accepted  # busy
        _cancel(first)
        response = wait(first.get_result_async())
        assert response.status == GoalStatus.STATUS_CANCELED
        result = response.result
        assert result.error_code == GraspObject.Result.CANCELLED and result.failed_stage == "execution"
        assert len(result.candidates.grasps) == 3 and result.observation.object_id == "cube"
        assert result.executed_index == -1 and not result.object_lifted and stages.execute_calls == 1
        stages.executing.clear()
        again = wait(client.send_goal_async(goal))  # the lock was released
        assert again.accepted and stages.executing.wait(30.0) and _sub_goal_sent(orchestrator)
        _cancel(again)
        assert wait(again.get_result_async()).status == GoalStatus.STATUS_CANCELED


def test_orchestrator_exception_ends_aborted_with_failed_and_frees_the_lock(ros_context, monkeypatch):
    """An exception inside the orchestrator's run: ABORTED with FAILED and the reason (not rclpy's empty result),
    and the next goal is not refused as busy."""

    def boom(self, goal_handle):
        raise RuntimeError("stage table corrupted")

    monkeypatch.setattr(OrchestratorNode, "_run", boom)
    orchestrator = OrchestratorNode(**params(diagnostics_period_s=0.0))
    client_node = Node("skeleton_failing_client")
    goal = GraspObject.Goal(object_id="cube", num_candidates=1)
    with spinning(orchestrator, client_node):
        client = ActionClient(client_node, GraspObject, "grasp_object")
        assert client.wait_for_server(timeout_sec=10.0)
        for _ in range(2):  # the second goal is accepted: the lock was released
            handle = wait(client.send_goal_async(goal))
            assert handle.accepted
            response = wait(handle.get_result_async())
            assert response.status == GoalStatus.STATUS_ABORTED
            assert response.result.error_code == GraspObject.Result.FAILED
            assert response.result.message == "internal error: RuntimeError: stage table corrupted"
        assert "stage table corrupted" in orchestrator.last_error
