"""Execution node: ExecuteGrasp action server over an ``ExecutionBackend`` (lifecycle node).

- ``backend: moveit`` (robot and Gazebo): ``MoveItExecutionBackend`` over moveit_py (MoveItPy owns its own rclcpp node
  and executor: kept as an attribute under a distinct node name, never added to our executor).
  ``backend: mujoco`` (``diffgrasp ros-sim``): ``MujocoExecutionBackend`` with the UR10e + Shadow hand and the true
  object (``sim_object`` resting at ``sim_object_xy`` on the table, as the simulated cameras see it).
- One goal at a time (a new goal is rejected while one executes) and invalid goals rejected naming the field.
  Feedback at every phase boundary.
- Cancel: ``backend.stop()`` from the cancel callback's thread brings the robot to rest where it is (MoveIt: the
  trajectory execution manager's stop + cancelling the hand goal; MuJoCo: joints held within
  ``ExecutionConfig.stop_time`` of simulated time); the goal then ends CANCELLED with the phase reached.
- ``object_lifted`` comes from the backend's measurement only (MuJoCo: the object's height; MoveIt: the hand's
  joint positions), never from the absence of an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffgrasp.execution import ExecutionConfig, MujocoExecutionBackend
from diffgrasp.geometry import ObjectModel
from diffgrasp.sim.robot_scene import resting_pose
from diffgrasp_interfaces.action import ExecuteGrasp
from diffgrasp_ros.action_messages import (
    execute_feedback_to_ros,
    execute_goal_from_ros,
    execute_result_to_ros,
    execution_result_to_ros,
)
from diffgrasp_ros.conversions import matrix_to_position_quaternion, position_quaternion_to_matrix
from diffgrasp_ros.lifecycle import ExclusiveActionServer, Param, StageNode
from diffgrasp_ros.message_factory import RclpyFactory
from diffgrasp_ros.moveit_backend import MoveItExecutionBackend
from diffgrasp_ros.node_support import load_core_config
from diffgrasp_ros.spin import spin_node

HAND_LINKS = ["rh_palm", "rh_ffknuckle", "rh_mfknuckle", "rh_rfknuckle", "rh_lfknuckle", "rh_ffproximal",
              "rh_ffmiddle", "rh_ffdistal", "rh_mfproximal", "rh_mfmiddle", "rh_mfdistal", "rh_rfproximal",
              "rh_rfmiddle", "rh_rfdistal", "rh_lfmetacarpal", "rh_lfproximal", "rh_lfmiddle", "rh_lfdistal",
              "rh_thbase", "rh_thproximal", "rh_thhub", "rh_thmiddle", "rh_thdistal"]


class ExecutionNode(StageNode):
    PARAMETERS = {
        "backend": Param("moveit", "moveit (robot, Gazebo) or mujoco (diffgrasp ros-sim)"),
        "moveit_node_name": Param("diffgrasp_moveit_py", "MoveItPy's own node (parameters from the launch file)"),
        "planning_group": Param("arm_with_wrist", "SRDF group moved to the palm poses"),
        "palm_link": Param("rh_palm", "link whose pose the grasps give"),
        "base_frame": Param("world", "planning frame"),
        "hand_action": Param("/hand_controller/follow_joint_trajectory", "the hand's FollowJointTrajectory action"),
        "hand_links": Param(HAND_LINKS, "links allowed to touch the object during approach/close/lift"),
        "table_position": Param([0.0, 0.0, 0.0], "extra table box centre in base_frame (m)"),
        "table_size": Param([0.0, 0.0, 0.0], "its extents (m); zeros = no box (the cell URDF has the table)"),
        "approach_distance_m": Param(0.10, "default pre-grasp stand-off for goals leaving it 0 (m)", (0.0, 1.0)),
        "lift_height_m": Param(0.15, "default lift for goals leaving it 0 (m)", (0.0, 1.0)),
        "velocity_scaling": Param(0.2, "default velocity scaling for goals leaving it 0", (0.0, 1.0)),
        "close_duration_s": Param(0.8, "hand closing time (s)", (0.05, 30.0)),
        "squeeze_duration_s": Param(0.8, "hand squeeze time (s)", (0.05, 30.0)),
        "action_timeout_s": Param(10.0, "wait this long for a controller's answer (s)", (0.1, 600.0)),
        "sim_object": Param("", "mujoco backend: the true object mesh (m)"),
        "sim_object_xy": Param([0.0, 0.0], "mujoco backend: where it rests on the table (world x, y; table top z = 0)"),
        "execution_config": Param("", "mujoco backend: core ExecutionConfig YAML; '' = config/execution.yaml defaults"),
        "seed": Param(0, "mujoco backend: IK seed", (0, 2**31 - 1)),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("execution", **kwargs)
        self.backend = None
        self.server: ExclusiveActionServer | None = None

    def configure(self, params: dict[str, Any]) -> None:
        self.defaults = {k: float(params[k]) for k in ("approach_distance_m", "lift_height_m", "velocity_scaling")}
        if params["backend"] == "mujoco":
            self.backend = self._mujoco_backend(params)
        elif params["backend"] == "moveit":
            self.backend = self._moveit_backend(params)
        else:
            raise ValueError(f"backend: expected moveit or mujoco, got {params['backend']!r}")
        self.server = ExclusiveActionServer(self, ExecuteGrasp, "execute_grasp",
                                            validate=lambda goal: execute_goal_from_ros(goal, self.defaults),
                                            run=self._run, on_cancel=self.backend.stop)

    def cleanup(self) -> None:
        if self.server is not None:
            self.server.destroy()
        self.server, self.backend = None, None

    @staticmethod
    def _mujoco_backend(params: dict[str, Any]) -> Any:
        if not params["sim_object"]:
            raise ValueError("sim_object: the mujoco backend needs the true object mesh")
        mesh = ObjectModel.from_file(params["sim_object"]).mesh
        config = load_core_config(ExecutionConfig, params["execution_config"])
        pose = resting_pose(mesh, tuple(float(v) for v in params["sim_object_xy"]))
        return MujocoExecutionBackend(mesh, pose, config)

    def _moveit_backend(self, params: dict[str, Any]) -> Any:
        from moveit.planning import MoveItPy  # optional: moveit_py exists only on a ROS machine with MoveIt

        table_pose = np.eye(4)
        table_pose[:3, 3] = params["table_position"]
        self.moveit = MoveItPy(node_name=params["moveit_node_name"])
        return MoveItExecutionBackend(
            self, self.moveit, planning_group=params["planning_group"], palm_link=params["palm_link"],
            base_frame=params["base_frame"], hand_action=params["hand_action"], hand_links=params["hand_links"],
            table_pose=table_pose, table_size=params["table_size"], close_duration_s=params["close_duration_s"],
            squeeze_duration_s=params["squeeze_duration_s"], action_timeout_s=params["action_timeout_s"])

    def _run(self, goal_handle: Any) -> Any:
        f, codes = RclpyFactory(), ExecuteGrasp.Result
        try:
            req = execute_goal_from_ros(goal_handle.request, self.defaults)
        except ValueError as err:
            goal_handle.abort()
            return execute_result_to_ros(f, codes.INVALID_GOAL, str(err))
        obs, grasp = req.observation, req.grasp
        if req.grasp_frame != "object":  # palm pose given in the base frame: express it in the object frame
            palm = np.linalg.inv(obs.object_to_world) @ position_quaternion_to_matrix(grasp.palm_position,
                                                                                        grasp.palm_quaternion_xyzw)
            grasp.palm_position, grasp.palm_quaternion_xyzw = matrix_to_position_quaternion(palm)
        phases = {"pregrasp", "approach", "close", "squeeze", "lift"}
        result = self.backend.execute(
            [grasp], obs.object_to_world, object_id=obs.object_id or "object", vertices=obs.vertices, faces=obs.faces,
            approach_distance_m=req.approach_distance_m, lift_height_m=req.lift_height_m,
            velocity_scaling=req.velocity_scaling, plan_only=req.plan_only, seed=int(self.params["seed"]),
            phase_callback=lambda phase: phase in phases and goal_handle.publish_feedback(
                execute_feedback_to_ros(f, phase)))
        if goal_handle.is_cancel_requested and result.reason != "ok":
            result.reason = "cancelled"
        msg = execution_result_to_ros(f, result, codes)
        if hasattr(self.backend, "last_trajectories"):
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
