"""MoveItExecutionBackend logic against a recording fake of moveit_py (test/moveit_fake.py) and a fake hand.

No ROS middleware: messages are rosbags messages of the Jazzy typestore (our interfaces + vendored definitions), so
the planning-scene messages the backend builds are checked against the real field lists (CDR round trip).
"""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path

import moveit_fake
import numpy as np
import pytest
import yaml
from moveit_fake import FakeHand, FakeMoveItPy, FakeMoveItPyOld, PlanRequestParameters

from diffgrasp.grasps import Grasp
from diffgrasp.hand.names import FINGER_JOINT_NAMES, FLEXION_JOINT_NAMES, JOINT_LIMITS
from diffgrasp_ros.conversions import pose_matrix_from_ros, position_quaternion_to_matrix
from diffgrasp_ros.moveit_backend import (
    BACKOFF_AXIS,
    MoveItExecutionBackend,
    blocked_fingers,
    hand_targets,
    palm_waypoints,
)

TEST_DIR = Path(__file__).resolve().parent
REPO_ROOT = TEST_DIR.parents[2]
HAND_LINKS = ["rh_palm", "rh_ffproximal", "rh_ffmiddle", "rh_ffdistal", "rh_mfproximal", "rh_thdistal"]
OBJECT_TO_WORLD = position_quaternion_to_matrix(np.array([0.6, 0.1, 0.05]), np.array([0.0, 0.0, 0.6, 0.8]))
APPROACH_M, LIFT_M = 0.1, 0.15

# moveit/moveit_msgs msg/AttachedCollisionObject.msg (unchanged since 2021, commit 152f6f6: the Jazzy 2.6 release);
# comments shortened. Used only until the file is vendored next to CollisionObject.msg in vendored_msgs/moveit_msgs.
ATTACHED_COLLISION_OBJECT_MSG = """\
# The CollisionObject will be attached with a fixed joint to this link
string link_name
# The actual shapes and poses; on REMOVE without object.id all objects attached to link_name are removed
CollisionObject object
# Links the attached object may touch (link_name is already allowed)
string[] touch_links
# The posture that releases the object
trajectory_msgs/JointTrajectory detach_posture
# The weight of the attached object, if known
float64 weight
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Jazzy typestore with our interfaces, the vendored definitions and moveit_msgs/AttachedCollisionObject."""
    from diffgrasp_ros.typestore import build_typestore

    vendored = TEST_DIR / "vendored_msgs"
    dirs = [TEST_DIR.parents[1] / "diffgrasp_interfaces",
            *(vendored / p for p in ("control_msgs", "moveit_msgs", "object_recognition_msgs"))]
    if not (vendored / "moveit_msgs" / "msg" / "AttachedCollisionObject.msg").exists():
        extra = tmp_path_factory.mktemp("extra_msgs") / "moveit_msgs"
        (extra / "msg").mkdir(parents=True)
        (extra / "msg" / "AttachedCollisionObject.msg").write_text(ATTACHED_COLLISION_OBJECT_MSG)
        dirs.append(extra)
    return build_typestore(dirs)


@pytest.fixture(scope="module")
def f(store):
    from diffgrasp_ros.message_factory import RosbagsFactory

    return RosbagsFactory(store)


def make_grasp() -> Grasp:
    """Joints mid-range; pregrasp and squeeze from the §7 defaults (flexion joints ∓ 0.1 rad)."""
    joints = {n: 0.5 * (JOINT_LIMITS[n][0] + JOINT_LIMITS[n][1]) for n in FINGER_JOINT_NAMES}
    return Grasp(palm_position=np.array([0.0, -0.08, 0.02]), palm_quaternion_xyzw=np.array([0.0, 0.0, 0.0, 1.0]),
                 joints=joints)


def on_air(targets: dict[str, float]) -> dict[str, float]:
    """Nothing between the fingers: every joint reaches its target (within its limits)."""
    return {n: float(np.clip(v, *JOINT_LIMITS[n])) for n, v in targets.items()}


def on_object(grasp: Grasp):
    """The object stops every flexion joint at its grasp value (the grasp's contact shape); opening is free."""
    def physics(targets: dict[str, float]) -> dict[str, float]:
        out = on_air(targets)
        for name in FLEXION_JOINT_NAMES:
            out[name] = min(out[name], grasp.joints[name])
        return out
    return physics


