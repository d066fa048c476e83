"""GraspClient: a nav2_simple_commander-style client over our services and actions (async calls, no extra spinning).

Use from a script or another node::

    rclpy.init()
    client = GraspClient()                       # its own node, spun by an internal executor thread
    result = client.grasp_object(num_candidates=16, execute=True, feedback=print)
    client.destroy(); rclpy.shutdown()

Every call waits on futures with ``threading.Event`` (never ``spin_until_future_complete`` on a node owned by another
executor), so it is safe from any thread except this client's own executor thread.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node

from diffgrasp_interfaces.action import ExecuteGrasp, GraspObject, PredictGrasps, RefineGrasps
from diffgrasp_interfaces.srv import CaptureScene, FuseScene
from diffgrasp_ros.action_client import SafeActionClient


class GraspClientError(RuntimeError):
    """A goal was rejected, a server was missing, or a call timed out."""


class GraspClient:
    def __init__(self, node_name: str = "grasp_client", namespace: str = "", server_timeout_s: float = 10.0) -> None:
        self.node = Node(node_name, namespace=namespace)
        group = ReentrantCallbackGroup()
        self.timeout_s = server_timeout_s
        self._actions = {
            "predict": SafeActionClient(self.node, PredictGrasps, "predict_grasps", callback_group=group),
            "refine": SafeActionClient(self.node, RefineGrasps, "refine_grasps", callback_group=group),
            "execute": SafeActionClient(self.node, ExecuteGrasp, "execute_grasp", callback_group=group),
            "grasp_object": SafeActionClient(self.node, GraspObject, "grasp_object", callback_group=group),
        }
        self._services = {
            "capture": self.node.create_client(CaptureScene, "capture_scene", callback_group=group),
            "fuse": self.node.create_client(FuseScene, "fuse_scene", callback_group=group),
        }
        self._executor = MultiThreadedExecutor(num_threads=2)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()
        self._active_goal = None

    # -- plumbing ------------------------------------------------------------------------------------------------------
    @staticmethod
    def _wait(future, timeout_s: float | None, what: str) -> Any:
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout_s):
            raise GraspClientError(f"{what}: no answer within {timeout_s} s")
        return future.result()

    def call_service(self, name: str, request: Any, timeout_s: float | None = None) -> Any:
        client = self._services[name]
        if not client.wait_for_service(timeout_sec=self.timeout_s):
            raise GraspClientError(f"service {client.srv_name} not available")
        return self._wait(client.call_async(request), timeout_s, f"service {client.srv_name}")

    def run_action(self, name: str, goal: Any, feedback: Callable[[Any], None] | None = None,
                   timeout_s: float | None = None) -> tuple[int, Any]:
        """Send a goal and wait for its result; returns (GoalStatus code, result message)."""
        client = self._actions[name]
        if not client.wait_for_server(timeout_sec=self.timeout_s):
            raise GraspClientError(f"action server {name} not available")
        handle = client.send_goal_and_wait(
            goal, self.timeout_s, feedback_callback=(lambda fb: feedback(fb.feedback)) if feedback else None)
        if handle is None:
            raise GraspClientError(f"{name} goal: no answer within {self.timeout_s} s")
        if not handle.accepted:
            raise GraspClientError(f"{name} goal rejected (see the server's log for the field)")
        self._active_goal = handle
        try:
            response = client.wait_for_result(handle, timeout_s)
        finally:
            self._active_goal = None
        if response is None:
            raise GraspClientError(f"{name} result: no answer within {timeout_s} s")
        return response.status, response.result

    def cancel(self) -> None:
        """Cancel the goal in progress (if any); its result still arrives through the waiting call."""
        if self._active_goal is not None:
            self._active_goal.cancel_goal_async()

    # -- the pipeline, one call per step -------------------------------------------------------------------------------
    def capture(self, camera_names: list[str] | None = None, timeout_s: float = 0.0) -> Any:
        request = CaptureScene.Request(camera_names=list(camera_names or []), timeout_s=float(timeout_s))
        return self.call_service("capture", request, timeout_s=(timeout_s or 10.0) + 5.0)

    def fuse(self, views: Any | None = None, object_id: str = "object", mesh_path: str = "") -> Any:
        request = FuseScene.Request(object_id=object_id, mesh_path=mesh_path)
        if views is not None:
            request.views = views
        return self.call_service("fuse", request, timeout_s=60.0)

    def predict(self, observation: Any, num_grasps: int = 16, feedback=None) -> tuple[int, Any]:
        return self.run_action("predict", PredictGrasps.Goal(observation=observation, num_grasps=num_grasps), feedback)

    def refine(self, observation: Any, num_grasps: int = 16, initial_grasps: Any | None = None, max_iterations: int = 0,
               timeout_s: float = 0.0, seed: int = 0, feedback=None) -> tuple[int, Any]:
        goal = RefineGrasps.Goal(observation=observation, num_grasps=num_grasps, max_iterations=max_iterations,
                                 timeout_s=float(timeout_s), seed=seed)
        if initial_grasps is not None:
            goal.initial_grasps = initial_grasps
        return self.run_action("refine", goal, feedback)

    def execute(self, grasp: Any, observation: Any, plan_only: bool = False, feedback=None) -> tuple[int, Any]:
        return self.run_action("execute", ExecuteGrasp.Goal(grasp=grasp, observation=observation,
                                                            plan_only=plan_only), feedback)

    def grasp_object(self, object_id: str = "object", num_candidates: int = 16, refine: bool = True,
                     execute: bool = True, timeout_s: float = 0.0, feedback=None) -> tuple[int, Any]:
        goal = GraspObject.Goal(object_id=object_id, num_candidates=num_candidates, refine=refine, execute=execute,
                                timeout_s=float(timeout_s))
        return self.run_action("grasp_object", goal, feedback)

    def destroy(self) -> None:
        self._executor.shutdown()
        self.node.destroy_node()


def main(args=None) -> None:
    """``ros2 run diffgrasp_ros grasp_client``: run GraspObject once and print the outcome."""
    parser = argparse.ArgumentParser(description="Send one GraspObject goal and print feedback and result.")
    parser.add_argument("--object-id", default="object")
    parser.add_argument("-k", "--num-candidates", type=int, default=16)
    parser.add_argument("--no-refine", action="store_true")
    parser.add_argument("--plan-only", action="store_true", help="stop after planning (no execution)")
    parser.add_argument("--timeout", type=float, default=0.0, help="overall budget in s (0 = none)")
    ns, ros_args = parser.parse_known_args(args)
    rclpy.init(args=ros_args)
    client = None
    try:
        client = GraspClient()
        status, result = client.grasp_object(ns.object_id, ns.num_candidates, not ns.no_refine, not ns.plan_only,
                                             ns.timeout,
                                             feedback=lambda fb: print(f"[{fb.stage}] {fb.progress:.0%}", flush=True))
        print(f"status {status}, error_code {result.error_code}: {result.message or 'ok'}; "
              f"{len(result.candidates.grasps)} candidates, executed {result.executed_index}, "
              f"object lifted: {result.object_lifted}")
    except (KeyboardInterrupt, ExternalShutdownException):
        if client is not None:
            client.cancel()
    except GraspClientError as err:
        print(f"error: {err}")
    finally:
        if client is not None:
            client.destroy()
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == "__main__":
    main()
