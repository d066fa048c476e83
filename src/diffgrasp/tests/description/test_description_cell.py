"""The robot cell xacro: arm placement, table, camera mounts, xacro arguments and the ros2_control tag."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import mujoco
import numpy as np
import pytest
from description_helpers import ARM_JOINTS, URDF_DIR, load_urdf

from diffgrasp.hand.names import JOINT_NAMES

xacro = pytest.importorskip("xacro")
pytest.importorskip("yourdfpy")

CAMERAS = ("cam0", "cam1", "cam2", "cam3")


@pytest.fixture(scope="module")
def cell():
    return load_urdf(URDF_DIR / "robot_cell.urdf")


def expand_cell(tmp_path, **args) -> tuple[ET.Element, object]:
    doc = xacro.process_file(str(URDF_DIR / "robot_cell.urdf.xacro"), mappings={k: str(v) for k, v in args.items()})
    text = doc.toprettyxml()
    path = tmp_path / "cell.urdf"
    path.write_text(text)
    return ET.fromstring(text), load_urdf(path)


def test_arm_base_and_table(cell):
    base = cell.get_transform("base", "world")  # the MJCF 'base' body
    np.testing.assert_allclose(base[:3, :3], np.eye(3), atol=1e-9)
    np.testing.assert_allclose(base[:3, 3], [-0.65, 0.0, 0.0], atol=1e-12)
    table = cell.link_map["table"]
    size = table.collisions[0].geometry.box.size
    top = cell.get_transform("table", "world")[2, 3] + size[2] / 2
    assert top == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(size, [1.5, 1.2, 0.04])


def test_cell_defaults_match_the_mujoco_scene(cell):
    scene = pytest.importorskip("diffgrasp.sim.robot_scene")
    cfg = scene.RobotSceneConfig()
    yaw = cfg.base_yaw
    base = cell.get_transform("base", "world")
    np.testing.assert_allclose(base[:3, 3], cfg.base_position, atol=1e-12)
    np.testing.assert_allclose(base[:2, :2], [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]], atol=1e-9)
    table = cell.get_transform("table", "world")
    np.testing.assert_allclose(table[:2, 3], cfg.table_center, atol=1e-12)
    np.testing.assert_allclose(cell.link_map["table"].collisions[0].geometry.box.size,
                               2 * np.asarray(cfg.table_half_size))


def test_cell_fk_equals_the_mujoco_scene(cell):
    """World poses of every arm and hand link in the URDF cell = body poses in the execution helper's MuJoCo scene."""
    scene_mod = pytest.importorskip("diffgrasp.sim.robot_scene")
    import trimesh

    box = trimesh.creation.box((0.05, 0.05, 0.05))
    pose = np.eye(4)
    pose[2, 3] = 0.025
    scene = scene_mod.build_robot_scene(box, pose)
    model, data = scene.model, scene.data
    joints = ARM_JOINTS + JOINT_NAMES
    rng = np.random.default_rng(11)
    links = [name for name in cell.link_map
             if name != "world" and mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name) >= 0]
    assert len(links) == 32
    for _ in range(20):
        q = {}
        for name in joints:
            j = model.joint(name).id
            q[name] = rng.uniform(*model.jnt_range[j])
            data.qpos[model.jnt_qposadr[j]] = q[name]
        mujoco.mj_kinematics(model, data)
        cell.update_cfg(q)
        for name in links:
            b = model.body(name).id
            got = cell.get_transform(name, "world")
            np.testing.assert_allclose(got[:3, 3], data.xpos[b], atol=1e-6, err_msg=name)
            np.testing.assert_allclose(got[:3, :3], data.xmat[b].reshape(3, 3), atol=1e-6, err_msg=name)


def test_cameras_look_at_the_workspace_centre(cell):
    target = np.array([0.0, 0.0, 0.05])
    for cam, distance in zip(CAMERAS, (0.55, 0.60, 0.65, 0.70)):
        link = cell.get_transform(f"{cam}_link", "world")
        offset = link[:3, 3] - target
        assert np.linalg.norm(offset) == pytest.approx(distance, abs=1e-9)
        assert offset[2] == pytest.approx(distance * np.sin(np.radians(40.0)), abs=1e-9)
        np.testing.assert_allclose(link[:3, 0], -offset / np.linalg.norm(offset), atol=1e-9)  # x looks at the target
        assert link[2, 1] == pytest.approx(0.0, abs=1e-9)  # y horizontal (no roll)
        assert link[2, 2] > 0  # z up-ish
        optical = cell.get_transform(f"{cam}_depth_optical_frame", "world")
        np.testing.assert_allclose(optical[:3, 2], link[:3, 0], atol=1e-9)   # optical z = forward
        np.testing.assert_allclose(optical[:3, 0], -link[:3, 1], atol=1e-9)  # optical x = right
        np.testing.assert_allclose(optical[:3, 1], -link[:3, 2], atol=1e-9)  # optical y = down
    positions = np.array([cell.get_transform(f"{c}_link", "world")[:2, 3] for c in CAMERAS])
    np.testing.assert_allclose(np.degrees(np.arctan2(positions[:, 1], positions[:, 0])) % 360, [45, 135, 225, 315])


