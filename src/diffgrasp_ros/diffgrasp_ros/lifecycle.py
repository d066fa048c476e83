"""What every diffgrasp node shares: typed parameters with descriptors, the lifecycle, /diagnostics, and the
busy/cancel/execute skeleton of an action server.

- ``Param``: default, description and range of one ROS parameter; ``declare_params`` declares them with
  ``ParameterDescriptor`` (ranges enforced by rclpy on ``ros2 param set``) and reads them back into a dict.
- ``StageNode``: an ``rclpy.lifecycle.Node`` for the nodes that hold hardware or models (capture, fusion, inference,
  refinement, execution). ``on_configure`` reads the parameters and calls ``configure(params)`` (load models, create
  servers); ``on_cleanup``/``on_shutdown`` call ``cleanup()``. Action servers and services exist from configure on
  and refuse work unless the node is active. With the parameter ``autostart`` (default true) ``spin_node``
  configures and activates the node right after it is constructed (what launch does with lifecycle events).
- ``Diagnostics``: a ``diagnostic_msgs/DiagnosticArray`` on ``/diagnostics`` every ``diagnostics_period_s`` with the
  node's state (OK idle/active, WARN inactive/busy, ERROR after a failure until the next success).
- ``ExclusiveActionServer``: one goal at a time (a second one is rejected while one runs), goals validated in the goal
  callback (rejected naming the field), cancel always accepted (rclpy's default rejects every cancel), and an
  exception inside the execute callback logged with its traceback and returned as ``FAILED`` with the reason —
  rclpy alone would return an empty result (error_code 0 = SUCCESS) with status ABORTED.
"""

from __future__ import annotations

import dataclasses
import threading
import traceback
from collections.abc import Callable
from typing import Any

from action_msgs.msg import GoalStatus
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.node import Node


@dataclasses.dataclass(frozen=True)
class Param:
    """One ROS parameter: default (its type is the parameter's type), description, inclusive (low, high) range."""

    default: Any
    description: str
    range: tuple[float, float] | None = None


COMMON_PARAMS = {
    "autostart": Param(True, "configure and activate right after start (false: wait for lifecycle transitions)"),
    "diagnostics_period_s": Param(1.0, "period of the node's /diagnostics status (s; 0 = off)", (0.0, 60.0)),
}


def _descriptor(name: str, param: Param) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(name=name, description=param.description)
    if param.range is not None:
        low, high = param.range
        if isinstance(param.default, bool) or not isinstance(param.default, (int, float)):
            raise TypeError(f"{name}: a range needs a numeric default")
        if isinstance(param.default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
        else:
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high),
                                                                  step=0.0)]
    return descriptor


def declare_params(node: Node, params: dict[str, Param]) -> dict[str, Any]:
    """Declare ``params`` on ``node`` (descriptions and ranges) and return their values by name. A value outside its
    range (from a YAML or the command line) raises rclpy's InvalidParameterValueException naming the parameter."""
    for name, param in params.items():
        if not node.has_parameter(name):
            node.declare_parameter(name, param.default, _descriptor(name, param))
    return {name: node.get_parameter(name).value for name in params}