def plan_request_namespaces() -> dict[str, dict]:
    """The PlanRequestParameters namespaces of config/moveit/moveit_py.yaml (what MoveItPy loads on the robot)."""
    data = yaml.safe_load((REPO_ROOT / "config" / "moveit" / "moveit_py.yaml").read_text())
    return {k: v["plan_request_params"] for k, v in data.items() if isinstance(v, dict) and "plan_request_params" in v}


def make(f, *, moveit_cls=FakeMoveItPy, physics=None, grasp=None, **kwargs):
    grasp = grasp or make_grasp()
    moveit = moveit_cls(parameters=plan_request_namespaces(), factory=f, **kwargs.pop("moveit_kwargs", {}))
    hand = FakeHand(moveit.events, physics or on_object(grasp))
    kwargs.setdefault("plan_request_parameters", PlanRequestParameters)
    backend = MoveItExecutionBackend(
        None, moveit, planning_group="arm_with_wrist", palm_link="rh_palm", base_frame="world", hand_action="",
        hand_links=HAND_LINKS, table_pose=np.eye(4), table_size=[0.0, 0.0, 0.0], close_duration_s=0.8,
        squeeze_duration_s=0.8, action_timeout_s=1.0, hand=hand, factory=f, **kwargs)
    return backend, moveit, hand, grasp


def run(backend, grasp, **kwargs):
    phases: list[str] = []
    result = backend.execute([grasp], OBJECT_TO_WORLD, object_id="mug", approach_distance_m=APPROACH_M,
                             lift_height_m=LIFT_M, phase_callback=phases.append, **kwargs)
    return result, phases


def kinds(events) -> list[str]:
    return [k for k, _ in events]


def plans(events) -> list[dict]:
    return [d for k, d in events if k == "plan"]


def goal_matrix(plan_event: dict) -> np.ndarray:
    return pose_matrix_from_ros(plan_event["goal"]["pose_stamped_msg"].pose)


def targets_of(grasp: Grasp, which: int) -> dict[str, float]:
    return dict(zip(FINGER_JOINT_NAMES, hand_targets(grasp)[which].tolist(), strict=True))


# --- (a) cancel -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("moveit_cls", [FakeMoveItPy, FakeMoveItPyOld], ids=["moveit-2.11+", "moveit-2.9-2.10"])
def test_stop_during_execution_stops_moveit_and_cancels_the_hand(f, moveit_cls):
    backend, moveit, hand, grasp = make(f, moveit_cls=moveit_cls)

    raised: list[BaseException] = []

    def stop() -> None:
        try:
            backend.stop()
        except Exception as err:  # noqa: BLE001
            raised.append(err)

    def cancel_from_another_thread(index: int) -> None:  # during the approach (execute #0 is the pregrasp)
        if index == 1:
            thread = threading.Thread(target=stop)  # the action server's cancel callback thread
            thread.start()
            thread.join()

    moveit.on_execute = cancel_from_another_thread
    result, _ = run(backend, grasp)
    assert not raised, f"stop() raised {raised!r}"
    assert (result.success, result.reason, result.phase_reached) == (False, "cancelled", "approach")
    events = kinds(moveit.events)
    stop_at = events.index("stop_execution")
    assert moveit.events[stop_at][1] == {"auto_clear": True}
    assert "hand_cancel" in events[stop_at:]
    # brought to rest where it is: nothing is planned, executed or commanded after the stop
    assert not {"plan", "execute", "hand_move"} & set(events[stop_at:])


def test_stop_never_raises_and_still_cancels_the_hand(f, caplog):
    backend, moveit, _, _ = make(f, moveit_kwargs={"stop_fails_with": RuntimeError("executor gone")})
    backend.stop()
    assert kinds(moveit.events)[-2:] == ["stop_execution", "hand_cancel"]
    assert "executor gone" in caplog.text
    # a MoveItPy with neither accessor (some other version) is logged, not raised
    moveit.__class__ = moveit_fake._FakeMoveItPyBase
    backend.stop()
    assert kinds(moveit.events)[-1] == "hand_cancel" and "get_trajectory_execution_manager" in caplog.text


# --- (b) execute() status --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("failing_execute, phase", [(0, "pregrasp"), (1, "approach")])
def test_aborted_arm_motion_fails_with_control_and_the_hand_never_closes(f, failing_execute, phase):
    backend, moveit, hand, grasp = make(f)
    moveit.execute_outcomes = [True] * failing_execute + [False]
    result, _ = run(backend, grasp)
    assert (result.success, result.reason, result.phase_reached) == (False, "control", phase)
    assert result.object_lifted is None
    closing = [targets_of(grasp, 1), targets_of(grasp, 2)]
    assert not [m for m in hand.moves if m in closing], "the hand closed after a failed arm motion"
    assert not any(d["operation"] == 0 for k, d in moveit.events if k == "attached_collision_object")


