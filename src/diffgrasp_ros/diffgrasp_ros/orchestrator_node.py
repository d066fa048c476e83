"""Orchestrator node: GraspObject action chaining capture → fusion → inference → refinement → execution.

Each stage is a call to the stage node's service/action (clients in a ReentrantCallbackGroup; futures awaited with
events, never by spinning). A stage counts as done only when its goal SUCCEEDED and its error code says so: a stage
server whose callback raised ends ABORTED with an empty result (error_code 0), which is a failure here. Feedback at
every stage boundary; cancelling forwards the cancel to the running sub-goal and returns CANCELLED with what was
obtained so far. One goal at a time (busy → rejected): the shared ``ExclusiveActionServer`` of lifecycle.py, as on the
stage nodes (an exception inside the run ends ABORTED with FAILED and the reason).

Execution tries the next candidate only when the previous one failed before the arm moved (no plan to the
pre-grasp: nothing touched the object); a failure after that ends the goal (the execution backend has opened the
hand and retreated), so the robot never starts another grasp with the hand on the object.
"""

from __future__ import annotations

import math
import threading
import time

from action_msgs.msg import GoalStatus
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from diffgrasp_interfaces.action import ExecuteGrasp, GraspObject, PredictGrasps, RefineGrasps
from diffgrasp_interfaces.srv import CaptureScene, FuseScene
from diffgrasp_ros.action_client import SafeActionClient
from diffgrasp_ros.action_messages import (
    grasp_object_feedback_to_ros,
    grasp_object_goal_from_ros,
    grasp_object_result_to_ros,
)
from diffgrasp_ros.lifecycle import COMMON_PARAMS, Diagnostics, ExclusiveActionServer, Param, declare_params
from diffgrasp_ros.message_factory import RclpyFactory
from diffgrasp_ros.spin import spin_node

PARAMETERS = {
    "server_timeout_s": Param(10.0, "wait this long for each stage's server (s)", (0.1, 600.0)),
    "capture_timeout_s": Param(5.0, "CaptureScene timeout (s)", (0.0, 600.0)),
    "refine_timeout_s": Param(60.0, "RefineGrasps time budget when the goal gives none (s)", (0.0, 3600.0)),
    "seed": Param(0, "refinement seed", (0, 2**31 - 1)),
    "mesh_dir": Param("", "passed to FuseScene.mesh_path as <mesh_dir>/<object_id>.ply when set"),
    "plan_only": Param(False, "execute in plan-only mode (dry runs on the robot)"),
    "diagnostics_period_s": COMMON_PARAMS["diagnostics_period_s"],
}
UNMOVED = ("", "home")
"""ExecuteGrasp phase_reached values that mean the arm never left for the object."""


_STATUS_NAMES = {GoalStatus.STATUS_ABORTED: "ABORTED", GoalStatus.STATUS_CANCELED: "CANCELED",
                 GoalStatus.STATUS_UNKNOWN: "UNKNOWN"}


class StageFailed(Exception):
    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


class OrchestratorNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("orchestrator", **kwargs)
        self.p = declare_params(self, PARAMETERS)
        self.last_error = ""
        # the node state ExclusiveActionServer works on (a StageNode's): a plain node is always active
        self.active = True
        self.busy = threading.Lock()
        self.goals = {"accepted": 0, "rejected": 0, "succeeded": 0, "failed": 0}
        self.diagnostics = Diagnostics(self, float(self.p["diagnostics_period_s"]), self._status)
        group = ReentrantCallbackGroup()
        self.capture_client = self.create_client(CaptureScene, "capture_scene", callback_group=group)
        self.fuse_client = self.create_client(FuseScene, "fuse_scene", callback_group=group)
        self.predict_client = SafeActionClient(self, PredictGrasps, "predict_grasps", callback_group=group)
        self.refine_client = SafeActionClient(self, RefineGrasps, "refine_grasps", callback_group=group)
        self.execute_client = SafeActionClient(self, ExecuteGrasp, "execute_grasp", callback_group=group)
        self._sub_goal = None
        self.server = ExclusiveActionServer(self, GraspObject, "grasp_object", validate=grasp_object_goal_from_ros,
                                            run=self._run, on_cancel=self._cancel_sub_goal)

    def _status(self) -> tuple[int, str, dict[str, str]]:
        busy = self.busy.locked()
        if self.last_error:
            return DiagnosticStatus.WARN[0], f"last goal failed: {self.last_error}", {"busy": str(busy)}
        return DiagnosticStatus.OK[0], "busy" if busy else "idle", {"busy": str(busy)}

    # -- plumbing ------------------------------------------------------------------------------------------------------
    @staticmethod
    def _wait(future, timeout_s, stage: str):
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout_s):
            raise StageFailed(stage, f"no answer within {timeout_s} s")
        return future.result()

    def _call(self, client, request, stage: str, timeout_s: float | None):
        if not client.wait_for_service(timeout_sec=self.p["server_timeout_s"]):
            raise StageFailed(stage, f"service {client.srv_name} not available")
        response = self._wait(client.call_async(request), timeout_s, stage)
        if response.error_code != 0:
            raise StageFailed(stage, response.message)
        return response

    def _action(self, client, goal, stage: str, timeout_s: float | None):
        if not client.wait_for_server(timeout_sec=self.p["server_timeout_s"]):
            raise StageFailed(stage, f"action server for {stage} not available")
        handle = client.send_goal_and_wait(goal, self.p["server_timeout_s"])
        if handle is None:
            raise StageFailed(stage, f"no answer within {self.p['server_timeout_s']} s")
        if not handle.accepted:
            raise StageFailed(stage, "goal rejected (busy or invalid; see that node's log)")
        self._sub_goal = handle
        try:
            response = client.wait_for_result(handle, timeout_s)
        finally:
            self._sub_goal = None
        if response is None:
            raise StageFailed(stage, f"no answer within {timeout_s} s")
        result = response.result
        if response.status not in (GoalStatus.STATUS_SUCCEEDED, GoalStatus.STATUS_CANCELED) and result.error_code == 0:
            # an exception in the server's callback: rclpy returns an empty result (code 0) with status ABORTED
            raise StageFailed(stage, f"the {stage} server ended the goal with status "
                                     f"{_STATUS_NAMES.get(response.status, response.status)} and no error code")
        return result

    # -- action server -------------------------------------------------------------------------------------------------
    def _cancel_sub_goal(self) -> None:
        """Cancel callback (the server accepts every cancel): forward it to the running stage goal."""
        if self._sub_goal is not None:
            self._sub_goal.cancel_goal_async()

    def _run(self, goal_handle):
        f, codes = RclpyFactory(), GraspObject.Result
        req = grasp_object_goal_from_ros(goal_handle.request)
        deadline = time.monotonic() + req.timeout_s if req.timeout_s > 0 else None
        state = {"observation": None, "candidates": None, "quality": math.nan}

        def remaining():
            return None if deadline is None else max(0.1, deadline - time.monotonic())

        def stage(name: str) -> None:
            if goal_handle.is_cancel_requested:
                raise StageFailed(name, "cancelled")
            if deadline is not None and time.monotonic() > deadline:
                raise StageFailed(name, "timeout")
            goal_handle.publish_feedback(grasp_object_feedback_to_ros(f, name, state["quality"]))

        try:
            stage("capture")
            views = self._call(self.capture_client, CaptureScene.Request(timeout_s=self.p["capture_timeout_s"]),
                               "capture", remaining()).views
            stage("fusion")
            mesh_path = f"{self.p['mesh_dir']}/{req.object_id}.ply" if self.p["mesh_dir"] else ""
            state["observation"] = self._call(self.fuse_client, FuseScene.Request(
                views=views, object_id=req.object_id, mesh_path=mesh_path), "fusion", remaining()).observation
            stage("inference")
            predicted = self._action(self.predict_client, PredictGrasps.Goal(
                observation=state["observation"], num_grasps=req.num_candidates), "inference", remaining())
            if predicted.error_code != 0:
                raise StageFailed("inference", predicted.message)
            state["candidates"] = predicted.grasps
            if req.refine:
                stage("refinement")
                budget = remaining() or self.p["refine_timeout_s"]
                refined = self._action(self.refine_client, RefineGrasps.Goal(
                    observation=state["observation"], initial_grasps=predicted.grasps,
                    num_grasps=req.num_candidates, timeout_s=float(budget), seed=self.p["seed"]),
                    "refinement", None if deadline is None else budget + 5.0)
                if refined.error_code not in (RefineGrasps.Result.SUCCESS, RefineGrasps.Result.TIME_BUDGET,
                                              RefineGrasps.Result.CANCELLED) or not refined.grasps.grasps:
                    raise StageFailed("refinement", refined.message)
                state["candidates"] = refined.grasps
                if refined.error_code == RefineGrasps.Result.CANCELLED:
                    raise StageFailed("refinement", "cancelled")
            grasps = state["candidates"].grasps
            state["quality"] = max((g.quality for g in grasps), default=math.nan)
            executed, lifted = -1, False
            if req.execute and grasps:
                stage("execution")
                for index, grasp in enumerate(grasps):  # best first; next candidate while nothing has moved
                    stage("execution")
                    out = self._action(self.execute_client, ExecuteGrasp.Goal(
                        grasp=grasp, observation=state["observation"], plan_only=self.p["plan_only"]),
                        "execution", remaining())
                    if out.error_code == ExecuteGrasp.Result.PLANNING_FAILED and out.phase_reached in UNMOVED:
                        continue
                    if out.error_code == ExecuteGrasp.Result.CANCELLED:
                        raise StageFailed("execution", "cancelled")
                    if out.error_code not in (ExecuteGrasp.Result.SUCCESS, ExecuteGrasp.Result.OBJECT_NOT_LIFTED):
                        raise StageFailed("execution", f"candidate {index} failed after the arm moved "
                                                       f"({out.phase_reached}): {out.message}")
                    executed, lifted = index, out.object_lifted
                    break
                else:
                    raise StageFailed("execution", "no candidate was reachable")
        except StageFailed as err:
            cancelled = str(err) == "cancelled" or goal_handle.is_cancel_requested
            code = codes.CANCELLED if cancelled else codes.TIMEOUT if str(err) == "timeout" else codes.STAGE_FAILED
            result = grasp_object_result_to_ros(f, code, f"{err.stage}: {err}", failed_stage=err.stage,
                                                observation_msg=state["observation"],
                                                candidates_msg=state["candidates"])
            self.last_error = f"{err.stage}: {err}"
            if cancelled:
                goal_handle.canceled()
            else:
                goal_handle.abort()
            return result
        self.last_error = ""
        goal_handle.succeed()
        return grasp_object_result_to_ros(f, codes.SUCCESS, "", observation_msg=state["observation"],
                                          candidates_msg=state["candidates"], executed_index=executed,
                                          object_lifted=lifted)


def main(args=None) -> None:
    spin_node(OrchestratorNode, num_threads=4, args=args)


if __name__ == "__main__":
    main()
