"""Every node for real over DDS (rclpy from PyPI): lifecycle, goal policies, exceptions, the orchestrator's handling.

Each test spins its nodes in a MultiThreadedExecutor thread and talks to them through real action/service clients
(the test process has its own ROS_DOMAIN_ID, see conftest.py).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
pytestmark = pytest.mark.ros

from action_msgs.msg import GoalStatus  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.action import ActionClient, ActionServer  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from test_ros_action_messages import cube_observation  # noqa: E402


@contextmanager
def spinning(*nodes):
    executor = MultiThreadedExecutor(num_threads=6)
    for node in nodes:
        executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield executor
    finally:
        executor.shutdown()
        thread.join(5.0)
        for node in nodes:
            node.destroy_node()


def wait(future, timeout_s: float = 30.0):
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    assert done.wait(timeout_s), "no answer"
    return future.result()


def params(**values):
    return {"parameter_overrides": [Parameter(k, value=v) for k, v in values.items()]}


def activate(node) -> bool:
    """configure + activate (the nodes here are made with autostart false)."""
    return (node.trigger_configure() == TransitionCallbackReturn.SUCCESS
            and node.trigger_activate() == TransitionCallbackReturn.SUCCESS and node.active)


def object_path() -> str:
    from diffgrasp.demo import default_object_path

    return str(default_object_path())


def _execution_yaml(tmp_path) -> str:
    path = tmp_path / "execution.yaml"
    path.write_text("convex_decomposition: false\n")  # the convex hull: a quick scene for lifecycle checks
    return str(path)


def make_node(name: str, tmp_path):
    from diffgrasp_ros.capture_node import CaptureNode
    from diffgrasp_ros.execution_node import ExecutionNode
    from diffgrasp_ros.fusion_node import FusionNode
    from diffgrasp_ros.inference_node import InferenceNode
    from diffgrasp_ros.node_support import share_file
    from diffgrasp_ros.refinement_node import RefinementNode

    return {
        "capture": lambda: CaptureNode(**params(cameras_config=share_file("config/cameras_sim.yaml"), autostart=False)),
        "fusion": lambda: FusionNode(**params(autostart=False)),
        "inference": lambda: InferenceNode(**params(autostart=False)),
        "refinement": lambda: RefinementNode(**params(autostart=False)),
        "execution": lambda: ExecutionNode(**params(backend="mujoco", sim_object=object_path(), autostart=False,
                                                    execution_config=_execution_yaml(tmp_path))),
    }[name]()


ENDPOINTS = {"capture": ("service", "/capture_scene"), "fusion": ("service", "/fuse_scene"),
             "inference": ("action", "predict_grasps"), "refinement": ("action", "refine_grasps"),
             "execution": ("action", "execute_grasp")}


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_node_lifecycle_and_diagnostics(ros_context, name, tmp_path):
    """Constructed (nothing served), configured (served, goals refused: inactive), activated, deactivated, cleaned up
    (nothing served), shut down; /diagnostics reports the state throughout."""
    node = make_node(name, tmp_path)
    probe = Node("probe")
    seen: list = []
    probe.create_subscription(DiagnosticArray, "/diagnostics",
                              lambda m: seen.extend(s for s in m.status if s.name == node.get_name()), 50)
    kind, endpoint = ENDPOINTS[name]

    def served() -> bool:
        if kind == "service":
            return any(s.srv_name.lstrip("/") == endpoint.lstrip("/") for s in node.services)
        return getattr(node, "server", None) is not None

    def status_after(action) -> str:
        action()
        seen.clear()
        node.diagnostics.publish()
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert seen, "no /diagnostics message"
        return seen[-1].message

    with spinning(node, probe):
        time.sleep(0.3)  # discovery
        assert not served() and node._state_machine.current_state[1] == "unconfigured"
        assert status_after(lambda: None) == "unconfigured"
        assert status_after(lambda: node.trigger_configure()) == "inactive" and served()
        assert status_after(lambda: node.trigger_activate()) == "idle" and node.active
        assert status_after(lambda: node.trigger_deactivate()) == "inactive" and not node.active
        node.trigger_cleanup()
        assert not served() and node._state_machine.current_state[1] == "unconfigured"
        assert node.trigger_shutdown() == TransitionCallbackReturn.SUCCESS


def test_configure_failure_is_reported_and_leaves_the_node_unconfigured(ros_context, tmp_path):
    from diffgrasp_ros.execution_node import ExecutionNode

    node = ExecutionNode(**params(backend="mujoco", sim_object=str(tmp_path / "missing.obj"), autostart=False))
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        level, message, _ = node.status()
        assert level == 2 and "missing.obj" in message
        assert node._state_machine.current_state[1] == "unconfigured"
    finally:
        node.destroy_node()


def test_parameter_ranges_are_enforced(ros_context):
    from rclpy.exceptions import InvalidParameterValueException

    from diffgrasp_ros.refinement_node import RefinementNode

    with pytest.raises(InvalidParameterValueException):
        RefinementNode(**params(feedback_every=0))
    node = RefinementNode(**params(autostart=False))
    try:
        descriptor = node.describe_parameter("feedback_every")
        assert descriptor.integer_range[0].from_value == 1 and "feedback" in descriptor.description
        assert not node.set_parameters([Parameter("feedback_every", value=-3)])[0].successful
    finally:
        node.destroy_node()


def _refine_goal(num_grasps: int = 2, max_iterations: int = 400):
    from diffgrasp_interfaces.action import RefineGrasps
    from diffgrasp_ros.message_factory import RclpyFactory

    return RefineGrasps.Goal(observation=cube_observation(RclpyFactory()), num_grasps=num_grasps,
                             max_iterations=max_iterations)


def test_inactive_node_rejects_goals_and_an_exception_ends_aborted_with_failed(ros_context, monkeypatch):
    """Goals are refused until the node is active; an exception inside the execute callback is ABORTED with
    error_code FAILED and the reason (rclpy alone returns an empty result: error_code 0 = SUCCESS)."""
    from diffgrasp_interfaces.action import RefineGrasps
    from diffgrasp_ros.refinement_node import RefinementNode

    node = RefinementNode(**params(autostart=False))
    client_node = Node("refine_client")
    with spinning(node, client_node):
        node.trigger_configure()
        client = ActionClient(client_node, RefineGrasps, "refine_grasps")
        assert client.wait_for_server(timeout_sec=10.0)
        assert not wait(client.send_goal_async(_refine_goal())).accepted  # inactive
        node.trigger_activate()

        def boom(goal_handle):
            raise RuntimeError("planner exploded")

        monkeypatch.setattr(node.server, "_run", boom)
        handle = wait(client.send_goal_async(_refine_goal()))
        assert handle.accepted
        response = wait(handle.get_result_async())
        assert response.status == GoalStatus.STATUS_ABORTED
        assert response.result.error_code == RefineGrasps.Result.FAILED
        assert "planner exploded" in response.result.message
        assert "planner exploded" in node.status()[1]
        assert not node.busy.locked()  # the next goal is not refused as busy


# --- the orchestrator against stage servers ---------------------------------------------------------------------------
class FakeStages(Node):
    """Capture/fusion services and inference/execution action servers that answer as configured: real rclpy
    servers, so the orchestrator's client side (status, codes, retries) is exercised over DDS."""

    def __init__(self, *, inference_raises: bool = False, execution_results=()) -> None:
        super().__init__("fake_stages")
        from diffgrasp_interfaces.action import ExecuteGrasp, PredictGrasps
        from diffgrasp_interfaces.srv import CaptureScene, FuseScene
        from diffgrasp_ros.message_factory import RclpyFactory

        self.observation = cube_observation(RclpyFactory())
        self.execution_results = list(execution_results)
        self.execute_calls = 0
        self.inference_raises = inference_raises
        self.create_service(CaptureScene, "capture_scene", lambda req, resp: resp)
        self.create_service(FuseScene, "fuse_scene", self._fuse)
        # plain rclpy servers: an exception in the callback gives rclpy's empty result with status ABORTED
        self.predict = ActionServer(self, PredictGrasps, "predict_grasps", self._predict)
        self.execute = ActionServer(self, ExecuteGrasp, "execute_grasp", self._execute)

    def _fuse(self, request, response):
        response.observation = self.observation
        return response

    def _predict(self, goal_handle):
        from test_ros_conversions import random_grasp

        from diffgrasp.grasps import GraspSet
        from diffgrasp_interfaces.action import PredictGrasps
        from diffgrasp_ros.conversions import grasp_set_to_ros
        from diffgrasp_ros.message_factory import RclpyFactory

        if self.inference_raises:
            raise RuntimeError("network crashed")
        rng = np.random.default_rng(0)
        grasps = GraspSet("cube", "", [random_grasp(rng) for _ in range(goal_handle.request.num_grasps)])
        goal_handle.succeed()
        return PredictGrasps.Result(grasps=grasp_set_to_ros(RclpyFactory(), grasps, object_id="cube"))

    def _execute(self, goal_handle):
        from diffgrasp_interfaces.action import ExecuteGrasp

        self.execute_calls += 1
        code, phase = self.execution_results[min(self.execute_calls, len(self.execution_results)) - 1]
        goal_handle.succeed() if code == 0 else goal_handle.abort()
        return ExecuteGrasp.Result(error_code=code, phase_reached=phase, object_lifted=code == 0,
                                   message="" if code == 0 else "planning failed")


