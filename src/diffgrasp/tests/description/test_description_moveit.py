"""MoveIt configuration (config/moveit/) and ros2_control controllers (config/ros2_controllers.yaml) against the
robot cell URDF: SRDF groups, states and disabled collisions, kinematics, joint limits, controllers, planners."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import mujoco
import numpy as np
import pytest
import yaml
from description_helpers import ARM_JOINTS, MOVEIT_DIR, REPO, URDF_DIR, load_script

from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_NAMES, WRIST_JOINT_NAMES

SRDF = MOVEIT_DIR / "ur10e_shadow.srdf"


@pytest.fixture(scope="module")
def urdf() -> ET.Element:
    return ET.parse(URDF_DIR / "robot_cell.urdf").getroot()


@pytest.fixture(scope="module")
def srdf() -> ET.Element:
    return ET.parse(SRDF).getroot()


@pytest.fixture(scope="module")
def joints(urdf) -> dict[str, ET.Element]:
    return {j.get("name"): j for j in urdf.findall("joint")}


@pytest.fixture(scope="module")
def links(urdf) -> set[str]:
    return {link.get("name") for link in urdf.findall("link")}


def chain_joints(joints: dict[str, ET.Element], base: str, tip: str) -> list[str]:
    """Movable joints on the URDF path base → tip (root to tip order); [] if tip is not below base."""
    by_child = {j.find("child").get("link"): j for j in joints.values()}
    out, link = [], tip
    while link != base:
        joint = by_child.get(link)
        if joint is None:
            return []
        if joint.get("type") != "fixed":
            out.append(joint.get("name"))
        link = joint.find("parent").get("link")
    return out[::-1]


def group_joints(srdf: ET.Element, joints: dict[str, ET.Element], name: str) -> list[str]:
    group = next(g for g in srdf.findall("group") if g.get("name") == name)
    out = [j.get("name") for j in group.findall("joint")]
    for chain in group.findall("chain"):
        out += chain_joints(joints, chain.get("base_link"), chain.get("tip_link"))
    for sub in group.findall("group"):
        out += group_joints(srdf, joints, sub.get("name"))
    return out


def load(path):
    return yaml.safe_load(path.read_text())


# --- SRDF --------------------------------------------------------------------------------------------------------

def test_srdf_groups(srdf, joints, links, urdf):
    assert srdf.get("name") == urdf.get("name") == "ur10e_shadow"
    names = [g.get("name") for g in srdf.findall("group")]
    assert names == ["arm", "wrist", "arm_with_wrist", "hand", "arm_and_hand"]
    for group in srdf.findall("group"):
        for joint in group.findall("joint"):
            assert joint.get("name") in joints, joint.get("name")
        for chain in group.findall("chain"):
            assert chain.get("base_link") in links and chain.get("tip_link") in links
        for link in group.findall("link"):
            assert link.get("name") in links
    assert group_joints(srdf, joints, "arm") == list(ARM_JOINTS)
    assert group_joints(srdf, joints, "wrist") == list(WRIST_JOINT_NAMES)
    assert group_joints(srdf, joints, "arm_with_wrist") == list(ARM_JOINTS + WRIST_JOINT_NAMES)
    assert group_joints(srdf, joints, "hand") == list(FINGER_JOINT_NAMES)
    assert group_joints(srdf, joints, "arm_and_hand") == list(ARM_JOINTS + JOINT_NAMES)


def test_srdf_states_and_end_effector(srdf, joints, links):
    states = {(s.get("name"), s.get("group")): s for s in srdf.findall("group_state")}
    assert set(states) == {("home", "arm"), ("open", "hand"), ("pack", "hand"), ("neutral", "wrist")}
    for (name, group), state in states.items():
        values = {j.get("name"): float(j.get("value")) for j in state.findall("joint")}
        assert sorted(values) == sorted(group_joints(srdf, joints, group)), name
        for joint, value in values.items():
            limit = joints[joint].find("limit")
            assert float(limit.get("lower")) <= value <= float(limit.get("upper")), (name, joint)
    (ee,) = srdf.findall("end_effector")
    assert ee.get("parent_link") in links and ee.get("parent_link") == "rh_palm"
    group_names = {g.get("name") for g in srdf.findall("group")}
    assert ee.get("group") in group_names and ee.get("parent_group") in group_names


def test_srdf_disabled_pairs(srdf, urdf):
    gen = load_script("generate_srdf")
    geometric = {link.get("name") for link in urdf.findall("link") if link.find("collision") is not None}
    disabled = {tuple(sorted((d.get("link1"), d.get("link2")))): d.get("reason")
                for d in srdf.findall("disable_collisions")}
    assert len(disabled) == len(srdf.findall("disable_collisions")), "duplicate pairs"
    for (a, b), reason in disabled.items():
        assert a in geometric and b in geometric and a != b
        assert reason in {"Adjacent", "User", "Default", "Always", "Never"}
    parent, _ = gen.urdf_tree(URDF_DIR / "robot_cell.urdf")
    adjacent = gen.adjacent_pairs(parent, geometric)
    assert {("rh_ffdistal", "rh_ffmiddle"), ("rh_forearm", "wrist_3_link"), ("shoulder_link", "table")} <= adjacent
    for pair in adjacent:
        assert disabled.get(pair) == "Adjacent", pair
    # Pairs that must stay checked: fingertips against each other, the thumb against the palm, the hand and the table.
    for pair in [("rh_ffdistal", "rh_thdistal"), ("rh_palm", "rh_thdistal"), ("rh_ffdistal", "table"),
                 ("rh_palm", "table"), ("forearm_link", "rh_palm")]:
        assert tuple(sorted(pair)) not in disabled, pair


def test_srdf_text_matches_generator(srdf):
    """Groups, states and end effector in the committed SRDF are what scripts/generate_srdf.py writes."""
    gen = load_script("generate_srdf")
    reasons = {tuple(sorted((d.get("link1"), d.get("link2")))): d.get("reason")
               for d in srdf.findall("disable_collisions")}
    header = SRDF.read_text().split("\n", 2)[1]
    samples = int(header.split("samples=")[1].split()[0])
    seed = int(header.split("seed=")[1].split(",")[0])
    assert gen.srdf_text(reasons, samples, seed).split("\n", 2)[2] == SRDF.read_text().split("\n", 2)[2]


@pytest.fixture(scope="module")
def collision():
    gen = load_script("generate_srdf")
    model = gen.collision_model()
    return gen, model, mujoco.MjData(model)


def test_collision_model_is_the_cell(collision):
    """The MuJoCo model used for the disabled pairs places every link where robot_cell.urdf does."""
    from description_helpers import load_urdf

    gen, model, data = collision
    cell = load_urdf(URDF_DIR / "robot_cell.urdf")
    rng = np.random.default_rng(5)
    for qpos in gen.random_qpos(model, rng, 5):
        data.qpos[:] = qpos
        mujoco.mj_kinematics(model, data)
        cell.update_cfg({model.joint(j).name.split("/")[-1]: qpos[model.jnt_qposadr[j]] for j in range(model.njnt)})
        for b in range(1, model.nbody):
            name = model.body(b).name.split("/")[-1]
            got = cell.get_transform(name, "world")
            np.testing.assert_allclose(got[:3, 3], data.xpos[b], atol=1e-6, err_msg=name)
            np.testing.assert_allclose(got[:3, :3], data.xmat[b].reshape(3, 3), atol=1e-6, err_msg=name)


def test_never_pairs_stay_apart_on_fresh_samples(srdf, collision):
    """Independent samples (another seed): no pair disabled as 'Never' touches, so MoveIt loses no real contact."""
    gen, model, data = collision
    never = {tuple(sorted((d.get("link1"), d.get("link2")))) for d in srdf.findall("disable_collisions")
             if d.get("reason") == "Never"}
    assert len(never) > 100
    seen = set()
    for qpos in gen.random_qpos(model, np.random.default_rng(2024), 3000):
        pairs = gen.colliding_pairs(model, data, qpos)
        seen |= pairs
        assert not (pairs & never), sorted(pairs & never)
    assert len(seen) > 50  # the sampler does find collisions


def test_named_states_are_collision_free(srdf, collision):
    gen, model, data = collision
    disabled = {tuple(sorted((d.get("link1"), d.get("link2")))) for d in srdf.findall("disable_collisions")}
    states = {s.get("name"): {j.get("name"): float(j.get("value")) for j in s.findall("joint")}
              for s in srdf.findall("group_state")}
    for hand_state in ("open", "pack"):
        q = {**states["home"], **states["neutral"], **states[hand_state]}
        pairs = gen.colliding_pairs(model, data, gen.joint_qpos(model, q))
        assert not (pairs - disabled), (hand_state, sorted(pairs - disabled))
    # and a state that does collide is detected: the little fingertip curled into the thumb's path
    q = {**states["home"], **states["neutral"], **states["open"], "rh_THJ5": 1.0, "rh_THJ4": 1.2}
    q.update({f"rh_{f}J{j}": 1.5 for f in ("FF", "MF") for j in (3, 2, 1)})
    assert gen.colliding_pairs(model, data, gen.joint_qpos(model, q)) - disabled


# --- controllers -------------------------------------------------------------------------------------------------

def test_controllers_agree(joints, urdf):
    moveit = load(MOVEIT_DIR / "moveit_controllers.yaml")
    ros2 = load(REPO / "config" / "ros2_controllers.yaml")
    manager = moveit["moveit_simple_controller_manager"]
    names = manager["controller_names"]
    assert names == ["arm_controller", "hand_controller"]
    declared = ros2["controller_manager"]["ros__parameters"]
    assert declared["joint_state_broadcaster"]["type"] == "joint_state_broadcaster/JointStateBroadcaster"
    r2c_joints = {j.get("name"): j for j in urdf.find("ros2_control").findall("joint")}
    for name in names:
        assert declared[name]["type"] == "joint_trajectory_controller/JointTrajectoryController"
        params = ros2[name]["ros__parameters"]
        assert manager[name]["type"] == "FollowJointTrajectory"
        assert manager[name]["action_ns"] == "follow_joint_trajectory"
        assert manager[name]["joints"] == params["joints"], name
        for joint in params["joints"]:
            assert joint in joints and joints[joint].get("type") == "revolute", joint
            assert joint in r2c_joints, joint
            commands = {c.get("name") for c in r2c_joints[joint].findall("command_interface")}
            states = {s.get("name") for s in r2c_joints[joint].findall("state_interface")}
            assert set(params["command_interfaces"]) <= commands and set(params["state_interfaces"]) <= states
    assert ros2["arm_controller"]["ros__parameters"]["joints"] == list(ARM_JOINTS)
    assert ros2["hand_controller"]["ros__parameters"]["joints"] == list(JOINT_NAMES)
    assert ros2["hand_controller"]["ros__parameters"]["allow_partial_joints_goal"] is True
    # every movable joint is driven by exactly one controller
    driven = [j for n in names for j in ros2[n]["ros__parameters"]["joints"]]
    movable = [n for n, j in joints.items() if j.get("type") != "fixed"]
    assert sorted(driven) == sorted(movable)


# --- kinematics, limits, planners --------------------------------------------------------------------------------

def test_kinematics_and_joint_limits(srdf, joints):
    groups = {g.get("name"): g for g in srdf.findall("group")}
    kin = load(MOVEIT_DIR / "kinematics.yaml")
    assert set(kin) == {"arm", "arm_with_wrist"}
    for name, cfg in kin.items():
        assert groups[name].find("chain") is not None, name
        assert cfg["kinematics_solver"] == "kdl_kinematics_plugin/KDLKinematicsPlugin"
        assert cfg["kinematics_solver_timeout"] > 0
    limits = load(MOVEIT_DIR / "joint_limits.yaml")["joint_limits"]
    movable = [n for n, j in joints.items() if j.get("type") != "fixed"]
    assert sorted(limits) == sorted(movable)
    for name, lim in limits.items():
        urdf_velocity = float(joints[name].find("limit").get("velocity"))
        assert lim["has_velocity_limits"] and 0 < lim["max_velocity"] <= urdf_velocity + 1e-9, name
        assert lim["has_acceleration_limits"] and lim["max_acceleration"] > 0, name


def test_planning_pipelines(srdf, joints):
    groups = {g.get("name") for g in srdf.findall("group")}
    ompl = load(MOVEIT_DIR / "ompl_planning.yaml")
    assert ompl["planning_plugins"] == ["ompl_interface/OMPLPlanner"]
    configs = set(ompl["planner_configs"])
    for group in groups:
        assert group in ompl, group
        assert set(ompl[group]["planner_configs"]) <= configs
        assert ompl[group]["default_planner_config"] in configs
        projected = ompl[group]["projection_evaluator"].removeprefix("joints(").removesuffix(")").split(",")
        assert set(projected) <= set(group_joints(srdf, joints, group)), group
    moveit_py = load(MOVEIT_DIR / "moveit_py.yaml")
    for pipeline in moveit_py["planning_pipelines"]["pipeline_names"]:
        assert (MOVEIT_DIR / f"{pipeline}_planning.yaml").is_file(), pipeline
    for key, value in moveit_py.items():
        params = value.get("plan_request_params") if key != "plan_request_params" else value
        if isinstance(params, dict) and "planning_pipeline" in params:
            assert params["planning_pipeline"] in moveit_py["planning_pipelines"]["pipeline_names"], key
            if params["planning_pipeline"] == "ompl":
                assert params["planner_id"] in configs
    assert load(MOVEIT_DIR / "pilz_cartesian_limits.yaml")["cartesian_limits"]["max_trans_vel"] > 0
