"""Every service/action of diffgrasp_interfaces built from core types, through CDR, and parsed back.

The builders fill every field by name against the real .srv/.action definitions (rosbags requires all of them), so
renaming or removing a field in an interface file breaks these tests — as the last test shows explicitly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from test_ros_conversions import assert_grasps_equal, random_grasp
from test_ros_sensor_conversions import make_views

from diffgrasp.execution import ExecutionResult
from diffgrasp.execution.backend import Trajectories
from diffgrasp.grasps import GraspSet
from diffgrasp_ros import action_messages as am
from diffgrasp_ros import conversions as cv
from diffgrasp_ros import sensor_conversions as sc

INTERFACES = Path(__file__).resolve().parents[2] / "diffgrasp_interfaces"


def cube_observation(factory, watertight: bool = True):
    import trimesh

    box = trimesh.creation.box((0.05, 0.06, 0.07))
    obs = sc.Observation("cube", "world", 7, np.eye(4), box.vertices, box.faces,
                         box.sample(50, seed=0).astype(np.float32),
                         watertight, "", ["cam0"])
    return sc.observation_to_ros(factory, obs)


def test_capture_and_fuse_services(factory, cdr, typestore):
    req = cdr(am.capture_request_to_ros(factory, ["cam0", "cam1"], 2.5))
    assert list(req.camera_names) == ["cam0", "cam1"] and req.timeout_s == 2.5
    views_msg = sc.multiview_to_ros(factory, make_views(np.random.default_rng(0)))
    resp = cdr(am.capture_response_to_ros(factory, 0, "", views_msg))
    assert sc.multiview_from_ros(resp.views).names == ["cam0", "cam1", "cam2"]
    codes = typestore.types["diffgrasp_interfaces/srv/CaptureScene_Response"]
    timeout = cdr(am.capture_response_to_ros(factory, codes.TIMEOUT, "no new frame from cam1", None))
    assert timeout.error_code == 2 and len(timeout.views.camera_names) == 0
    fuse_req = cdr(am.fuse_request_to_ros(factory, views_msg, "mug", "/tmp/mug.ply"))
    assert (fuse_req.object_id, fuse_req.mesh_path) == ("mug", "/tmp/mug.ply")
    fuse_resp = cdr(am.fuse_response_to_ros(factory, 0, "", cube_observation(factory)))
    assert sc.observation_from_ros(fuse_resp.observation).object_id == "cube"
    empty = cdr(am.fuse_response_to_ros(factory, 3, "object absent", None))
    assert empty.error_code == 3 and len(empty.observation.mesh.vertices) == 0


def test_predict_grasps_action(factory, cdr):
    goal = cdr(am.predict_goal_to_ros(factory, cube_observation(factory), 8))
    request = am.predict_goal_from_ros(goal)
    assert request.num_grasps == 8 and len(request.observation.faces) == 12
    goal.num_grasps = 0
    with pytest.raises(ValueError, match="num_grasps: expected >= 1"):
        am.predict_goal_from_ros(goal)
    rng = np.random.default_rng(1)
    grasps = GraspSet("cube", "", [random_grasp(rng, phases=False) for _ in range(3)])
    result = cdr(am.predict_result_to_ros(factory, 0, "", cv.grasp_set_to_ros(factory, grasps, source="network"),
                                          0.012))
    for a, b in zip(grasps.grasps, cv.grasp_set_from_ros(result.grasps).grasps, strict=True):
        assert_grasps_equal(a, b)
    assert result.inference_time_s == 0.012
    fb = cdr(am.predict_feedback_to_ros(factory, "inference", 0.5))
    assert (fb.stage, fb.progress) == ("inference", 0.5)


def test_refine_grasps_action(factory, cdr, typestore):
    rng = np.random.default_rng(2)
    initial = GraspSet("cube", "", [random_grasp(rng) for _ in range(4)])
    goal = cdr(am.refine_goal_to_ros(factory, cube_observation(factory), 4, cv.grasp_set_to_ros(factory, initial),
                                     max_iterations=200, timeout_s=30.0, seed=5,
                                     weights={"penetration": 100.0, "q1": 1.0}))
    request = am.refine_goal_from_ros(goal)
    assert (request.num_grasps, request.max_iterations, request.timeout_s, request.seed) == (4, 200, 30.0, 5)
    assert request.weights == {"penetration": 100.0, "q1": 1.0}
    for a, b in zip(initial.grasps, request.initial_grasps.grasps, strict=True):
        assert_grasps_equal(a, b)
    no_initial = am.refine_goal_from_ros(am.refine_goal_to_ros(factory, cube_observation(factory), 2))
    assert no_initial.initial_grasps is None and no_initial.weights == {}
    for field, value, message in [("timeout_s", math.inf, "timeout_s"), ("num_grasps", 0, "num_grasps"),
                                  ("weight_values", np.array([1.0]), "weight_values: 1 values for 2")]:
        bad = am.refine_goal_to_ros(factory, cube_observation(factory), 4, weights={"a": 1.0, "b": 2.0})
        setattr(bad, field, value)
        with pytest.raises(ValueError, match=message):
            am.refine_goal_from_ros(bad)
    with pytest.raises(ValueError, match="mesh_is_watertight: false"):
        am.refine_goal_from_ros(am.refine_goal_to_ros(factory, cube_observation(factory, watertight=False), 4))
    fb = cdr(am.refine_feedback_to_ros(factory, 50, 200, 0.75, {"q1": -0.2, "penetration": 0.95}, 3.5))
    assert (fb.iteration, fb.max_iterations, fb.progress, fb.elapsed_s) == (50, 200, 0.25, 3.5)
    assert cv.loss_terms_from_ros(fb.best_loss_terms) == (0.75, {"q1": -0.2, "penetration": 0.95})
    codes = typestore.types["diffgrasp_interfaces/action/RefineGrasps_Result"]
    result = cdr(am.refine_result_to_ros(factory, codes.CANCELLED, "cancelled: best grasps so far", status="cancelled",
                                         grasp_set_msg=cv.grasp_set_to_ros(factory, initial), iterations=51,
                                         best_loss=0.75, loss_terms={"q1": -0.2}, planning_time_s=3.6))
    assert (result.error_code, result.status, result.iterations, len(result.grasps.grasps)) == (3, "cancelled", 51, 4)


def test_execute_grasp_action(factory, cdr, typestore):
    rng = np.random.default_rng(3)
    grasp = random_grasp(rng)
    goal = cdr(factory("diffgrasp_interfaces/action/ExecuteGrasp_Goal",
                       grasp=cv.grasp_to_ros(factory, grasp), observation=cube_observation(factory),
                       approach_distance_m=0.0, lift_height_m=0.2, velocity_scaling=0.0, plan_only=True))
    defaults = {"approach_distance_m": 0.1, "lift_height_m": 0.15, "velocity_scaling": 0.3}
    req = am.execute_goal_from_ros(goal, defaults)
    assert (req.approach_distance_m, req.lift_height_m, req.velocity_scaling, req.plan_only) == (0.1, 0.2, 0.3, True)
    assert_grasps_equal(req.grasp, grasp)
    goal.velocity_scaling = 1.5
    with pytest.raises(ValueError, match=r"velocity_scaling: expected \(0, 1\]"):
        am.execute_goal_from_ros(goal, defaults)
    goal.velocity_scaling, goal.grasp.header.frame_id = 0.0, "camera"
    with pytest.raises(ValueError, match="grasp.header.frame_id: 'camera'"):
        am.execute_goal_from_ros(goal, defaults)
    feedback_type = typestore.types["diffgrasp_interfaces/action/ExecuteGrasp_Feedback"]
    assert am.EXECUTE_PHASES == tuple(getattr(feedback_type, f"PHASE_{p.upper()}") for p in am.EXECUTE_PHASES)
    assert cdr(am.execute_feedback_to_ros(factory, "lift")).progress == 1.0
    # a core ExecutionResult (as the MuJoCo/MoveIt backends return it) → result with one trajectory per phase
    t = np.arange(6) * 0.1
    traj = Trajectories(t, ("a1", "a2"), rng.random((6, 2)), ("h1",), rng.random((6, 1)), np.zeros((6, 3)),
                        ["pregrasp"] * 3 + ["close"] * 3)
    codes = typestore.types["diffgrasp_interfaces/action/ExecuteGrasp_Result"]
    msg = cdr(am.execution_result_to_ros(factory, ExecutionResult(False, "close", "slip", 0, "object fell",
                                                                  trajectories=traj), codes))
    assert msg.error_code == codes.OBJECT_NOT_LIFTED and msg.failed_phase == "close" and not msg.object_lifted
    assert len(msg.trajectories) == 2
    names, times, positions = cv.joint_trajectory_from_ros(msg.trajectories[1])
    assert names == ["a1", "a2", "h1"] and np.allclose(times, [0.0, 0.1, 0.2])
    assert np.array_equal(positions, np.concatenate([traj.arm, traj.hand], 1)[3:])
    ok = cdr(am.execution_result_to_ros(factory, ExecutionResult(True, "hold", "ok", 0, object_lifted=True), codes))
    assert ok.error_code == codes.SUCCESS and ok.object_lifted


def test_grasp_object_action(factory, cdr, typestore):
    request = am.GraspObjectRequest("mug", 16, True, False, 120.0)
    goal = cdr(am.grasp_object_goal_to_ros(factory, request))
    assert am.grasp_object_goal_from_ros(goal) == request
    goal.num_candidates = 0
    with pytest.raises(ValueError, match="num_candidates"):
        am.grasp_object_goal_from_ros(goal)
    feedback_type = typestore.types["diffgrasp_interfaces/action/GraspObject_Feedback"]
    assert am.PIPELINE_STAGES == tuple(getattr(feedback_type, f"STAGE_{s.upper()}") for s in am.PIPELINE_STAGES)
    fb = cdr(am.grasp_object_feedback_to_ros(factory, "refinement", 0.01))
    assert (fb.stage, fb.progress, fb.best_quality) == ("refinement", 0.6000000238418579, 0.01)
    result = cdr(am.grasp_object_result_to_ros(factory, 3, "fusion: object absent", failed_stage="fusion"))
    assert (result.failed_stage, result.executed_index) == ("fusion", -1)


def test_error_code_constants_are_distinct_and_success_is_zero(typestore):
    for name, (consts, fields) in typestore.fielddefs.items():
        if not name.startswith("diffgrasp_interfaces/") or "error_code" not in [f for f, _ in fields]:
            continue
        values = {n: v for n, _, v in consts if _ == "int32"}
        assert values.get("SUCCESS") == 0, name
        assert len(set(values.values())) == len(values), f"{name}: duplicate error codes {values}"
        assert "message" in [f for f, _ in fields], name


def test_renamed_action_field_breaks_conversion(tmp_path):
    """Copy the interfaces, rename one RefineGrasps feedback field, rebuild the store: the builder must fail."""
    import shutil

    from diffgrasp_ros.message_factory import RosbagsFactory
    from diffgrasp_ros.typestore import build_typestore

    copy = tmp_path / "diffgrasp_interfaces"
    shutil.copytree(INTERFACES, copy, ignore=shutil.ignore_patterns("test", "CMakeLists.txt", "package.xml"))
    action = copy / "action" / "RefineGrasps.action"
    text = action.read_text()
    assert "uint32 iteration " in text
    action.write_text(text.replace("uint32 iteration ", "uint32 current_iteration "))
    factory = RosbagsFactory(build_typestore([copy]))
    with pytest.raises(TypeError, match=r"unknown field\(s\) \['iteration'\], missing field\(s\) "
                                        r"\['current_iteration'\]"):
        am.refine_feedback_to_ros(factory, 1, 10, 0.5, {}, 0.1)
