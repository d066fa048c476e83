"""Refinement node: RefineGrasps action server around ``diffgrasp.planning.plan_grasps``.

- One goal at a time: a goal arriving while one runs is rejected (lock taken in ``goal_callback``, released in the
  execute callback's ``finally``); invalid goals are rejected naming the field.
- MultiThreadedExecutor; the action server lives in a ReentrantCallbackGroup so goal/cancel requests are served while
  the execute callback runs (torch releases the GIL); the status timer is in a MutuallyExclusiveCallbackGroup.
- Feedback every ``feedback_every`` iterations (the planner's ``progress`` callback); cancellation is checked between
  iterations (``should_cancel``) and returns the best grasps found so far with CANCELLED.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node

from diffgrasp_ros.spin import spin_node

PARAMETERS = {
    "planner_config": "",      # core PlannerConfig YAML (config/planner.yaml); "" = dataclass defaults
    "device": "cpu",           # torch device: cpu or cuda
    "feedback_every": 10,      # publish feedback every N iterations (overrides optim.feedback_every)
    "status_period_s": 5.0,    # log "busy/idle" at this period (0 = off)
}


class RefinementNode(Node):
    def __init__(self) -> None:
        super().__init__("refinement")
        for name, default in PARAMETERS.items():
            self.declare_parameter(name, default)
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        from diffgrasp.planning.planner_config import PlannerConfig

        from diffgrasp_ros.node_support import load_core_config

        self.config = load_core_config(PlannerConfig, p["planner_config"])
        self.device = p["device"]
        self.feedback_every = max(1, int(p["feedback_every"]))
        self._busy = threading.Lock()

        from diffgrasp_interfaces.action import RefineGrasps

        self.server = ActionServer(self, RefineGrasps, "refine_grasps", execute_callback=self._execute,
                                   goal_callback=self._on_goal, cancel_callback=self._on_cancel,
                                   callback_group=ReentrantCallbackGroup())
        if p["status_period_s"] > 0:
            self.create_timer(p["status_period_s"], self._log_status, callback_group=MutuallyExclusiveCallbackGroup())

    def _log_status(self) -> None:
        self.get_logger().debug("busy" if self._busy.locked() else "idle")

    def _on_goal(self, goal) -> GoalResponse:
        from diffgrasp_ros.action_messages import refine_goal_from_ros
        from diffgrasp_ros.node_support import apply_overrides

        try:
            req = refine_goal_from_ros(goal)
            apply_overrides(self.config, req.max_iterations, req.weights, req.timeout_s,
                            self.feedback_every)
        except ValueError as err:
            self.get_logger().warn(f"rejected RefineGrasps goal: {err}")
            return GoalResponse.REJECT
        if not self._busy.acquire(blocking=False):
            self.get_logger().warn("rejected RefineGrasps goal: busy with another refinement")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle) -> CancelResponse:
        return CancelResponse.ACCEPT  # rclpy's default rejects every cancel

    def _execute(self, goal_handle):
        try:
            return self._refine(goal_handle)
        finally:
            self._busy.release()

    def _refine(self, goal_handle):
        import trimesh
        from diffgrasp.geometry import ObjectModel
        from diffgrasp.grasps import GraspSet
        from diffgrasp.planning.planner import plan_grasps
        from diffgrasp_interfaces.action import RefineGrasps

        from diffgrasp_ros.action_messages import refine_feedback_to_ros, refine_goal_from_ros, refine_result_to_ros
        from diffgrasp_ros.conversions import grasp_set_to_ros
        from diffgrasp_ros.message_factory import RclpyFactory
        from diffgrasp_ros.node_support import apply_overrides

        f, codes = RclpyFactory(), RefineGrasps.Result
        start = time.monotonic()
        try:
            req = refine_goal_from_ros(goal_handle.request)
            config = apply_overrides(self.config, req.max_iterations, req.weights, req.timeout_s,
                                     self.feedback_every)
        except ValueError as err:
            goal_handle.abort()
            return refine_result_to_ros(f, codes.INVALID_GOAL, str(err))
        obs = req.observation

        def progress(info) -> None:  # ProgressInfo, every optim.feedback_every iterations (set from feedback_every)
            goal_handle.publish_feedback(refine_feedback_to_ros(f, info.iteration, info.total_iterations,
                                                                info.best_loss, info.terms, info.elapsed_s))

        try:
            with tempfile.TemporaryDirectory() as tmp:  # ObjectModel validates a mesh file (watertight, units)
                path = Path(tmp) / f"{obs.object_id or 'object'}.ply"
                trimesh.Trimesh(obs.vertices, obs.faces, process=False).export(path)
                obj = ObjectModel.from_file(path)
                result = plan_grasps(obj, k=req.num_grasps, seed=req.seed, config=config, device=self.device,
                                     progress=progress, should_cancel=lambda: goal_handle.is_cancel_requested,
                                     initial_grasps=None if req.initial_grasps is None
                                     else req.initial_grasps.grasps)
        except (ValueError, FileNotFoundError) as err:
            goal_handle.abort()
            return refine_result_to_ros(f, codes.INVALID_GOAL, str(err))
        except RuntimeError as err:
            goal_handle.abort()
            return refine_result_to_ros(f, codes.FAILED, str(err))
        grasp_set = GraspSet(obs.object_id, obs.mesh_path, list(result.grasps))
        set_msg = grasp_set_to_ros(f, grasp_set, object_id=obs.object_id, frame_id="object",
                                   stamp_ns=self.get_clock().now().nanoseconds, source="refined")
        fields = dict(status=result.status, grasp_set_msg=set_msg, iterations=result.iterations,
                      best_loss=result.best_loss, loss_terms=result.loss_terms,
                      planning_time_s=time.monotonic() - start)
        if result.status == "cancelled":
            goal_handle.canceled()
            return refine_result_to_ros(f, codes.CANCELLED, "cancelled: best grasps so far", **fields)
        if not result.grasps:
            goal_handle.abort()
            return refine_result_to_ros(f, codes.NO_VALID_GRASP, "no acceptable grasp", **fields)
        goal_handle.succeed()
        if result.status == "time_budget":
            return refine_result_to_ros(f, codes.TIME_BUDGET, "time budget reached", **fields)
        return refine_result_to_ros(f, codes.SUCCESS, "", **fields)


def main(args=None) -> None:
    spin_node(RefinementNode, num_threads=3, args=args)


if __name__ == "__main__":
    main()
