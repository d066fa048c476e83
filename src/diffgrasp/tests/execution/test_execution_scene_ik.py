"""Robot scene (UR10e + Shadow hand on the flange, table, object, cameras) and UR10e IK."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest
import trimesh
import yaml
from scipy.spatial.transform import Rotation

from diffgrasp.config import load_config, to_dict
from diffgrasp.execution import ExecutionConfig, IKConfig, SerialChain, solve_ik
from diffgrasp.execution.grasp_planning import GraspPlanner
from diffgrasp.execution.mujoco_backend import hand_ctrl_matrix
from diffgrasp.hand.names import JOINT_NAMES
from diffgrasp.sim.robot_scene import (
    ARM_HOME,
    ARM_JOINT_NAMES,
    FLANGE_SITE,
    RobotSceneConfig,
    build_robot_scene,
    load_camera_poses,
    resting_pose,
)

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def box_scene():
    mesh = trimesh.creation.box((0.06, 0.05, 0.04))
    return build_robot_scene(mesh, resting_pose(mesh, (0.05, -0.02)))


def _body_pose(model, data, name):
    b = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
    pose = np.eye(4)
    pose[:3, :3] = data.xmat[b].reshape(3, 3)
    pose[:3, 3] = data.xpos[b]
    return pose


def test_scene_joints_actuators_and_object(box_scene):
    m = box_scene.model
    names = [m.joint(i).name for i in range(m.njnt)]
    assert names[:6] == list(ARM_JOINT_NAMES)
    assert names[6:30] == list(JOINT_NAMES)
    assert names[30] == "object_free" and m.jnt_type[30] == mujoco.mjtJoint.mjJNT_FREE
    assert m.njnt == 31 and m.nq == 6 + 24 + 7
    assert m.nu == 6 + 20  # six arm actuators, twenty hand actuators (four of them on the J1+J2 tendons)
    assert np.allclose(m.opt.gravity, [0, 0, -9.81])
    assert m.body_mass[box_scene.object_body] == pytest.approx(0.1)
    # Object rests on the table top (z = 0) and stays there with gravity on.
    d = box_scene.data
    box_scene.reset()
    z0 = d.xipos[box_scene.object_body].copy()
    assert z0[2] == pytest.approx(0.02, abs=1e-9)
    for _ in range(250):
        mujoco.mj_step(m, d)
    assert np.linalg.norm(d.xipos[box_scene.object_body] - z0) < 2e-3
    # Robot holds its home pose (gravity compensation, position actuators).
    assert np.abs(d.qpos[box_scene.arm_qpos] - np.array(ARM_HOME)).max() < 2e-3


def test_density_sets_mass():
    mesh = trimesh.creation.box((0.1, 0.1, 0.1))
    scene = build_robot_scene(mesh, resting_pose(mesh), config=RobotSceneConfig(object_density=500.0))
    assert scene.model.body_mass[scene.object_body] == pytest.approx(0.5, rel=1e-6)


def test_flange_equals_forearm_mount(box_scene):
    m, d = box_scene.model, box_scene.data
    rng = np.random.default_rng(3)
    for _ in range(5):
        d.qpos[box_scene.arm_qpos] = rng.uniform(-3, 3, 6)
        mujoco.mj_kinematics(m, d)
        flange = box_scene.flange_pose()
        forearm = _body_pose(m, d, "rh_forearm")
        assert np.abs(np.linalg.inv(flange) @ forearm - np.eye(4)).max() < 1e-9
    # Flange z points along the forearm z axis and away from wrist_3 (the hand continues the arm).
    wrist3 = _body_pose(m, d, "wrist_3_link")
    palm = _body_pose(m, d, "rh_palm")
    assert np.dot(palm[:3, 3] - wrist3[:3, 3], box_scene.flange_pose()[:3, 2]) > 0.2


def test_tendon_actuators_take_the_sum(box_scene):
    ids, mat = hand_ctrl_matrix(box_scene)
    assert len(ids) == 20
    row = mat[[box_scene.model.actuator(i).name for i in ids].index("rh_A_FFJ0")]
    assert row[JOINT_NAMES.index("rh_FFJ1")] == 1 and row[JOINT_NAMES.index("rh_FFJ2")] == 1 and row.sum() == 2
    row = mat[[box_scene.model.actuator(i).name for i in ids].index("rh_A_THJ1")]
    assert row[JOINT_NAMES.index("rh_THJ1")] == 1 and row.sum() == 1


def test_chain_fk_matches_mujoco(box_scene):
    m, d = box_scene.model, box_scene.data
    chain = SerialChain.from_model(m, ARM_JOINT_NAMES, FLANGE_SITE)
    q = np.random.default_rng(1).uniform(-3, 3, (6, 6))
    poses = chain.forward(q)[0]
    for qi, pose in zip(q, poses, strict=True):
        d.qpos[box_scene.arm_qpos] = qi
        mujoco.mj_kinematics(m, d)
        assert np.abs(box_scene.flange_pose() - pose).max() < 1e-10


def test_forearm_to_palm_matches_mujoco(box_scene):
    m, d = box_scene.model, box_scene.data
    planner = GraspPlanner(box_scene)
    wrist = np.array([[-0.3, 0.2], [0.1, -0.5]])
    fp = planner.forearm_to_palm(wrist)
    for w, t in zip(wrist, fp, strict=True):
        d.qpos[box_scene.hand_qpos[:2]] = w
        mujoco.mj_kinematics(m, d)
        ref = np.linalg.inv(_body_pose(m, d, "rh_forearm")) @ _body_pose(m, d, "rh_palm")
        assert np.abs(ref - t).max() < 1e-10


def test_ik_reaches_random_poses(box_scene):
    """Targets from random configurations in the workspace in front of the robot: ≤ 1 mm and ≤ 0.5°, checked with
    MuJoCo's own kinematics."""
    m, d = box_scene.model, box_scene.data
    chain = SerialChain.from_model(m, ARM_JOINT_NAMES, FLANGE_SITE)
    rng = np.random.default_rng(7)
    q_true = np.array(ARM_HOME) + rng.uniform(-0.8, 0.8, (24, 6))
    targets = chain.forward(q_true)[0]
    res = solve_ik(chain, targets, np.array(ARM_HOME), IKConfig(), seed=0)
    assert res.success.all()
    for qi, target in zip(res.q, targets, strict=True):
        d.qpos[box_scene.arm_qpos] = qi
        mujoco.mj_kinematics(m, d)
        pose = box_scene.flange_pose()
        assert np.linalg.norm(pose[:3, 3] - target[:3, 3]) <= 1e-3
        angle = Rotation.from_matrix(pose[:3, :3].T @ target[:3, :3]).magnitude()
        assert np.degrees(angle) <= 0.5
    assert np.all(res.q >= chain.lower) and np.all(res.q <= chain.upper)
    # Deterministic for a fixed input.
    again = solve_ik(chain, targets, np.array(ARM_HOME), IKConfig(), seed=0)
    assert np.array_equal(again.q, res.q)