def _grasp_object(stages: FakeStages, num_candidates: int = 3):
    from diffgrasp_interfaces.action import GraspObject
    from diffgrasp_ros.orchestrator_node import OrchestratorNode

    orchestrator = OrchestratorNode(**params(server_timeout_s=5.0))
    client_node = Node("grasp_object_client")
    with spinning(orchestrator, stages, client_node):
        client = ActionClient(client_node, GraspObject, "grasp_object")
        assert client.wait_for_server(timeout_sec=10.0)
        handle = wait(client.send_goal_async(GraspObject.Goal(object_id="cube", num_candidates=num_candidates,
                                                              refine=False, execute=True)))
        assert handle.accepted
        return wait(handle.get_result_async(), 60.0)


def test_orchestrator_fails_a_stage_whose_server_raised(ros_context):
    """Bug 3: the inference server raised (rclpy: empty result, error_code 0, status ABORTED); the orchestrator
    used to take the empty grasp set as a success. Now: STAGE_FAILED at inference, nothing executed."""
    from diffgrasp_interfaces.action import GraspObject

    stages = FakeStages(inference_raises=True, execution_results=[(0, "lift")])
    response = _grasp_object(stages)
    assert response.status == GoalStatus.STATUS_ABORTED
    assert response.result.error_code == GraspObject.Result.STAGE_FAILED
    assert response.result.failed_stage == "inference" and "ABORTED" in response.result.message
    assert stages.execute_calls == 0