# --- (c) Pilz LIN and attach -----------------------------------------------------------------------------------------
def test_approach_and_lift_are_pilz_lin_and_the_object_is_attached_before_the_lift(f, store):
    backend, moveit, _, grasp = make(f)
    result, phases = run(backend, grasp)
    pregrasp, approach, lift = plans(moveit.events)
    assert (pregrasp["pipeline"], pregrasp["planner_id"]) == ("ompl", "RRTConnectkConfigDefault")  # free space
    for p in (approach, lift):
        assert (p["pipeline"], p["planner_id"]) == ("pilz_industrial_motion_planner", "LIN")
        assert p["goal"]["pose_link"] == "rh_palm"
        assert p["goal"]["pose_stamped_msg"].header.frame_id == "world"
    waypoints = palm_waypoints(grasp, OBJECT_TO_WORLD, APPROACH_M)
    assert np.allclose(goal_matrix(approach), waypoints["approach"], atol=1e-9)
    expected_lift = waypoints["approach"].copy()
    expected_lift[2, 3] += LIFT_M
    assert np.allclose(goal_matrix(lift), expected_lift, atol=1e-9)
    # attached (ADD, no geometry: MoveIt takes the world object of that id) after the squeeze, before the lift plan
    events = kinds(moveit.events)
    attach_at = events.index("attached_collision_object")
    assert next(d for k, d in moveit.events[attach_at:] if k == "plan")["index"] == 2  # the next plan: the lift
    squeeze_at = max(i for i, k in enumerate(events[:attach_at]) if k == "hand_move")
    assert moveit.events[squeeze_at][1]["targets"] == targets_of(grasp, 2)
    msg = moveit.events[attach_at][1]["msg"]
    assert (msg.link_name, list(msg.touch_links), msg.object.id, msg.object.operation) == ("rh_palm", HAND_LINKS,
                                                                                            "mug", 0)
    assert not len(msg.object.meshes) and not len(msg.object.primitives)
    assert lift["attached"] == ["mug"] and approach["attached"] == []
    assert moveit.scene.allowed_collision_matrix.get_entry("mug", "table") is True  # may leave its support
    back = store.deserialize_cdr(store.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)
    assert back.link_name == "rh_palm" and list(back.touch_links) == HAND_LINKS and back.object.id == "mug"
    assert list(back.detach_posture.joint_names) == list(FINGER_JOINT_NAMES)  # release = the pregrasp shape
    assert np.allclose(back.detach_posture.points[0].positions, hand_targets(grasp)[0])
    assert result.success and result.reason == "ok", result.message
    assert phases == ["pregrasp", "approach", "close", "squeeze", "lift", "hold"]


def test_pipeline_names_are_parameters_and_the_default_parameters_class_is_moveit_planning(f, monkeypatch):
    """Without an injected class the backend imports ``moveit.planning.PlanRequestParameters`` (fake module)."""
    module = types.ModuleType("moveit.planning")
    module.PlanRequestParameters = PlanRequestParameters
    monkeypatch.setitem(sys.modules, "moveit", types.ModuleType("moveit"))
    monkeypatch.setitem(sys.modules, "moveit.planning", module)
    backend, moveit, _, grasp = make(f, linear_pipeline="my_pilz", linear_planner_id="LIN",
                                     plan_request_parameters=None)
    result, _ = run(backend, grasp)
    assert result.success
    assert [(p["namespace"], p["pipeline"]) for p in plans(moveit.events)] == [
        ("ompl_rrtc", "ompl"), ("pilz_lin", "my_pilz"), ("pilz_lin", "my_pilz")]


# --- (d) object_lifted from the measurement --------------------------------------------------------------------------
def test_object_lifted_comes_from_the_finger_measurement(f):
    backend, moveit, _, grasp = make(f)  # fingers stop on the object
    result, _ = run(backend, grasp)
    assert (result.success, result.reason, result.object_lifted, result.phase_reached) == (True, "ok", True, "hold")

    backend, moveit, hand, grasp = make(f, physics=on_air)  # the hand closes on air
    result, _ = run(backend, grasp)
    assert (result.success, result.reason, result.object_lifted, result.phase_reached) == (False, "slip", False,
                                                                                            "close")
    assert "closed on air" in result.message
    assert len(plans(moveit.events)) == 3  # pregrasp, approach, retreat: never lifted
    assert hand.moves[-1] == targets_of(grasp, 0)  # opened again


