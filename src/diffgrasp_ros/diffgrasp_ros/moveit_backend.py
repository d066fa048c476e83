"""MoveIt execution backend (robot and Gazebo): the core's ``ExecutionBackend`` driven through moveit_py.

Phases: pregrasp (arm to the pre-grasp pose, collision-checked against the table and the object; hand to its
pregrasp shape) → approach (palm to its pregrasp pose, hand–object contact allowed) → close (hand pregrasp → grasp)
→ squeeze (grasp → squeeze targets) → lift. The arm goes through MoveIt (``robot.execute``); the hand through its
FollowJointTrajectory controller. ``stop()`` (from another thread) stops MoveIt's execution and cancels the hand goal.

Imported only on a ROS machine (needs moveit_py and rclpy); the message building it does is ROS-free and tested.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from diffgrasp.execution import ExecutionBackend, ExecutionResult
from diffgrasp.grasps import Grasp, resolved_phases
from diffgrasp.hand.names import FINGER_JOINT_NAMES

from diffgrasp_ros.conversions import (
    box_collision_object_to_ros, follow_joint_trajectory_goal, joint_trajectory_to_ros,
    mesh_collision_object_to_ros, pose_matrix_to_ros, position_quaternion_to_matrix,
)
from diffgrasp_ros.message_factory import RclpyFactory

BACKOFF_AXIS = 1  # the palmar side faces -y of rh_palm: backing away from the object is +y


def palm_waypoints(grasp: Grasp, object_to_world: np.ndarray, approach_distance_m: float) -> dict[str, np.ndarray]:
    """World poses (4, 4) of rh_palm: ``pregrasp`` (stand-off along palm +y), ``approach`` (the grasp's pregrasp palm
    pose) and ``grasp``."""
    phases = resolved_phases(grasp)
    approach = object_to_world @ position_quaternion_to_matrix(phases["pregrasp_palm_position"],
                                                               phases["pregrasp_palm_quaternion_xyzw"])
    pregrasp = approach.copy()
    pregrasp[:3, 3] += approach[:3, BACKOFF_AXIS] * approach_distance_m
    grasp_pose = object_to_world @ position_quaternion_to_matrix(grasp.palm_position, grasp.palm_quaternion_xyzw)
    return {"pregrasp": pregrasp, "approach": approach, "grasp": grasp_pose}


def hand_targets(grasp: Grasp) -> np.ndarray:
    """(3, 22) finger joint targets (rad): pregrasp, grasp, squeeze (canonical order)."""
    phases = resolved_phases(grasp)
    return np.array([[phases[k][n] for n in FINGER_JOINT_NAMES]
                     for k in ("pregrasp_joints", "joints", "squeeze_joints")])


class MoveItExecutionBackend(ExecutionBackend):
    """node: our rclpy node (for the hand action client); moveit: a ``MoveItPy`` instance (own node and executor)."""

    def __init__(self, node: Any, moveit: Any, *, planning_group: str, palm_link: str, base_frame: str,
                 hand_action: str, hand_links: Sequence[str], table_pose: np.ndarray, table_size: Sequence[float],
                 close_duration_s: float, squeeze_duration_s: float, action_timeout_s: float) -> None:
        from control_msgs.action import FollowJointTrajectory
        from rclpy.action import ActionClient
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup

        self.node, self.moveit = node, moveit
        self.arm = moveit.get_planning_component(planning_group)
        self.palm_link, self.base_frame = palm_link, base_frame
        self.hand_links = list(hand_links)
        self.table_pose, self.table_size = np.asarray(table_pose, dtype=float), tuple(table_size)
        self.close_duration_s, self.squeeze_duration_s = close_duration_s, squeeze_duration_s
        self.action_timeout_s = action_timeout_s
        self.hand_client = ActionClient(node, FollowJointTrajectory, hand_action,
                                        callback_group=MutuallyExclusiveCallbackGroup())
        self.f = RclpyFactory()
        self._stop = threading.Event()
        self._hand_goal = None
        self.last_trajectories: list = []

    # -- control --------------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop motion now (called from the cancel callback's thread; moveit2#2808: cancel alone does not stop)."""
        self._stop.set()
        self.moveit.get_trajactory_execution_manager().stop_execution(True)  # sic: moveit_py's spelling
        if self._hand_goal is not None:
            self._hand_goal.cancel_goal_async()

    def _scene(self, object_id: str, object_to_world: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
               allow_hand_contact: bool) -> None:
        obj = mesh_collision_object_to_ros(self.f, object_id, self.base_frame, object_to_world, vertices, faces)
        with self.moveit.get_planning_scene_monitor().read_write() as scene:
            if min(self.table_size) > 0:  # an extra table box (when the robot description has none)
                scene.apply_collision_object(box_collision_object_to_ros(self.f, "table_box", self.base_frame,
                                                                         self.table_pose, self.table_size))
            scene.apply_collision_object(obj)
            for link in self.hand_links:
                scene.allowed_collision_matrix.set_entry(object_id, link, allow_hand_contact)
            scene.current_state.update()

    def _move_palm(self, pose: np.ndarray, velocity_scaling: float, plan_only: bool):
        from geometry_msgs.msg import PoseStamped
        from moveit.planning import PlanRequestParameters

        target = PoseStamped()
        target.header.frame_id = self.base_frame
        target.pose = pose_matrix_to_ros(self.f, pose)
        self.arm.set_start_state_to_current_state()
        self.arm.set_goal_state(pose_stamped_msg=target, pose_link=self.palm_link)
        params = PlanRequestParameters(self.moveit, "ompl_rrtc")
        params.max_velocity_scaling_factor = velocity_scaling
        plan = self.arm.plan(single_plan_parameters=params)
        if not plan:
            return None
        if not plan_only and not self._stop.is_set():
            self.moveit.execute(plan.trajectory, controllers=[])
        return plan.trajectory.get_robot_trajectory_msg().joint_trajectory

    def _move_hand(self, start: np.ndarray, end: np.ndarray, duration_s: float, plan_only: bool):
        """Hand from ``start`` (where it is) to ``end`` (22,) rad in ``duration_s``: one trajectory point; the
        controller interpolates from its current state (a point at t = 0 would be rejected or jump)."""
        del start
        traj = joint_trajectory_to_ros(self.f, FINGER_JOINT_NAMES, [duration_s], end[None])
        if plan_only or self._stop.is_set():
            return traj, True
        if not self.hand_client.wait_for_server(timeout_sec=self.action_timeout_s):
            return traj, False
        done = threading.Event()
        future = self.hand_client.send_goal_async(follow_joint_trajectory_goal(self.f, traj))
        future.add_done_callback(lambda _: done.set())
        if not done.wait(self.action_timeout_s) or not future.result().accepted:
            return traj, False
        self._hand_goal = future.result()
        done.clear()
        result_future = self._hand_goal.get_result_async()
        result_future.add_done_callback(lambda _: done.set())
        ok = done.wait(duration_s + self.action_timeout_s) and result_future.result().result.error_code == 0
        self._hand_goal = None
        return traj, ok

    # -- ExecutionBackend ---------------------------------------------------------------------------------------------------
    def execute(self, grasps: Sequence[Grasp], object_pose_world: np.ndarray, *, object_id: str = "object",
                vertices: np.ndarray | None = None, faces: np.ndarray | None = None,
                approach_distance_m: float = 0.1, lift_height_m: float = 0.15, velocity_scaling: float = 0.2,
                plan_only: bool = False, phase_callback: Callable[[str], None] | None = None,
                **_: Any) -> ExecutionResult:
        self._stop.clear()
        if not grasps:
            return ExecutionResult(False, "", "no_grasps", None, "no grasps given")
        vertices = np.zeros((0, 3)) if vertices is None else vertices
        faces = np.zeros((0, 3), np.int64) if faces is None else faces
        report = phase_callback or (lambda _: None)
        self._scene(object_id, object_pose_world, vertices, faces, allow_hand_contact=False)
        trajectories: list = []  # JointTrajectory messages of every phase, in order (read by the node)
        self.last_trajectories = trajectories
        for index, grasp in enumerate(grasps):  # best first: the first reachable one is executed
            palm = palm_waypoints(grasp, object_pose_world, approach_distance_m)
            report("pregrasp")
            arm_traj = self._move_palm(palm["pregrasp"], velocity_scaling, plan_only)
            if arm_traj is None:
                continue
            trajectories.append(arm_traj)
            targets = hand_targets(grasp)
            break
        else:
            return ExecutionResult(False, "", "unreachable", None, "no collision-free pre-grasp for any grasp",
                                   trajectories=None)
        hand_traj, ok = self._move_hand(targets[0], targets[0], 0.5, plan_only)
        trajectories.append(hand_traj)
        if not ok:
            return self._failed(index, "pregrasp", "control", "hand did not reach the pregrasp shape")
        steps = [("approach", lambda: self._move_palm(palm["approach"], velocity_scaling * 0.5, plan_only)),
                 ("close", lambda: self._move_hand(targets[0], targets[1], self.close_duration_s, plan_only)),
                 ("squeeze", lambda: self._move_hand(targets[1], targets[2], self.squeeze_duration_s, plan_only)),
                 ("lift", lambda: self._move_palm(self._lifted(palm["approach"], lift_height_m), velocity_scaling,
                                                  plan_only))]
        reached = "pregrasp"
        for phase, run in steps:
            if self._stop.is_set():
                return self._failed(index, reached, "cancelled", f"cancelled before {phase}")
            report(phase)
            if phase == "approach":
                self._scene(object_id, object_pose_world, vertices, faces, allow_hand_contact=True)
            out = run()
            traj, ok = out if isinstance(out, tuple) else (out, out is not None)
            if traj is not None:
                trajectories.append(traj)
            if not ok:
                reason = "unreachable" if phase in ("approach", "lift") else "control"
                return self._failed(index, reached, reason, f"{phase} failed")
            reached = phase
        return ExecutionResult(True, "lift", "ok", index, "lifted (object motion not sensed)")

    def _failed(self, index: int, reached: str, reason: str, message: str) -> ExecutionResult:
        return ExecutionResult(False, reached, reason, index, message)

    @staticmethod
    def _lifted(pose: np.ndarray, height: float) -> np.ndarray:
        out = pose.copy()
        out[2, 3] += height
        return out


__all__ = ["MoveItExecutionBackend", "hand_targets", "palm_waypoints"]