class Diagnostics:
    """Publishes the node's status on /diagnostics; ``status()`` gives (level, message, key/values)."""

    def __init__(self, node: Node, period_s: float, status: Callable[[], tuple[int, str, dict[str, str]]]) -> None:
        self.node, self.status = node, status
        self.publisher = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.timer = (node.create_timer(period_s, self.publish, callback_group=MutuallyExclusiveCallbackGroup())
                      if period_s > 0 else None)

    def publish(self) -> None:
        level, message, values = self.status()
        name = self.node.get_fully_qualified_name()
        entry = DiagnosticStatus(level=bytes([level]), name=name.lstrip("/"), message=message,
                                 hardware_id="diffgrasp",
                                 values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        array = DiagnosticArray(status=[entry])
        array.header.stamp = self.node.get_clock().now().to_msg()
        self.publisher.publish(array)


class StageNode(LifecycleNode):
    """Base of the lifecycle nodes. Subclasses set ``PARAMETERS`` and implement ``configure``/``cleanup``."""

    PARAMETERS: dict[str, Param] = {}

    def __init__(self, node_name: str, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.params = declare_params(self, {**COMMON_PARAMS, **self.PARAMETERS})
        self.active = False
        self.busy = threading.Lock()
        self.last_error = ""
        self.goals = {"accepted": 0, "rejected": 0, "succeeded": 0, "failed": 0}
        self.diagnostics = Diagnostics(self, float(self.params["diagnostics_period_s"]), self.status)

    # -- subclass hooks ---------------------------------------------------------------------------------------------
    def configure(self, params: dict[str, Any]) -> None:
        """Load models, open devices, create servers. Raise (ValueError, RuntimeError, ...) to fail the transition."""

    def cleanup(self) -> None:
        """Destroy what ``configure`` created."""

    # -- lifecycle ----------------------------------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self.params = {name: self.get_parameter(name).value for name in {**COMMON_PARAMS, **self.PARAMETERS}}
            self.configure(self.params)
        except Exception as err:  # noqa: BLE001 — any failure to configure is reported, the node stays unconfigured
            self.last_error = f"configure failed: {err}"
            self.get_logger().error(self.last_error)
            self.cleanup()
            return TransitionCallbackReturn.FAILURE
        self.last_error = ""
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self.active = True
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self.active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self.active = False
        self.cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self.active = False
        self.cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: State) -> TransitionCallbackReturn:
        self.active = False
        self.cleanup()
        return TransitionCallbackReturn.SUCCESS

    def autostart(self) -> bool:
        """Configure and activate when the ``autostart`` parameter says so; True when the node is active."""
        if self.params.get("autostart", True):
            if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                self.trigger_activate()
        return self.active

    # -- status -------------------------------------------------------------------------------------------------------
    def status(self) -> tuple[int, str, dict[str, str]]:
        state = self._state_machine.current_state[1]
        values = {"lifecycle_state": state, "busy": str(self.busy.locked()), **{f"goals_{k}": str(v)
                                                                                  for k, v in self.goals.items()}}
        if self.last_error:
            return DiagnosticStatus.ERROR[0], self.last_error, values
        if not self.active:
            return DiagnosticStatus.WARN[0], state, values
        return DiagnosticStatus.OK[0], "busy" if self.busy.locked() else "idle", values


class ExclusiveActionServer:
    """An action server doing one goal at a time on a ``StageNode`` (see the module docstring).

    validate(goal) raises ValueError naming the field; run(goal_handle) returns the Result (and has called
    succeed/abort/canceled on the handle); on_cancel() is called from the cancel callback's thread (stop motion there).
    """

    def __init__(self, node: StageNode, action_type: Any, name: str, *, validate: Callable[[Any], Any],
                 run: Callable[[Any], Any], on_cancel: Callable[[], None] | None = None) -> None:
        self.node, self.action_type, self.name = node, action_type, name
        self._validate, self._run, self._on_cancel = validate, run, on_cancel
        self.server = ActionServer(node, action_type, name, execute_callback=self._execute,
                                   goal_callback=self._goal, cancel_callback=self._cancel,
                                   callback_group=ReentrantCallbackGroup())

    def _reject(self, why: str) -> GoalResponse:
        self.node.goals["rejected"] += 1
        self.node.get_logger().warn(f"rejected {self.name} goal: {why}")
        return GoalResponse.REJECT

    def _goal(self, goal: Any) -> GoalResponse:
        if not self.node.active:
            return self._reject("the node is not active (lifecycle state "
                                f"{self.node._state_machine.current_state[1]})")
        try:
            self._validate(goal)
        except ValueError as err:
            return self._reject(str(err))
        if not self.node.busy.acquire(blocking=False):
            return self._reject("busy with another goal")
        self.node.goals["accepted"] += 1
        return GoalResponse.ACCEPT

    def _cancel(self, goal_handle: Any) -> CancelResponse:
        if self._on_cancel is not None:
            try:
                self._on_cancel()
            except Exception as err:  # noqa: BLE001 — a failing stop is logged; the cancel is still accepted
                self.node.get_logger().error(f"{self.name}: stopping on cancel failed: {err}")
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle: Any) -> Any:
        try:
            result = self._run(goal_handle)
            ok = goal_handle.status == GoalStatus.STATUS_SUCCEEDED
            self.node.goals["succeeded" if ok else "failed"] += 1
            if ok:
                self.node.last_error = ""
            return result
        except Exception as err:  # noqa: BLE001 — surfaces as FAILED with the reason instead of an empty SUCCESS
            self.node.goals["failed"] += 1
            self.node.last_error = f"{self.name}: {type(err).__name__}: {err}"
            self.node.get_logger().error(f"{self.name} failed:\n{traceback.format_exc()}")
            if goal_handle.is_active:
                goal_handle.abort()
            return self.action_type.Result(error_code=self.action_type.Result.FAILED,
                                           message=f"internal error: {type(err).__name__}: {err}")
        finally:
            self.node.busy.release()

    def destroy(self) -> None:
        self.server.destroy()


__all__ = ["COMMON_PARAMS", "Diagnostics", "ExclusiveActionServer", "Param", "StageNode", "declare_params"]
