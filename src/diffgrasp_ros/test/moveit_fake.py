"""A recording fake of moveit_py's ``MoveItPy`` (and a fake hand) for the MoveIt backend tests: no ROS, no MoveIt.

Names, keyword names and return values follow the pybind11 bindings of moveit2, branch ``jazzy`` (identical, for
``moveit_py/src``, to tag 2.12.4, the current Jazzy release line; checked in a mirror of github.com/moveit/moveit2).
Paths below are relative to ``moveit_py/src/moveit/``, lines at tag 2.12.4:

- ``moveit_ros/moveit_cpp/moveit_cpp.cpp``
  - 159-165 ``MoveItPy.execute(robot_trajectory, controllers)``: ``controllers`` has no default, the GIL is released,
    returns ``moveit_controller_manager::ExecutionStatus`` (C++: ``moveit_ros/planning/moveit_cpp/src/moveit_cpp.cpp``
    203-228 returns ABORTED without controllers, else ``waitForExecution()``).
  - 166 ``get_planning_component(planning_component_name)``; 182 ``get_planning_scene_monitor()``;
  - 188 ``get_trajectory_execution_manager()``. Tags 2.9.0 and 2.10.0 bind it (line 173) only as the misspelled
    ``get_trajactory_execution_manager``; moveit2 #2951 (commit fc7993318) renamed it, first released in 2.11.0.
    ``FakeMoveItPy`` models >= 2.11, ``FakeMoveItPyOld`` 2.9/2.10.
- ``moveit_core/controller_manager/controller_manager.cpp`` 47-53: ``ExecutionStatus.status`` (``asString()``:
  "SUCCEEDED", "ABORTED", "PREEMPTED", ...) and ``__bool__`` = ``status == SUCCEEDED``
  (``moveit_core/controller_manager/include/moveit/controller_manager/controller_manager.hpp`` 71-74).
- ``moveit_ros/trajectory_execution_manager/trajectory_execution_manager.cpp`` 197-198:
  ``stop_execution(auto_clear=True)``.
- ``moveit_ros/moveit_cpp/planning_component.cpp``
  - 199-235 ``PlanRequestParameters(moveit_cpp, ns)`` (loads ``<ns>.plan_request_params``) with read/write
    ``planner_id``, ``planning_pipeline``, ``planning_attempts``, ``planning_time``, ``max_velocity_scaling_factor``,
    ``max_acceleration_scaling_factor``;
  - 288 ``set_start_state_to_current_state()``; 310-317 ``set_goal_state(configuration_name=None, robot_state=None,
    pose_stamped_msg=None, pose_link=None, motion_plan_constraints=None)``; 332-334 ``plan(single_plan_parameters=None,
    multi_plan_parameters=None, planning_scene=None, solution_selection_function=None,
    stopping_criterion_callback=None)``.
- ``moveit_core/planning_interface/planning_response.cpp`` 83 ``MotionPlanResponse.trajectory``, 98-100 ``__bool__``
  (error_code SUCCESS); ``moveit_core/robot_trajectory/robot_trajectory.cpp`` 167 ``get_robot_trajectory_msg()``
  (moveit_msgs/RobotTrajectory: ``joint_trajectory``, ``multi_dof_joint_trajectory``).
- ``moveit_ros/planning_scene_monitor/planning_scene_monitor.cpp`` 187-196 ``read_only()``/``read_write()`` and
  203-240 their context managers (``__enter__`` returns the locked ``PlanningScene``).
- ``moveit_core/planning_scene/planning_scene.cpp`` 133 ``current_state``, 144 ``allowed_collision_matrix``, 205-206
  ``apply_collision_object(collision_object_msg, color_msg=None)``, 225-226 ``process_attached_collision_object(
  object)`` (returns bool); ``moveit_core/collision_detection/collision_matrix.cpp`` 106-109 ``set_entry(name1,
  name2, allowed)``; ``moveit_core/robot_state/robot_state.cpp`` 263 ``get_pose(link_name)`` (geometry_msgs/Pose of
  the link in the model frame), 506 ``update(force=False, type="all")``.

Everything is recorded, in order, in one shared ``events`` list of ``(kind, details)`` tuples, so tests can check
what happened before what. Outcomes are scripted: ``plan_outcomes`` / ``execute_outcomes`` are consumed one per call
(True when exhausted); ``on_execute(call_index)`` runs inside ``execute`` (e.g. to call the backend's ``stop()``).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

Event = tuple[str, dict[str, Any]]


class ExecutionStatus:
    """``moveit.core.controller_manager.ExecutionStatus``: ``status`` string, truthy only when SUCCEEDED."""

    def __init__(self, status: str) -> None:
        self._status = status

    @property
    def status(self) -> str:
        return self._status

    def __bool__(self) -> bool:
        return self._status == "SUCCEEDED"


class TrajectoryExecutionManager:
    def __init__(self, events: list[Event], fail_with: Exception | None = None) -> None:
        self.events, self.fail_with = events, fail_with
        self.stops = 0

    def stop_execution(self, auto_clear: bool = True) -> None:
        self.stops += 1
        self.events.append(("stop_execution", {"auto_clear": auto_clear}))
        if self.fail_with is not None:
            raise self.fail_with


class RobotTrajectory:
    """``moveit.core.robot_trajectory.RobotTrajectory`` holding a JointTrajectory message."""

    def __init__(self, joint_trajectory: Any, label: str, goal_pose: Any = None) -> None:
        self.joint_trajectory, self.label, self.goal_pose = joint_trajectory, label, goal_pose

    def get_robot_trajectory_msg(self) -> Any:
        return types.SimpleNamespace(joint_trajectory=self.joint_trajectory, multi_dof_joint_trajectory=None)


class MotionPlanResponse:
    def __init__(self, trajectory: RobotTrajectory | None, success: bool) -> None:
        self.trajectory = trajectory
        self.error_code = types.SimpleNamespace(val=1 if success else -1)  # MoveItErrorCodes SUCCESS / FAILURE

    def __bool__(self) -> bool:
        return self.error_code.val == 1


class PlanRequestParameters:
    """``moveit.planning.PlanRequestParameters(moveit_py, ns)``: values of ``moveit.parameters[ns]`` (missing keys:
    the C++ defaults, empty strings and zeros)."""

    def __init__(self, moveit: FakeMoveItPy, ns: str = "") -> None:
        values = dict(moveit.parameters.get(ns, {}))
        self.namespace = ns
        self.planner_id: str = values.get("planner_id", "")
        self.planning_pipeline: str = values.get("planning_pipeline", "")
        self.planning_attempts: int = values.get("planning_attempts", 1)
        self.planning_time: float = values.get("planning_time", 1.0)
        self.max_velocity_scaling_factor: float = values.get("max_velocity_scaling_factor", 1.0)
        self.max_acceleration_scaling_factor: float = values.get("max_acceleration_scaling_factor", 1.0)


class PlanningComponent:
    def __init__(self, name: str, moveit: FakeMoveItPy) -> None:
        self.name, self.moveit = name, moveit
        self.goal: dict[str, Any] | None = None

    def set_start_state_to_current_state(self) -> None:
        self.moveit.events.append(("set_start_state_to_current_state", {"group": self.name}))

    def set_goal_state(self, configuration_name: str | None = None, robot_state: Any = None,
                       pose_stamped_msg: Any = None, pose_link: str | None = None,
                       motion_plan_constraints: Sequence[Any] | None = None) -> bool:
        self.goal = {"configuration_name": configuration_name, "robot_state": robot_state,
                     "pose_stamped_msg": pose_stamped_msg, "pose_link": pose_link,
                     "motion_plan_constraints": motion_plan_constraints}
        return True

    def plan(self, single_plan_parameters: PlanRequestParameters | None = None, multi_plan_parameters: Any = None,
             planning_scene: Any = None, solution_selection_function: Any = None,
             stopping_criterion_callback: Any = None) -> MotionPlanResponse:
        if single_plan_parameters is not None and multi_plan_parameters is not None:
            raise ValueError("Cannot specify both single and multi plan parameters")  # as the binding (line 58)
        m = self.moveit
        index = m.plan_calls
        m.plan_calls += 1
        success = m.plan_outcomes.pop(0) if m.plan_outcomes else True
        p = single_plan_parameters
        m.events.append(("plan", {
            "index": index, "group": self.name, "success": success, "goal": dict(self.goal or {}),
            "pipeline": getattr(p, "planning_pipeline", None), "planner_id": getattr(p, "planner_id", None),
            "namespace": getattr(p, "namespace", None),
            "max_velocity_scaling_factor": getattr(p, "max_velocity_scaling_factor", None),
            "attached": sorted(m.scene.attached)}))
        if not success:
            return MotionPlanResponse(None, False)
        goal = (self.goal or {}).get("pose_stamped_msg")
        return MotionPlanResponse(RobotTrajectory(m.trajectory_msg(index), f"plan{index}",
                                                  None if goal is None else goal.pose), True)


class AllowedCollisionMatrix:
    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.entries: dict[frozenset[str], bool] = {}

    def set_entry(self, name1: str, name2: str, allowed: bool) -> None:
        self.entries[frozenset((name1, name2))] = bool(allowed)
        self.events.append(("set_entry", {"names": (name1, name2), "allowed": bool(allowed)}))

    def get_entry(self, name1: str, name2: str) -> bool | None:
        return self.entries.get(frozenset((name1, name2)))


class RobotState:
    def __init__(self, moveit: FakeMoveItPy) -> None:
        self.moveit = moveit

    def update(self, force: bool = False, type: str = "all") -> None:  # noqa: A002 (the binding's name)
        pass

    def get_pose(self, link_name: str) -> Any:
        """``link_pose(link_name)`` when given; else the goal pose of the last motion that SUCCEEDED (the fake arm
        reaches its goals exactly; an aborted or preempted motion leaves it where it was)."""
        if self.moveit.link_pose is not None:
            return self.moveit.link_pose(link_name)
        if self.moveit.reached_pose is None:
            raise RuntimeError("the fake arm has not reached any pose yet")
        return self.moveit.reached_pose


class PlanningScene:
    """The locked scene: collision objects by id (world), attached object ids, the ACM."""

    def __init__(self, moveit: FakeMoveItPy) -> None:
        self.moveit, self.events = moveit, moveit.events
        self.world: dict[str, Any] = {}
        self.attached: dict[str, Any] = {}
        self.allowed_collision_matrix = AllowedCollisionMatrix(self.events)
        self.current_state = RobotState(moveit)
        self.known_links: set[str] | None = None  # None: every link name exists

    def apply_collision_object(self, collision_object_msg: Any, color_msg: Any = None) -> None:
        self.world[collision_object_msg.id] = collision_object_msg
        self.events.append(("apply_collision_object", {"id": collision_object_msg.id}))

    def process_attached_collision_object(self, object: Any) -> bool:  # noqa: A002 (the binding's keyword)
        """ADD with no geometry attaches the world object of that id; REMOVE puts it back (as MoveIt does)."""
        msg, oid = object, object.object.id
        self.events.append(("attached_collision_object", {"msg": msg, "operation": int(msg.object.operation)}))
        if int(msg.object.operation) == 0:  # ADD
            if self.known_links is not None and msg.link_name not in self.known_links:
                return False
            has_geometry = len(msg.object.primitives) or len(msg.object.meshes) or len(msg.object.planes)
            if not has_geometry and oid not in self.world:
                return False
            self.world.pop(oid, None)
            self.attached[oid] = msg
            return True
        if int(msg.object.operation) == 1 and oid in self.attached:  # REMOVE = detach
            self.world[oid] = self.attached.pop(oid)
            return True
        return False


class _LockedScene:
    def __init__(self, scene: PlanningScene, events: list[Event], mode: str) -> None:
        self.scene, self.events, self.mode = scene, events, mode

    def __enter__(self) -> PlanningScene:
        self.events.append(("scene_lock", {"mode": self.mode}))
        return self.scene

    def __exit__(self, *exc: Any) -> None:
        return None


class PlanningSceneMonitor:
    def __init__(self, scene: PlanningScene, events: list[Event]) -> None:
        self.scene, self.events = scene, events

    def read_only(self) -> _LockedScene:
        return _LockedScene(self.scene, self.events, "ro")

    def read_write(self) -> _LockedScene:
        return _LockedScene(self.scene, self.events, "rw")


class _FakeMoveItPyBase:
    """``MoveItPy`` without the execution-manager accessor (the subclasses add the name of their version)."""

    def __init__(self, *, events: list[Event] | None = None, parameters: Mapping[str, Mapping[str, Any]] | None = None,
                 link_pose: Callable[[str], Any] | None = None, factory: Any = None,
                 stop_fails_with: Exception | None = None) -> None:
        self.events: list[Event] = [] if events is None else events
        self.parameters = {k: dict(v) for k, v in (parameters or {}).items()}
        self.link_pose = link_pose
        self.factory = factory
        self.scene = PlanningScene(self)
        self.monitor = PlanningSceneMonitor(self.scene, self.events)
        self.manager = TrajectoryExecutionManager(self.events, stop_fails_with)
        self.plan_outcomes: list[bool] = []
        self.execute_outcomes: list[str | bool] = []  # True/"SUCCEEDED", False/"ABORTED", or a status string
        self.on_execute: Callable[[int], None] | None = None
        self.plan_calls = self.execute_calls = 0
        self.reached_pose: Any = None

    def trajectory_msg(self, index: int) -> Any:
        """A JointTrajectory message for plan ``index`` (through the factory when given, else a namespace)."""
        names = ["shoulder_pan_joint"]
        if self.factory is None:
            return types.SimpleNamespace(joint_names=names, points=[], plan_index=index)
        from diffgrasp_ros.conversions import joint_trajectory_to_ros

        return joint_trajectory_to_ros(self.factory, names, [1.0], np.array([[0.01 * index]]))

    def get_planning_component(self, planning_component_name: str) -> PlanningComponent:
        return PlanningComponent(planning_component_name, self)

    def get_planning_scene_monitor(self) -> PlanningSceneMonitor:
        return self.monitor

    def execute(self, robot_trajectory: RobotTrajectory, controllers: Sequence[str]) -> ExecutionStatus:
        index = self.execute_calls
        self.execute_calls += 1
        outcome = self.execute_outcomes.pop(0) if self.execute_outcomes else True
        status = {True: "SUCCEEDED", False: "ABORTED"}.get(outcome, outcome) if isinstance(outcome, bool) \
            else str(outcome)
        self.events.append(("execute", {"index": index, "trajectory": robot_trajectory.label,
                                        "controllers": list(controllers), "status": status}))
        stops = self.manager.stops
        if self.on_execute is not None:
            self.on_execute(index)
        if self.manager.stops > stops:
            status = "PREEMPTED"  # stop_execution during the motion: waitForExecution() reports PREEMPTED
        if status == "SUCCEEDED" and robot_trajectory.goal_pose is not None:
            self.reached_pose = robot_trajectory.goal_pose
        return ExecutionStatus(status)


class FakeMoveItPy(_FakeMoveItPyBase):
    """moveit2 >= 2.11 (Jazzy 2.11/2.12, Rolling): ``get_trajectory_execution_manager``."""

    def get_trajectory_execution_manager(self) -> TrajectoryExecutionManager:
        return self.manager


class FakeMoveItPyOld(_FakeMoveItPyBase):
    """moveit2 2.9 / 2.10: only the misspelled ``get_trajactory_execution_manager``."""

    def get_trajactory_execution_manager(self) -> TrajectoryExecutionManager:
        return self.manager


class FakeHand:
    """A ``HandClient``: records each goal's targets (name → rad, from the trajectory's last point) and answers
    ``physics(targets) -> measured positions`` (None: nothing measured); ``outcomes`` scripts ok per call (True when
    exhausted)."""

    def __init__(self, events: list[Event], physics: Callable[[dict[str, float]], dict[str, float] | None]
                 ) -> None:
        self.events, self.physics = events, physics
        self.outcomes: list[bool] = []
        self.moves: list[dict[str, float]] = []

    def move(self, trajectory: Any, timeout_s: float) -> tuple[bool, dict[str, float] | None]:
        targets = dict(zip(trajectory.joint_names, (float(v) for v in trajectory.points[-1].positions), strict=True))
        ok = self.outcomes.pop(0) if self.outcomes else True
        self.moves.append(targets)
        self.events.append(("hand_move", {"targets": targets, "ok": ok, "timeout_s": timeout_s}))
        return ok, self.physics(targets)

    def cancel(self) -> None:
        self.events.append(("hand_cancel", {}))


__all__ = ["ExecutionStatus", "FakeHand", "FakeMoveItPy", "FakeMoveItPyOld", "PlanRequestParameters"]
