"""MoveIt execution backend (robot and Gazebo): the core's ``ExecutionBackend`` driven through moveit_py.

Phases (``phase_callback`` names; ``ExecutionResult.phase_reached`` uses the core's PHASES, where ``close`` covers
closing and squeezing):

1. pregrasp: palm to its stand-off pose (``approach_distance_m`` back along palm +y) with OMPL in free space,
   collision-checked against the table and the object; hand to its pregrasp shape.
2. approach: palm in a straight line (Pilz ``LIN``) to the grasp's pregrasp palm pose; hand–object contact allowed.
3. close, squeeze: hand pregrasp → grasp → squeeze targets. Then the grasp is MEASURED: fingers whose flexion joints
   stopped short of their squeeze targets by more than ``hold_threshold_rad`` are blocked by something; with at least
   ``min_blocked_fingers`` of them the hand holds the object (else it closed on air: reason ``slip``). The object is
   then attached to the palm link in the planning scene (hand links as touch links).
4. lift: palm straight up (Pilz ``LIN``) by ``lift_height_m``.
5. hold: the squeeze targets are commanded again and the fingers re-measured: still blocked = the object came up
   with the hand (``object_lifted`` True); closed further = it slipped out (``object_lifted`` False, reason ``slip``).

When a phase fails after the arm moved toward the object (approach aborted, close/squeeze failed, nothing grasped,
lift failed, object lost), the backend recovers before returning so that the next candidate can be tried: the hand
opens to its pregrasp shape (``diffgrasp.grasps.resolved_phases``), the object is detached, and the palm retreats in a
straight line along its own +y (``BACKOFF_AXIS``) by ``approach_distance_m``. After ``stop()`` nothing moves again
(reason ``cancelled``).

The arm goes through MoveIt (``MoveItPy.execute``, whose ``ExecutionStatus`` is checked: falsy = reason
``control``); the hand through a ``HandClient`` (default: the FollowJointTrajectory action of the hand controller).
``stop()`` (another thread) stops MoveIt's trajectory execution and cancels the hand goal; it never raises.

moveit_py API used (moveit2 ``jazzy`` branch = tag 2.12.4, ``moveit_py/src/moveit/``): ``MoveItPy.execute(
robot_trajectory, controllers)`` → ``ExecutionStatus`` (moveit_ros/moveit_cpp/moveit_cpp.cpp:159-165, truthy only when
SUCCEEDED: moveit_core/controller_manager/controller_manager.cpp:47-53); ``get_trajectory_execution_manager()``
(moveit_cpp.cpp:188; 2.9/2.10 bind only the misspelled ``get_trajactory_execution_manager``, moveit2#2951) →
``stop_execution(auto_clear=True)`` (moveit_ros/trajectory_execution_manager/trajectory_execution_manager.cpp:197-198);
``PlanRequestParameters(moveit, namespace)`` (moveit_ros/moveit_cpp/planning_component.cpp:204-235);
``PlanningScene.process_attached_collision_object(object)`` (moveit_core/planning_scene/planning_scene.cpp:225-226).

Imported without ROS (rclpy, control_msgs and moveit are imported where used); messages are built through a
``MessageFactory`` (rclpy classes by default), so the logic is tested with a fake MoveItPy and rosbags messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from diffgrasp.execution import CandidateReport, ExecutionBackend, ExecutionResult
from diffgrasp.grasp_phases import BACKOFF_AXIS, backed_off_position
from diffgrasp.grasps import Grasp, resolved_phases
from diffgrasp.hand.names import FINGER_JOINT_NAMES, FLEXION_JOINT_NAMES, JOINT_LIMITS
from diffgrasp_ros.conversions import (
    COLLISION_ADD,
    COLLISION_REMOVE,
    _collision_object,
    box_collision_object_to_ros,
    follow_joint_trajectory_goal,
    header_to_ros,
    joint_trajectory_to_ros,
    mesh_collision_object_to_ros,
    pose_matrix_from_ros,
    pose_matrix_to_ros,
    pose_to_ros,
    position_quaternion_to_matrix,
)
from diffgrasp_ros.message_factory import MessageFactory, RclpyFactory

EXECUTION_MANAGER_ACCESSORS = ("get_trajectory_execution_manager",   # moveit2 >= 2.11 (#2951): Jazzy 2.11+, Rolling
                               "get_trajactory_execution_manager")   # moveit2 2.9 / 2.10 (sic)
FINGERS = ("FF", "MF", "RF", "LF", "TH")
TABLE_BOX_ID = "table_box"


def backed_off(palm_to_world: np.ndarray, distance_m: float) -> np.ndarray:
    """rh_palm pose (4, 4) moved ``distance_m`` along its own +y (BACKOFF_AXIS, away from the palmar side; the rule
    of :mod:`diffgrasp.grasp_phases`)."""
    out = np.array(palm_to_world, dtype=float)
    out[:3, 3] = backed_off_position(out[:3, 3], out[:3, :3], distance_m)
    return out


def palm_waypoints(grasp: Grasp, object_to_world: np.ndarray, approach_distance_m: float) -> dict[str, np.ndarray]:
    """World poses (4, 4) of rh_palm: ``pregrasp`` (stand-off along palm +y), ``approach`` (the grasp's pregrasp palm
    pose) and ``grasp``."""
    phases = resolved_phases(grasp)
    approach = object_to_world @ position_quaternion_to_matrix(phases["pregrasp_palm_position"],
                                                               phases["pregrasp_palm_quaternion_xyzw"])
    grasp_pose = object_to_world @ position_quaternion_to_matrix(grasp.palm_position, grasp.palm_quaternion_xyzw)
    return {"pregrasp": backed_off(approach, approach_distance_m), "approach": approach, "grasp": grasp_pose}


def hand_targets(grasp: Grasp) -> np.ndarray:
    """(3, 22) finger joint targets (rad): pregrasp, grasp, squeeze (canonical order)."""
    phases = resolved_phases(grasp)
    return np.array([[phases[k][n] for n in FINGER_JOINT_NAMES]
                     for k in ("pregrasp_joints", "joints", "squeeze_joints")])


def blocked_fingers(measured: Mapping[str, float] | None, grasp_targets: np.ndarray, squeeze_targets: np.ndarray,
                    threshold_rad: float) -> list[str] | None:
    """Fingers (``FF MF RF LF TH``) that something stopped short of their squeeze targets; None = not measured.

    measured: joint name → position (rad) after the squeeze; grasp_targets, squeeze_targets: (22,) rad, canonical
    order. For each flexion joint (``FLEXION_JOINT_NAMES``) that the squeeze closes further (squeeze ≠ grasp), the
    shortfall is (squeeze target clipped to the joint's limits − measured) along the closing direction; a finger is
    blocked when any of its flexion joints falls short by more than ``threshold_rad``. Clipping matters: squeeze
    targets may pass the limits, and a free finger stops at its limit, not on an object.
    """
    if measured is None:
        return None
    index = {n: i for i, n in enumerate(FINGER_JOINT_NAMES)}
    blocked = []
    for finger in FINGERS:
        joints = [n for n in FLEXION_JOINT_NAMES if n.startswith(f"rh_{finger}J")]
        if any(n not in measured for n in joints):
            return None
        for name in joints:
            closing = float(np.sign(squeeze_targets[index[name]] - grasp_targets[index[name]]))
            target = float(np.clip(squeeze_targets[index[name]], *JOINT_LIMITS[name]))
            if closing != 0 and (target - float(measured[name])) * closing > threshold_rad:
                blocked.append(finger)
                break
    return blocked


def attached_collision_object_to_ros(f: MessageFactory, object_id: str, link_name: str, touch_links: Sequence[str],
                                     frame_id: str, *, detach: bool = False, detach_posture: Any = None) -> Any:
    """moveit_msgs/AttachedCollisionObject that attaches (ADD) or detaches (REMOVE) the world object ``object_id``.

    The object carries no geometry: on ADD MoveIt attaches the collision object of that id already in the world, where
    it is, to ``link_name`` (and removes it from the world); on REMOVE it puts it back into the world where it is
    (moveit_core/planning_scene/src/planning_scene.cpp, ``processAttachedCollisionObjectMsg``). ``touch_links``: links
    allowed to touch it (the hand links). ``detach_posture``: JointTrajectory that releases it (None = empty).
    """
    identity = pose_to_ros(f, np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0]))
    obj = _collision_object(f, object_id, frame_id, identity, primitives=[], primitive_poses=[], meshes=[],
                            mesh_poses=[], operation=COLLISION_REMOVE if detach else COLLISION_ADD, stamp_ns=0)
    if detach_posture is None:
        detach_posture = f("trajectory_msgs/msg/JointTrajectory", header=header_to_ros(f, ""), joint_names=[],
                           points=[])
    return f("moveit_msgs/msg/AttachedCollisionObject", link_name=str(link_name), object=obj,
             touch_links=[str(n) for n in touch_links], detach_posture=detach_posture, weight=0.0)


class HandClient(Protocol):
    """Moves the hand. ``move``: run a JointTrajectory (finger joints), wait up to ``timeout_s`` s; returns (ok, the
    measured joint positions name → rad at the end or None). ok = the trajectory ran to its end (fingers may have
    stopped short of it on an object). ``cancel``: stop the running goal now (any thread)."""

    def move(self, trajectory: Any, timeout_s: float) -> tuple[bool, dict[str, float] | None]: ...

    def cancel(self) -> None: ...


class ActionHand:
    """``HandClient`` over the hand controller's ``control_msgs/FollowJointTrajectory`` action (rclpy).

    Needs ``node`` spun by another thread (``MultiThreadedExecutor``; the client has its own callback group). ok:
    the goal SUCCEEDED, or was ABORTED with GOAL_TOLERANCE_VIOLATED (the fingers stopped short of the targets: what a
    squeeze on an object does when the controller checks goal tolerances). Configure the hand controller without
    path tolerances, or a finger blocked during the close aborts the goal. Measured positions: ``actual`` of the last
    feedback.
    """

    GOAL_TOLERANCE_VIOLATED = -5

    def __init__(self, node: Any, action_name: str, factory: MessageFactory, server_timeout_s: float) -> None:
        # ROS-only (rclpy, control_msgs): this module imports without ROS (module docstring)
        from action_msgs.msg import GoalStatus
        from control_msgs.action import FollowJointTrajectory
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup

        from diffgrasp_ros.action_client import SafeActionClient

        self.client = SafeActionClient(node, FollowJointTrajectory, action_name,
                                   callback_group=MutuallyExclusiveCallbackGroup())
        self.f, self.server_timeout_s = factory, server_timeout_s
        self._succeeded, self._aborted = GoalStatus.STATUS_SUCCEEDED, GoalStatus.STATUS_ABORTED
        self._goal: Any = None

    def move(self, trajectory: Any, timeout_s: float) -> tuple[bool, dict[str, float] | None]:
        if not self.client.wait_for_server(timeout_sec=self.server_timeout_s):
            return False, None
        actual: dict[str, float] = {}

        def on_feedback(msg: Any) -> None:
            fb = msg.feedback
            actual.update(zip(fb.joint_names, (float(v) for v in fb.actual.positions), strict=False))

        handle = self.client.send_goal_and_wait(follow_joint_trajectory_goal(self.f, trajectory),
                                                self.server_timeout_s, feedback_callback=on_feedback)
        if handle is None or not handle.accepted:
            return False, None
        self._goal = handle
        try:
            response = self.client.wait_for_result(handle, timeout_s)
            if response is None:
                handle.cancel_goal_async()
                return False, dict(actual) or None
        finally:
            self._goal = None
        ok = response.status == self._succeeded or (response.status == self._aborted and
                                                    response.result.error_code == self.GOAL_TOLERANCE_VIOLATED)
        return ok, dict(actual) or None

    def cancel(self) -> None:
        goal = self._goal
        if goal is not None:
            goal.cancel_goal_async()


class MoveItExecutionBackend(ExecutionBackend):
    """The grasp phases on the robot: arm through a ``MoveItPy`` instance (own node and executor), hand through a
    ``HandClient``.

    node: our rclpy node (the default hand client and the logger; may be None when ``hand`` is given).
    moveit: ``MoveItPy``. planning_group: SRDF group moved to the palm poses; palm_link: ``rh_palm``; base_frame: the
    planning frame of the palm poses (the robot model's root). hand_action: FollowJointTrajectory action of the hand
    controller (used by the default ``hand``). hand_links: links allowed to touch the object during approach and
    grasp, and its touch links once attached. table_pose (4, 4) / table_size (3,) m: an extra table box (zeros = none).
    close/squeeze_duration_s: hand motion times (s); action_timeout_s: extra wait for a hand motion or its server (s).

    Injected collaborators (defaults for the robot): ``hand`` (``HandClient``; default ``ActionHand``),
    ``joint_positions`` (``() -> {name: rad}``, a joint-state source read after each hand motion instead of the hand's
    own measurement), ``factory`` (``MessageFactory``; default rclpy classes), ``plan_request_parameters`` (the
    ``moveit.planning.PlanRequestParameters`` class, imported on first use by default).

    Planning: ``free_space_parameters`` (a PlanRequestParameters namespace of config/moveit/moveit_py.yaml, OMPL) for
    the pregrasp; ``linear_parameters`` namespace with ``linear_pipeline`` / ``linear_planner_id`` (Pilz LIN) for
    approach, lift and retreat. ``support_links``: links (the table) the attached object may touch when the lift
    starts. Grasp measurement: ``hold_threshold_rad`` (flexion shortfall of a blocked finger), ``min_blocked_fingers``;
    ``open_duration_s`` / ``hold_duration_s``: times of the pregrasp opening and of the hold re-check (s).
    """

    def __init__(self, node: Any, moveit: Any, *, planning_group: str, palm_link: str, base_frame: str,
                 hand_action: str, hand_links: Sequence[str], table_pose: np.ndarray, table_size: Sequence[float],
                 close_duration_s: float, squeeze_duration_s: float, action_timeout_s: float,
                 hand: HandClient | None = None, joint_positions: Callable[[], Mapping[str, float]] | None = None,
                 factory: MessageFactory | None = None,
                 plan_request_parameters: Callable[[Any, str], Any] | None = None,
                 free_space_parameters: str = "ompl_rrtc", linear_parameters: str = "pilz_lin",
                 linear_pipeline: str = "pilz_industrial_motion_planner", linear_planner_id: str = "LIN",
                 support_links: Sequence[str] = ("table",), hold_threshold_rad: float = 0.05,
                 min_blocked_fingers: int = 2, open_duration_s: float = 0.5, hold_duration_s: float = 0.3) -> None:
        self.node, self.moveit = node, moveit
        self.arm = moveit.get_planning_component(planning_group)
        self.palm_link, self.base_frame = palm_link, base_frame
        self.hand_links = list(hand_links)
        self.table_pose, self.table_size = np.asarray(table_pose, dtype=float), tuple(table_size)
        self.close_duration_s, self.squeeze_duration_s = close_duration_s, squeeze_duration_s
        self.open_duration_s, self.hold_duration_s = open_duration_s, hold_duration_s
        self.action_timeout_s = action_timeout_s
        self.f = factory if factory is not None else RclpyFactory()
        self.hand = hand if hand is not None else ActionHand(node, hand_action, self.f, action_timeout_s)
        self.joint_positions = joint_positions
        self._plan_request_parameters = plan_request_parameters
        self.free_space_parameters, self.linear_parameters = free_space_parameters, linear_parameters
        self.linear_pipeline, self.linear_planner_id = linear_pipeline, linear_planner_id
        self.support_links = list(support_links)
        self.hold_threshold_rad, self.min_blocked_fingers = hold_threshold_rad, min_blocked_fingers
        self.log = node.get_logger() if node is not None else logging.getLogger(__name__)
        self._stop = threading.Event()
        self._attached: str | None = None  # id of the object attached to the palm link in the planning scene
        self.last_trajectories: list = []

    # -- control -------------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop motion now (any thread; moveit2#2808: cancelling alone does not stop): MoveIt's trajectory execution
        manager ``stop_execution(auto_clear=True)`` and the hand goal's cancel. Never raises (errors are logged)."""
        self._stop.set()
        try:
            self._execution_manager().stop_execution(auto_clear=True)
        except Exception as err:  # noqa: BLE001 (a cancel callback must not raise; the hand is still cancelled)
            self.log.error(f"stop: MoveIt trajectory execution not stopped: {type(err).__name__}: {err}")
        try:
            self.hand.cancel()
        except Exception as err:  # noqa: BLE001
            self.log.error(f"stop: hand goal not cancelled: {type(err).__name__}: {err}")

    def _execution_manager(self) -> Any:
        for name in EXECUTION_MANAGER_ACCESSORS:
            getter = getattr(self.moveit, name, None)
            if getter is not None:
                return getter()
        raise AttributeError(f"MoveItPy has neither {' nor '.join(EXECUTION_MANAGER_ACCESSORS)}")

    # -- planning scene ------------------------------------------------------------------------------------------------
    def _scene(self, object_id: str, object_to_world: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
               allow_hand_contact: bool) -> None:
        obj = mesh_collision_object_to_ros(self.f, object_id, self.base_frame, object_to_world, vertices, faces)
        with self.moveit.get_planning_scene_monitor().read_write() as scene:
            if self._has_table_box():  # an extra table box (when the robot description has none)
                scene.apply_collision_object(box_collision_object_to_ros(self.f, TABLE_BOX_ID, self.base_frame,
                                                                         self.table_pose, self.table_size))
            scene.apply_collision_object(obj)
            for link in self.hand_links:
                scene.allowed_collision_matrix.set_entry(object_id, link, allow_hand_contact)
            scene.current_state.update()

    def _has_table_box(self) -> bool:
        return min(self.table_size) > 0

    def _supports(self) -> list[str]:
        return [*self.support_links, *([TABLE_BOX_ID] if self._has_table_box() else [])]

    def _attach(self, object_id: str, release_posture: Any) -> bool:
        """Attach the world object to the palm link (hand links as touch links; it may touch its support while the
        lift starts). False when MoveIt refused."""
        msg = attached_collision_object_to_ros(self.f, object_id, self.palm_link, self.hand_links, self.base_frame,
                                               detach_posture=release_posture)
        with self.moveit.get_planning_scene_monitor().read_write() as scene:
            if scene.process_attached_collision_object(msg) is False:
                return False
            for link in self._supports():
                scene.allowed_collision_matrix.set_entry(object_id, link, True)
            scene.current_state.update()
        self._attached = object_id
        return True

    def _detach(self) -> None:
        """Put the attached object back into the world where it is; never raises."""
        object_id, self._attached = self._attached, None
        if object_id is None:
            return
        try:
            msg = attached_collision_object_to_ros(self.f, object_id, self.palm_link, [], self.base_frame,
                                                   detach=True)
            with self.moveit.get_planning_scene_monitor().read_write() as scene:
                scene.process_attached_collision_object(msg)
                for link in self._supports():
                    scene.allowed_collision_matrix.set_entry(object_id, link, False)
                scene.current_state.update()
        except Exception as err:  # noqa: BLE001 (recovery goes on)
            self.log.error(f"detaching {object_id!r} failed: {type(err).__name__}: {err}")

    def _palm_pose(self, fallback: np.ndarray) -> np.ndarray:
        """Current rh_palm pose (4, 4) in the model frame from the planning scene (``fallback`` if unreadable)."""
        try:
            with self.moveit.get_planning_scene_monitor().read_only() as scene:
                state = scene.current_state
                state.update()
                return pose_matrix_from_ros(state.get_pose(self.palm_link), "palm pose")
        except Exception as err:  # noqa: BLE001
            self.log.warning(f"current palm pose unreadable ({type(err).__name__}: {err}): using the last target")
            return np.array(fallback, dtype=float)

    # -- motions -------------------------------------------------------------------------------------------------------
    def _params(self, linear: bool, velocity_scaling: float) -> Any:
        make = self._plan_request_parameters
        if make is None:
            from moveit.planning import PlanRequestParameters as make  # ROS-only: moveit_py, on a MoveIt machine
        params = make(self.moveit, self.linear_parameters if linear else self.free_space_parameters)
        if linear:  # a Cartesian straight line of the palm
            params.planning_pipeline, params.planner_id = self.linear_pipeline, self.linear_planner_id
        params.max_velocity_scaling_factor = velocity_scaling
        return params

    def _move_palm(self, pose: np.ndarray, *, linear: bool, velocity_scaling: float, plan_only: bool
                   ) -> tuple[Any, str]:
        """Plan rh_palm to ``pose`` (4, 4) in base_frame and execute it. Returns (JointTrajectory or None, status):
        ``ok``, ``unreachable`` (no plan), ``control`` (execution did not succeed), ``cancelled``."""
        target = self.f("geometry_msgs/msg/PoseStamped", header=header_to_ros(self.f, self.base_frame),
                        pose=pose_matrix_to_ros(self.f, pose))
        self.arm.set_start_state_to_current_state()
        self.arm.set_goal_state(pose_stamped_msg=target, pose_link=self.palm_link)
        plan = self.arm.plan(single_plan_parameters=self._params(linear, velocity_scaling))
        if not plan:
            return None, "unreachable"
        trajectory = plan.trajectory.get_robot_trajectory_msg().joint_trajectory
        if plan_only:
            return trajectory, "ok"
        if self._stop.is_set():
            return trajectory, "cancelled"
        status = self.moveit.execute(plan.trajectory, controllers=[])
        if self._stop.is_set():
            return trajectory, "cancelled"
        if not status:
            self.log.error(f"arm execution failed: {getattr(status, 'status', status)}")
            return trajectory, "control"
        return trajectory, "ok"

    def _move_hand(self, end: np.ndarray, duration_s: float, plan_only: bool
                   ) -> tuple[Any, str, dict[str, float] | None]:
        """Hand to ``end`` (22,) rad in ``duration_s``: one trajectory point (the controller interpolates from its
        current state; a point at t = 0 would be rejected or jump). Returns (JointTrajectory, status ``ok`` /
        ``control`` / ``cancelled``, measured positions name → rad or None)."""
        trajectory = joint_trajectory_to_ros(self.f, FINGER_JOINT_NAMES, [duration_s], end[None])
        if plan_only:
            return trajectory, "ok", None
        if self._stop.is_set():
            return trajectory, "cancelled", None
        ok, measured = self.hand.move(trajectory, duration_s + self.action_timeout_s)
        if self._stop.is_set():
            return trajectory, "cancelled", None
        if self.joint_positions is not None:
            try:
                measured = dict(self.joint_positions())
            except Exception as err:  # noqa: BLE001
                self.log.error(f"joint positions unreadable: {type(err).__name__}: {err}")
                measured = None
        return trajectory, "ok" if ok else "control", measured

    def _recover(self, open_shape: np.ndarray | None, last_target: np.ndarray, distance_m: float,
                 velocity_scaling: float) -> str:
        """After a failure near the object: open the hand to ``open_shape`` (22,) rad (None: it never closed), detach
        the object, retreat the palm ``distance_m`` along its +y in a straight line. Returns a note for the message."""
        notes = []
        if open_shape is not None:
            trajectory, status, _ = self._move_hand(open_shape, self.open_duration_s, False)
            self.last_trajectories.append(trajectory)
            notes.append("hand opened" if status == "ok" else f"hand not opened ({status})")
        self._detach()
        retreat = backed_off(self._palm_pose(last_target), distance_m)
        trajectory, status = self._move_palm(retreat, linear=True, velocity_scaling=velocity_scaling, plan_only=False)
        if trajectory is not None:
            self.last_trajectories.append(trajectory)
        notes.append("palm retreated" if status == "ok" else f"palm not retreated ({status})")
        return "; ".join(notes)

    # -- ExecutionBackend ----------------------------------------------------------------------------------------------
    def execute(self, grasps: Sequence[Grasp], object_pose_world: np.ndarray, *, object_id: str = "object",
                vertices: np.ndarray | None = None, faces: np.ndarray | None = None,
                approach_distance_m: float = 0.1, lift_height_m: float = 0.15, velocity_scaling: float = 0.2,
                plan_only: bool = False, phase_callback: Callable[[str], None] | None = None,
                **_: Any) -> ExecutionResult:
        """grasps: best first, palm poses in the object frame; object_pose_world: (4, 4) object → base_frame;
        vertices (N, 3) m / faces (F, 3): the object mesh in its frame. ``trajectories`` of every phase (arm and hand
        JointTrajectory messages, in order) are left in ``self.last_trajectories``. ``plan_only``: plan and build
        everything, move nothing, measure nothing (``object_lifted`` None)."""
        self._stop.clear()
        trajectories: list = []
        self.last_trajectories = trajectories
        if not grasps:
            return ExecutionResult(False, "home", "no_grasps", None, "no grasps given")
        vertices = np.zeros((0, 3)) if vertices is None else vertices
        faces = np.zeros((0, 3), np.int64) if faces is None else faces
        report = phase_callback or (lambda _: None)
        self._detach()  # an object a previous execution left attached goes back into the world first
        self._scene(object_id, object_pose_world, vertices, faces, allow_hand_contact=False)
        candidates: list[CandidateReport] = []

        def result(success: bool, phase: str, reason: str, message: str, lifted: bool | None = None
                   ) -> ExecutionResult:
            return ExecutionResult(success, phase, reason, index, message, candidates=candidates, object_lifted=lifted)

        index = None
        for i, grasp in enumerate(grasps):  # best first: the first reachable one is executed
            if self._stop.is_set():
                return result(False, "home", "cancelled", "cancelled before the pregrasp")
            palm = palm_waypoints(grasp, object_pose_world, approach_distance_m)
            report("pregrasp")
            trajectory, status = self._move_palm(palm["pregrasp"], linear=False, velocity_scaling=velocity_scaling,
                                                 plan_only=plan_only)
            if status == "unreachable":
                candidates.append(CandidateReport(i, "unreachable", "no collision-free plan to the pre-grasp pose"))
                continue
            index = i
            candidates.append(CandidateReport(i, "ok"))
            trajectories.append(trajectory)
            if status != "ok":
                return result(False, "pregrasp", status, f"pregrasp: arm motion {status}")
            break
        else:
            return result(False, "pregrasp", "unreachable", "no collision-free pre-grasp for any grasp")
        targets = hand_targets(grasps[index])
        lifted_pose = self._lifted(palm["approach"], lift_height_m)
        release = joint_trajectory_to_ros(self.f, FINGER_JOINT_NAMES, [self.open_duration_s], targets[0][None])

        def fail(phase: str, reason: str, message: str, *, opened: bool, last_target: np.ndarray,
                 lifted: bool | None = None) -> ExecutionResult:
            if reason != "cancelled" and not plan_only:
                message += " (" + self._recover(targets[0] if opened else None, last_target, approach_distance_m,
                                                velocity_scaling * 0.5) + ")"
            return result(False, phase, reason, message, lifted)

        trajectory, status, _ = self._move_hand(targets[0], self.open_duration_s, plan_only)
        trajectories.append(trajectory)
        if status != "ok":
            return result(False, "pregrasp", status, f"pregrasp: hand {status}")

        report("approach")
        self._scene(object_id, object_pose_world, vertices, faces, allow_hand_contact=True)
        trajectory, status = self._move_palm(palm["approach"], linear=True, velocity_scaling=velocity_scaling * 0.5,
                                             plan_only=plan_only)
        if trajectory is not None:
            trajectories.append(trajectory)
        if status == "unreachable" or status == "cancelled":  # nothing moved / rest where it is
            return result(False, "approach", status, f"approach: no straight-line plan ({status})"
                          if status == "unreachable" else "cancelled during the approach")
        if status != "ok":
            return fail("approach", status, "approach: arm motion failed", opened=False, last_target=palm["approach"])

        for phase, target, duration in (("close", targets[1], self.close_duration_s),
                                        ("squeeze", targets[2], self.squeeze_duration_s)):
            report(phase)
            trajectory, status, measured = self._move_hand(target, duration, plan_only)
            trajectories.append(trajectory)
            if status != "ok":
                return fail("close", status, f"{phase}: hand motion {status}", opened=True,
                            last_target=palm["approach"])
        if not plan_only:
            blocked = blocked_fingers(measured, targets[1], targets[2], self.hold_threshold_rad)
            if blocked is None:
                return fail("close", "control", "squeeze: no finger positions measured (hand feedback or "
                            "joint_positions): cannot tell whether the object is held", opened=True,
                            last_target=palm["approach"])
            if len(blocked) < self.min_blocked_fingers:
                return fail("close", "slip", f"the hand closed on air: {len(blocked)} finger(s) blocked "
                            f"{blocked} (< {self.min_blocked_fingers}, threshold {self.hold_threshold_rad} rad)",
                            opened=True, last_target=palm["approach"], lifted=False)
            if not self._attach(object_id, release):
                return fail("close", "control", f"could not attach {object_id!r} to {self.palm_link} in the planning "
                            "scene", opened=True, last_target=palm["approach"])

        report("lift")
        trajectory, status = self._move_palm(lifted_pose, linear=True, velocity_scaling=velocity_scaling,
                                             plan_only=plan_only)
        if trajectory is not None:
            trajectories.append(trajectory)
        if status != "ok":
            return fail("lift", status, f"lift: {'no straight-line plan' if status == 'unreachable' else status}",
                        opened=True, last_target=lifted_pose)
        if plan_only:
            return result(True, "lift", "ok", "planned only: nothing executed or measured")

        report("hold")  # re-command the squeeze: fingers close further if the object slipped out
        trajectory, status, measured = self._move_hand(targets[2], self.hold_duration_s, False)
        trajectories.append(trajectory)
        if status != "ok":
            return fail("hold", status, f"hold: hand motion {status}", opened=True, last_target=lifted_pose)
        blocked = blocked_fingers(measured, targets[1], targets[2], self.hold_threshold_rad)
        if blocked is None:
            return fail("hold", "control", "hold: no finger positions measured after the lift", opened=True,
                        last_target=lifted_pose)
        if len(blocked) < self.min_blocked_fingers:
            return fail("hold", "slip", f"the object slipped out during the lift: {len(blocked)} finger(s) still "
                        f"blocked {blocked}", opened=True, last_target=lifted_pose, lifted=False)
        return result(True, "hold", "ok", f"object held after the lift: fingers {blocked} blocked short of their "
                      "squeeze targets", lifted=True)

    @staticmethod
    def _lifted(pose: np.ndarray, height: float) -> np.ndarray:
        out = pose.copy()
        out[2, 3] += height
        return out


__all__ = ["BACKOFF_AXIS", "ActionHand", "HandClient", "MoveItExecutionBackend", "attached_collision_object_to_ros",
           "backed_off", "blocked_fingers", "hand_targets", "palm_waypoints"]