def test_object_slipping_out_during_the_lift_is_not_lifted(f):
    backend, moveit, hand, grasp = make(f)
    held = on_object(grasp)
    hand.physics = lambda targets: (on_air if moveit.execute_calls >= 3 else held)(targets)  # lost once lifted
    result, _ = run(backend, grasp)
    assert (result.success, result.reason, result.object_lifted, result.phase_reached) == (False, "slip", False,
                                                                                            "hold")


def test_no_measurement_never_claims_success_and_a_joint_state_source_is_used(f):
    backend, _, _, grasp = make(f, physics=lambda targets: None)
    result, _ = run(backend, grasp)
    assert not result.success and result.object_lifted is None and "no finger positions" in result.message
    grasp = make_grasp()
    readings = {}
    backend, _, hand, grasp = make(f, physics=lambda targets: readings.update(on_object(grasp)(targets)),
                                   grasp=grasp, joint_positions=lambda: readings)
    result, _ = run(backend, grasp)
    assert result.success and result.object_lifted is True


def test_blocked_fingers_clips_squeeze_targets_to_the_limits():
    grasp = make_grasp()
    _, closed, squeeze = hand_targets(grasp)
    free = on_air(dict(zip(FINGER_JOINT_NAMES, squeeze.tolist(), strict=True)))
    assert blocked_fingers(free, closed, squeeze, 0.05) == []
    assert blocked_fingers(on_object(grasp)(free), closed, squeeze, 0.05) == ["FF", "MF", "RF", "LF", "TH"]
    at_limit = closed.copy()
    at_limit[FINGER_JOINT_NAMES.index("rh_FFJ3")] = JOINT_LIMITS["rh_FFJ3"][1]
    beyond = at_limit + (squeeze - closed)  # FFJ3 squeezed past its limit; a free finger stops at the limit
    measured = on_air(dict(zip(FINGER_JOINT_NAMES, beyond.tolist(), strict=True)))
    assert blocked_fingers(measured, at_limit, beyond, 0.05) == []
    assert blocked_fingers({"rh_FFJ3": 0.0}, closed, squeeze, 0.05) is None


# --- (e) recovery ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("failure, reason", [("execute", "control"), ("plan", "unreachable")])
def test_a_failing_lift_opens_the_hand_detaches_and_retreats(f, failure, reason):
    backend, moveit, hand, grasp = make(f)
    if failure == "execute":
        moveit.execute_outcomes = [True, True, False]  # pregrasp, approach, lift
    else:
        moveit.plan_outcomes = [True, True, False]
    result, _ = run(backend, grasp)
    events = moveit.events
    lift_at = [i for i, (k, d) in enumerate(events) if k == "plan" and d["index"] == 2][0]
    after = events[lift_at + 1:]
    opened = [i for i, (k, d) in enumerate(after) if k == "hand_move" and d["targets"] == targets_of(grasp, 0)]
    detached = [i for i, (k, d) in enumerate(after) if k == "attached_collision_object" and d["operation"] == 1]
    retreat = [i for i, (k, d) in enumerate(after) if k == "plan"]
    assert opened, "the hand was not opened again"
    assert detached and retreat, "the object was not detached or the palm did not retreat"
    assert opened[0] < detached[0] < retreat[0]
    assert after[detached[0]][1]["msg"].object.id == "mug" and "mug" not in moveit.scene.attached
    plan = after[retreat[0]][1]
    assert (plan["pipeline"], plan["planner_id"]) == ("pilz_industrial_motion_planner", "LIN")
    start = palm_waypoints(grasp, OBJECT_TO_WORLD, APPROACH_M)["approach"]  # where the fake arm still is
    expected = start.copy()
    expected[:3, 3] += start[:3, BACKOFF_AXIS] * APPROACH_M
    assert np.allclose(goal_matrix(plan), expected, atol=1e-9)
    assert kinds(after)[-1] == "execute" and "retreated" in result.message
    assert (result.success, result.reason, result.phase_reached) == (False, reason, "lift")
    assert result.object_lifted is None