def test_orchestrator_tries_the_next_candidate_only_while_nothing_moved(ros_context):
    """Bug 4: a candidate that failed after the arm moved (approach reached) ends the goal — the hand may be at the
    object; a candidate with no plan to the pre-grasp (nothing moved) is skipped for the next one."""
    from diffgrasp_interfaces.action import ExecuteGrasp, GraspObject

    failed = ExecuteGrasp.Result.PLANNING_FAILED
    moved = FakeStages(execution_results=[(failed, "approach"), (0, "lift")])
    response = _grasp_object(moved)
    assert response.result.error_code == GraspObject.Result.STAGE_FAILED
    assert response.result.failed_stage == "execution" and "after the arm moved" in response.result.message
    assert moved.execute_calls == 1

    unmoved = FakeStages(execution_results=[(failed, ""), (0, "lift")])
    response = _grasp_object(unmoved)
    assert response.status == GoalStatus.STATUS_SUCCEEDED
    assert response.result.error_code == GraspObject.Result.SUCCESS and response.result.executed_index == 1
    assert response.result.object_lifted and unmoved.execute_calls == 2


def test_execution_result_claims_a_lift_only_from_a_measurement():
    """Bug 6: success without a measurement is not object_lifted."""
    from diffgrasp.execution import ExecutionResult
    from diffgrasp_interfaces.action import ExecuteGrasp
    from diffgrasp_ros.action_messages import execution_result_to_ros
    from diffgrasp_ros.message_factory import RclpyFactory

    unmeasured = execution_result_to_ros(RclpyFactory(), ExecutionResult(True, "lift", "ok", 0, "done"),
                                         ExecuteGrasp.Result)
    assert unmeasured.error_code == 0 and not unmeasured.object_lifted and "not sensed" in unmeasured.message
    measured = ExecutionResult(True, "hold", "ok", 0, "lifted", object_lifted=True)
    assert execution_result_to_ros(RclpyFactory(), measured, ExecuteGrasp.Result).object_lifted
    dropped = ExecutionResult(False, "hold", "slip", 0, "dropped", object_lifted=False)
    assert not execution_result_to_ros(RclpyFactory(), dropped, ExecuteGrasp.Result).object_lifted