def test_ik_reports_unreachable_targets(box_scene):
    chain = SerialChain.from_model(box_scene.model, ARM_JOINT_NAMES, FLANGE_SITE)
    target = np.eye(4)
    target[:3, 3] = [2.5, 0.0, 0.3]
    res = solve_ik(chain, target[None], np.array(ARM_HOME), IKConfig(num_seeds=3))
    assert not res.success[0] and res.position_error[0] > 0.5


def test_cameras_from_calibration_file(tmp_path):
    assert load_camera_poses(tmp_path / "absent.yaml") == {}
    cam_pos = [0.6, 0.0, 0.5]
    look = Rotation.from_euler("y", -135, degrees=True)  # link x (forward) towards the table centre, downwards
    doc = {"cameras": [{"name": "cam0", "width": 640, "height": 480, "intrinsics": [600.0, 600.0, 320.0, 240.0],
                        "parent_to_link": {"translation": cam_pos, "rotation_xyzw": look.as_quat().tolist()}}]}
    path = tmp_path / "cameras_sim.yaml"
    path.write_text(yaml.safe_dump(doc))
    cams = load_camera_poses(path)
    cam_to_world, fovy = cams["cam0"]
    assert fovy == pytest.approx(np.degrees(2 * np.arctan(240 / 600)))
    mesh = trimesh.creation.box((0.05, 0.05, 0.05))
    scene = build_robot_scene(mesh, resting_pose(mesh), cameras=cams)
    m, d = scene.model, scene.data
    cam = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_CAMERA, "cam0")
    assert cam >= 0 and m.cam_fovy[cam] == pytest.approx(fovy)
    mujoco.mj_forward(m, d)
    assert np.allclose(d.cam_xpos[cam], cam_pos)
    # MuJoCo cameras look along −z; the optical frame looks along +z (ROS convention).
    assert np.allclose(-d.cam_xmat[cam].reshape(3, 3)[:, 2], cam_to_world[:3, 2], atol=1e-9)
    assert np.allclose(-d.cam_xmat[cam].reshape(3, 3)[:, 1], cam_to_world[:3, 1], atol=1e-9)  # y down in optical


def test_execution_yaml_equals_defaults():
    path = REPO / "config" / "execution.yaml"
    assert to_dict(load_config(ExecutionConfig, path)) == to_dict(ExecutionConfig())


def test_bad_object_pose_rejected():
    mesh = trimesh.creation.box((0.05, 0.05, 0.05))
    with pytest.raises(ValueError, match="object_pose_world"):
        build_robot_scene(mesh, np.eye(3))