def test_cameras_match_the_simulated_rig(cell):
    """cam<i> of the cell = sim_cam<i> of config/cameras_sim.yaml (the perception helper's default simulated rig)."""
    import yaml
    from scipy.spatial.transform import Rotation

    path = URDF_DIR.parent / "config" / "cameras_sim.yaml"
    if not path.is_file():
        pytest.skip("config/cameras_sim.yaml not present")
    rig = {c["name"]: c for c in yaml.safe_load(path.read_text())["cameras"]}
    for i, cam in enumerate(CAMERAS):
        entry = rig[f"sim_cam{i}"]
        assert entry["parent_frame"] == "world"
        link = cell.get_transform(f"{cam}_link", "world")
        np.testing.assert_allclose(link[:3, 3], entry["parent_to_link"]["translation"], atol=2e-6)
        np.testing.assert_allclose(link[:3, :3],
                                   Rotation.from_quat(entry["parent_to_link"]["rotation_xyzw"]).as_matrix(), atol=2e-6)
        link_to_optical = cell.get_transform(f"{cam}_depth_optical_frame", f"{cam}_link")
        np.testing.assert_allclose(link_to_optical[:3, :3],
                                   Rotation.from_quat(entry["link_to_optical"]["rotation_xyzw"]).as_matrix(), atol=1e-9)


def test_xacro_arguments(tmp_path):
    root, robot = expand_cell(tmp_path, cameras="false", arm_xyz="0.1 0.2 0.3", arm_yaw=0.5)
    assert not any(name.startswith("cam") for name in robot.link_map)
    base = robot.get_transform("base", "world")
    np.testing.assert_allclose(base[:3, 3], [0.1, 0.2, 0.3], atol=1e-12)
    np.testing.assert_allclose(base[:2, 0], [np.cos(0.5), np.sin(0.5)], atol=1e-9)

    root, _ = expand_cell(tmp_path, ros2_control_hardware="gazebo", controllers_file="/x/ros2_controllers.yaml",
                          sim_cameras="true")
    assert root.find("ros2_control/hardware/plugin").text.strip() == "gz_ros2_control/GazeboSimSystem"
    plugin = [p for g in root.findall("gazebo") for p in g.findall("plugin")]
    assert plugin and plugin[0].find("parameters").text.strip() == "/x/ros2_controllers.yaml"
    sensors = {s.get("name"): s for g in root.findall("gazebo") for s in g.findall("sensor")}
    assert set(sensors) == set(CAMERAS)
    assert sensors["cam2"].find("gz_frame_id").text.strip() == "cam2_depth_optical_frame"

    root, _ = expand_cell(tmp_path, ros2_control_hardware="none")
    assert root.find("ros2_control") is None and not root.findall("gazebo")

    with pytest.raises(Exception, match="ros2_control hardware must be"):
        xacro.process_file(str(URDF_DIR / "robot_cell.urdf.xacro"), mappings={"ros2_control_hardware": "real"})


def test_ros2_control_tag_covers_all_joints():
    root = ET.parse(URDF_DIR / "robot_cell.urdf").getroot()
    system = root.find("ros2_control")
    assert system.find("hardware/plugin").text.strip() == "mock_components/GenericSystem"
    joints = [j.get("name") for j in system.findall("joint")]
    assert tuple(joints) == ARM_JOINTS + JOINT_NAMES
    for joint in system.findall("joint"):
        assert [c.get("name") for c in joint.findall("command_interface")] == ["position"]
        assert [s.get("name") for s in joint.findall("state_interface")] == ["position", "velocity"]
    initial = {j.get("name"): float(j.find("state_interface/param").text) for j in system.findall("joint")}
    assert [initial[n] for n in ARM_JOINTS] == [0.0, -1.5708, 1.5708, -1.5708, -1.5708, 0.0]