def test_docs_describe_cancel_and_plan_only_as_they_behave():
    """Bug 10: docs/ros.md promised that cancel stops motion at once and that --plan-only plans everything."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "ros.md").read_text()
    assert "stops motion at once" not in text and "plan everything, move nothing" not in text
    plan_only = next(line for line in text.splitlines() if "grasp_client -k 16 --plan-only" in line)
    assert "no execution" in plan_only  # the client's --plan-only sends execute=false
    assert "stop_time" in text and "not instantly" in text


# --- goal policies of every action server -----------------------------------------------------------------------------
def _observation_and_grasp():
    from test_ros_conversions import random_grasp

    from diffgrasp_ros.conversions import grasp_to_ros
    from diffgrasp_ros.message_factory import RclpyFactory

    f = RclpyFactory()
    return cube_observation(f), grasp_to_ros(f, random_grasp(np.random.default_rng(1)), frame_id="object")


def _goals(name: str):
    """(action type, a valid goal, an invalid goal naming the field) per action server."""
    from diffgrasp_interfaces.action import ExecuteGrasp, PredictGrasps, RefineGrasps

    observation, grasp = _observation_and_grasp()
    if name == "inference":
        return PredictGrasps, PredictGrasps.Goal(observation=observation, num_grasps=2), \
            PredictGrasps.Goal(observation=observation, num_grasps=0)
    if name == "refinement":
        return RefineGrasps, _refine_goal(), _refine_goal(num_grasps=0)
    bad = ExecuteGrasp.Goal(grasp=grasp, observation=observation, velocity_scaling=2.0)
    return ExecuteGrasp, ExecuteGrasp.Goal(grasp=grasp, observation=observation), bad


@pytest.mark.parametrize("name", ["inference", "refinement", "execution"])
def test_action_server_goal_policies(ros_context, name, tmp_path, monkeypatch):
    """Invalid goal rejected; a goal while one runs rejected (busy); cancel mid-run accepted and the run ends
    CANCELED; an exception in the run ends ABORTED with FAILED; then the server takes goals again."""
    action, good, bad = _goals(name)
    node = make_node(name, tmp_path)
    client_node = Node(f"{name}_policy_client")
    release, started = threading.Event(), threading.Event()

    def blocking_run(goal_handle):  # stands in for the work: waits for cancel, as the stages do between steps
        started.set()
        while not goal_handle.is_cancel_requested and not release.is_set():
            time.sleep(0.01)
        goal_handle.canceled()
        return action.Result(error_code=action.Result.CANCELLED, message="cancelled")

    with spinning(node, client_node):
        assert activate(node)
        client = ActionClient(client_node, action, node.server.name)
        assert client.wait_for_server(timeout_sec=10.0)
        assert not wait(client.send_goal_async(bad)).accepted
        monkeypatch.setattr(node.server, "_run", blocking_run)
        first = wait(client.send_goal_async(good))
        assert first.accepted and started.wait(10.0)
        assert not wait(client.send_goal_async(good)).accepted  # busy
        wait(first.cancel_goal_async())
        response = wait(first.get_result_async())
        assert response.status == GoalStatus.STATUS_CANCELED and response.result.error_code == action.Result.CANCELLED

        def raising_run(goal_handle):
            raise KeyError("no such joint")

        monkeypatch.setattr(node.server, "_run", raising_run)
        handle = wait(client.send_goal_async(good))
        response = wait(handle.get_result_async())
        assert response.status == GoalStatus.STATUS_ABORTED and response.result.error_code == action.Result.FAILED
        assert "KeyError" in response.result.message
        assert node.goals == {"accepted": 2, "rejected": 2, "succeeded": 0, "failed": 2}


def test_execution_node_cancel_stops_the_simulated_arm(ros_context, tmp_path):
    """ExecuteGrasp over DDS with the MuJoCo backend: cancelled during the approach → the node calls the backend's
    stop from the cancel callback, the goal ends CANCELED at the approach, and the arm is at rest at the end."""
    import importlib.util
    from pathlib import Path

    import trimesh
    from scipy.spatial.transform import Rotation

    from diffgrasp.grasps import Grasp
    from diffgrasp.sim.robot_scene import resting_pose
    from diffgrasp_interfaces.action import ExecuteGrasp
    from diffgrasp_ros.conversions import grasp_to_ros, joint_trajectory_from_ros
    from diffgrasp_ros.execution_node import ExecutionNode
    from diffgrasp_ros.message_factory import RclpyFactory
    from diffgrasp_ros.sensor_conversions import Observation, observation_to_ros

    lift_tests = Path(__file__).resolve().parents[2] / "diffgrasp" / "tests" / "execution" / "test_execution_lift.py"
    spec = importlib.util.spec_from_file_location("execution_lift_cases", lift_tests)
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    mesh = trimesh.creation.cylinder(radius=0.03, height=0.12, sections=32)
    mesh_path = tmp_path / "cylinder.obj"
    mesh.export(mesh_path)
    node = ExecutionNode(**params(backend="mujoco", sim_object=str(mesh_path), autostart=False,
                                  execution_config=_execution_yaml(tmp_path)))
    client_node = Node("execute_cancel_client")
    with spinning(node, client_node):
        assert activate(node)
        pose = resting_pose(trimesh.load(mesh_path, force="mesh"), (0.0, 0.0))
        joints = cases._close_hand(node.backend, pose)  # the lift test's cylinder wrap, in the node's own scene
        grasp = Grasp(palm_position=cases.PALM_POS.copy(),
                      palm_quaternion_xyzw=Rotation.from_matrix(cases.PALM_ROT).as_quat(), joints=joints)
        f = RclpyFactory()
        loaded = trimesh.load(mesh_path, force="mesh")
        observation = observation_to_ros(f, Observation("cylinder", "world", 0, pose, loaded.vertices, loaded.faces,
                                                        np.zeros((0, 3), np.float32), True, "", []))
        client = ActionClient(client_node, ExecuteGrasp, "execute_grasp")
        assert client.wait_for_server(timeout_sec=10.0)
        phases: list[str] = []
        approaching = threading.Event()

        def on_feedback(msg):
            phases.append(msg.feedback.phase)
            if msg.feedback.phase == "approach":
                approaching.set()

        handle = wait(client.send_goal_async(ExecuteGrasp.Goal(grasp=grasp_to_ros(f, grasp), observation=observation),
                                             feedback_callback=on_feedback))
        assert handle.accepted and approaching.wait(120.0), phases
        wait(handle.cancel_goal_async())
        response = wait(handle.get_result_async(), 120.0)
    assert response.status == GoalStatus.STATUS_CANCELED
    assert response.result.error_code == ExecuteGrasp.Result.CANCELLED and not response.result.object_lifted
    assert "lift" not in phases
    names, times, positions = joint_trajectory_from_ros(response.result.trajectories[-1])
    arm = positions[:, :6]
    assert np.abs(np.diff(arm[-6:], axis=0)).max() / np.diff(times[-6:]).min() < 0.02  # at rest at the end