def test_a_failing_close_opens_the_hand_and_retreats_to_the_stand_off(f):
    backend, moveit, hand, grasp = make(f)
    hand.outcomes = [True, False]  # pregrasp shape, close
    result, _ = run(backend, grasp)
    assert hand.moves[-1] == targets_of(grasp, 0), "the hand was not opened again"
    retreat = plans(moveit.events)[-1]
    assert (retreat["pipeline"], retreat["planner_id"]) == ("pilz_industrial_motion_planner", "LIN")
    assert np.allclose(goal_matrix(retreat), palm_waypoints(grasp, OBJECT_TO_WORLD, APPROACH_M)["pregrasp"],
                       atol=1e-9)
    assert (result.success, result.reason, result.phase_reached) == (False, "control", "close")


def test_plan_only_moves_nothing_and_measures_nothing(f):
    backend, moveit, hand, grasp = make(f)
    result, _ = run(backend, grasp, plan_only=True)
    assert result.success and result.object_lifted is None and "planned only" in result.message
    assert moveit.execute_calls == 0 and hand.moves == [] and len(plans(moveit.events)) == 3
    assert len(backend.last_trajectories) == 6  # arm: pregrasp, approach, lift; hand: pregrasp shape, close, squeeze


# --- the default hand client (rclpy FollowJointTrajectory; client faked, no middleware) ------------------------------
def test_action_hand_reads_feedback_and_accepts_a_goal_tolerance_abort(f, monkeypatch):
    """``ActionHand`` (the default ``hand``): ok on SUCCEEDED or ABORTED with GOAL_TOLERANCE_VIOLATED (fingers stopped
    on the object), measured positions from the feedback's ``actual``; a timeout cancels the goal."""
    pytest.importorskip("rclpy")
    pytest.importorskip("action_msgs")
    import diffgrasp_ros.action_client
    from diffgrasp_ros.conversions import joint_trajectory_to_ros
    from diffgrasp_ros.moveit_backend import ActionHand

    control = types.ModuleType("control_msgs")
    control.action = types.SimpleNamespace(FollowJointTrajectory=object())
    monkeypatch.setitem(sys.modules, "control_msgs", control)
    monkeypatch.setitem(sys.modules, "control_msgs.action", control.action)
    calls = []

    class Client:
        script = []  # (status, error_code) per goal; None = never finishes

        def __init__(self, node, action_type, name, callback_group=None):
            calls.append(("client", name))

        def wait_for_server(self, timeout_sec=None):
            return True

        def send_goal_and_wait(self, goal, timeout_s, feedback_callback=None):
            calls.append(("goal", list(goal.trajectory.joint_names)))
            feedback_callback(types.SimpleNamespace(feedback=types.SimpleNamespace(
                joint_names=["rh_FFJ3"], actual=types.SimpleNamespace(positions=[0.5]))))
            return types.SimpleNamespace(accepted=True, outcome=Client.script.pop(0),
                                         cancel_goal_async=lambda: calls.append(("cancel",)))

        def wait_for_result(self, handle, timeout_s):  # None: no result within timeout_s
            return None if handle.outcome is None else types.SimpleNamespace(
                status=handle.outcome[0], result=types.SimpleNamespace(error_code=handle.outcome[1]))

    monkeypatch.setattr(diffgrasp_ros.action_client, "SafeActionClient", Client)
    hand = ActionHand(object(), "/hand_controller/follow_joint_trajectory", f, server_timeout_s=0.05)
    trajectory = joint_trajectory_to_ros(f, ["rh_FFJ3"], [0.1], np.array([[0.7]]))
    Client.script = [(4, 0), (6, -5), (6, -4), None]  # SUCCEEDED; ABORTED goal tolerance; ABORTED path; timeout
    assert hand.move(trajectory, 0.05) == (True, {"rh_FFJ3": 0.5})
    assert hand.move(trajectory, 0.05) == (True, {"rh_FFJ3": 0.5})
    assert hand.move(trajectory, 0.05) == (False, {"rh_FFJ3": 0.5})
    assert hand.move(trajectory, 0.05) == (False, {"rh_FFJ3": 0.5}) and calls[-1] == ("cancel",)
    assert calls[0] == ("client", "/hand_controller/follow_joint_trajectory") and calls[1] == ("goal", ["rh_FFJ3"])
    hand.cancel()  # nothing running: no-op
    assert calls[-1] == ("cancel",) and len([c for c in calls if c == ("cancel",)]) == 1
