"""Execution node: ExecuteGrasp action server over an ``ExecutionBackend`` (MoveIt on the robot and in Gazebo).

- Rejects a new goal while one executes (lock taken in ``goal_callback``, released in ``finally``) and invalid goals
  (naming the field). Feedback at every phase boundary.
- Cancel: ``cancel_callback`` returns ACCEPT and stops the motion at once (``backend.stop()``: MoveIt's
  ``stop_execution`` + cancelling the hand's FollowJointTrajectory goal); the execute callback then returns CANCELLED.
- MoveItPy owns its own rclcpp node and executor: it is kept as an attribute under a distinct node name, never added
  to our executor.
"""

from __future__ import annotations

import threading

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from diffgrasp_ros.spin import spin_node

PARAMETERS = {
    "moveit_node_name": "diffgrasp_moveit_py",   # MoveItPy's own node (parameters come from the launch file)
    "planning_group": "arm_with_wrist",          # SRDF group moved to the palm poses
    "palm_link": "rh_palm",
    "base_frame": "world",
    "hand_action": "/hand_controller/follow_joint_trajectory",
    "hand_links": ["rh_palm", "rh_ffknuckle", "rh_mfknuckle", "rh_rfknuckle", "rh_lfknuckle", "rh_ffproximal", "rh_ffmiddle", "rh_ffdistal", "rh_mfproximal", "rh_mfmiddle",
                   "rh_mfdistal", "rh_rfproximal", "rh_rfmiddle", "rh_rfdistal", "rh_lfmetacarpal", "rh_lfproximal",
                   "rh_lfmiddle", "rh_lfdistal", "rh_thbase", "rh_thproximal", "rh_thhub", "rh_thmiddle",
                   "rh_thdistal"],
    "table_position": [0.0, 0.0, 0.0],           # extra table box centre in base_frame (m)
    "table_size": [0.0, 0.0, 0.0],               # its extents (m); zeros = no box (the cell URDF has the table)
    "approach_distance_m": 0.10,                 # defaults for goal fields left at 0
    "lift_height_m": 0.15,
    "velocity_scaling": 0.2,
    "close_duration_s": 0.8,
    "squeeze_duration_s": 0.8,
    "action_timeout_s": 10.0,
}


class ExecutionNode(Node):
    def __init__(self) -> None:
        super().__init__("execution")
        for name, default in PARAMETERS.items():
            self.declare_parameter(name, default)
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        self.defaults = {k: float(p[k]) for k in ("approach_distance_m", "lift_height_m", "velocity_scaling")}
        self._busy = threading.Lock()

        import numpy as np
        from moveit.planning import MoveItPy

        from diffgrasp_ros.moveit_backend import MoveItExecutionBackend

        table_pose = np.eye(4)
        table_pose[:3, 3] = p["table_position"]
        self.moveit = MoveItPy(node_name=p["moveit_node_name"])
        self.backend = MoveItExecutionBackend(
            self, self.moveit, planning_group=p["planning_group"], palm_link=p["palm_link"],
            base_frame=p["base_frame"], hand_action=p["hand_action"], hand_links=p["hand_links"],
            table_pose=table_pose, table_size=p["table_size"], close_duration_s=p["close_duration_s"],
            squeeze_duration_s=p["squeeze_duration_s"], action_timeout_s=p["action_timeout_s"])
        from diffgrasp_interfaces.action import ExecuteGrasp

        self.server = ActionServer(self, ExecuteGrasp, "execute_grasp", execute_callback=self._execute,
                                   goal_callback=self._on_goal, cancel_callback=self._on_cancel,
                                   callback_group=ReentrantCallbackGroup())

    def _on_goal(self, goal) -> GoalResponse:
        from diffgrasp_ros.action_messages import execute_goal_from_ros

        try:
            execute_goal_from_ros(goal, self.defaults)
        except ValueError as err:
            self.get_logger().warn(f"rejected ExecuteGrasp goal: {err}")
            return GoalResponse.REJECT
        if not self._busy.acquire(blocking=False):
            self.get_logger().warn("rejected ExecuteGrasp goal: an execution is active")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle) -> CancelResponse:
        self.backend.stop()
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle):
        try:
            return self._run(goal_handle)
        finally:
            self._busy.release()

    def _run(self, goal_handle):
        import numpy as np
        from diffgrasp_interfaces.action import ExecuteGrasp

        from diffgrasp_ros.action_messages import (
            execute_feedback_to_ros, execute_goal_from_ros, execute_result_to_ros, execution_result_to_ros,
        )
        from diffgrasp_ros.message_factory import RclpyFactory

        f, codes = RclpyFactory(), ExecuteGrasp.Result
        try:
            req = execute_goal_from_ros(goal_handle.request, self.defaults)
        except ValueError as err:
            goal_handle.abort()
            return execute_result_to_ros(f, codes.INVALID_GOAL, str(err))
        obs = req.observation
        grasp = req.grasp
        if req.grasp_frame != "object":  # palm pose given in the base frame: express it in the object frame
            from diffgrasp_ros.conversions import matrix_to_position_quaternion, position_quaternion_to_matrix

            palm = np.linalg.inv(obs.object_to_world) @ position_quaternion_to_matrix(grasp.palm_position,
                                                                                        grasp.palm_quaternion_xyzw)
            grasp.palm_position, grasp.palm_quaternion_xyzw = matrix_to_position_quaternion(palm)
        result = self.backend.execute(
            [grasp], obs.object_to_world, object_id=obs.object_id or "object", vertices=obs.vertices, faces=obs.faces,
            approach_distance_m=req.approach_distance_m, lift_height_m=req.lift_height_m,
            velocity_scaling=req.velocity_scaling, plan_only=req.plan_only,
            phase_callback=lambda phase: goal_handle.publish_feedback(execute_feedback_to_ros(f, phase)))
        if goal_handle.is_cancel_requested:
            result.reason = "cancelled"
        msg = execution_result_to_ros(f, result, codes)
        msg.trajectories = list(self.backend.last_trajectories)
        if result.reason == "cancelled":
            goal_handle.canceled()
        elif result.success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        return msg


def main(args=None) -> None:
    spin_node(ExecutionNode, num_threads=4, args=args)


if __name__ == "__main__":
    main()
