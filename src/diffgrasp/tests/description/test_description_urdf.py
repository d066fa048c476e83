"""URDF/xacro vs the packaged MJCFs: expansion, joint names, limits, axes, inertials, meshes, collision
primitives and forward kinematics (yourdfpy against MuJoCo), and the committed URDFs being up to date."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import trimesh
from description_helpers import (
    ARM_JOINTS,
    URDF_DIR,
    arm_hand_mujoco,
    body_pose,
    load_script,
    load_urdf,
    pose_from,
    resolve_package,
)
from scipy.spatial import cKDTree

from diffgrasp.data import shadow_hand_mjcf, ur10e_mjcf
from diffgrasp.hand.names import JOINT_LIMITS, JOINT_NAMES

xacro = pytest.importorskip("xacro")
pytest.importorskip("yourdfpy")

EXPANDED = ("shadow_hand", "ur10e", "ur10e_shadow", "robot_cell")
NUM_CONFIGS = 120


@pytest.fixture(scope="module")
def hand_model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(shadow_hand_mjcf()))


@pytest.fixture(scope="module")
def arm_model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(ur10e_mjcf()))


@pytest.fixture(scope="module")
def urdfs() -> dict:
    return {name: load_urdf(URDF_DIR / f"{name}.urdf") for name in EXPANDED}


def random_configs(model: mujoco.MjModel, n: int, seed: int) -> np.ndarray:
    """(n, nq): the lower limits, the upper limits, then uniform samples within the joint ranges."""
    lo, hi = model.jnt_range[:, 0], model.jnt_range[:, 1]
    q = lo + (hi - lo) * np.random.default_rng(seed).random((n, model.nq))
    q[0], q[1] = lo, hi
    return q


# --- expansion and up-to-date ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", EXPANDED)
def test_xacro_expands(name):
    doc = xacro.process_file(str(URDF_DIR / f"{name}.urdf.xacro"))
    robot = doc.documentElement
    assert robot.tagName == "robot"
    assert robot.getElementsByTagName("link").length > 0


def test_committed_urdfs_are_up_to_date():
    gen = load_script("generate_urdf")
    changed = gen.generate(check=True)
    assert changed == [], f"regenerate with scripts/generate_urdf.py: {[str(p) for p in changed]}"


def test_no_find_and_no_absolute_paths():
    """Our xacros must expand without ROS ($(find) needs ament_index) and expansions must not name local paths."""
    for path in URDF_DIR.glob("*.xacro"):
        assert "$(find" not in path.read_text(), path.name
    for name in EXPANDED:
        text = (URDF_DIR / f"{name}.urdf").read_text()
        assert "/work/" not in text and "file://" not in text, name


# --- names, limits, axes -----------------------------------------------------------------------------------------

def test_joint_names(urdfs):
    assert tuple(urdfs["shadow_hand"].actuated_joint_names) == JOINT_NAMES
    assert tuple(urdfs["ur10e"].actuated_joint_names) == ARM_JOINTS
    for name in ("ur10e_shadow", "robot_cell"):
        assert tuple(urdfs[name].actuated_joint_names) == ARM_JOINTS + JOINT_NAMES


def test_every_mesh_uri_resolves(urdfs):
    from pathlib import Path

    for robot in urdfs.values():
        for link in robot.link_map.values():
            for element in list(link.visuals) + list(link.collisions):
                if element.geometry.mesh is not None:
                    assert Path(resolve_package(element.geometry.mesh.filename)).is_file()


@pytest.mark.parametrize("which", ["hand", "arm"])
def test_joints_equal_mjcf(which, urdfs, hand_model, arm_model):
    model, robot = (hand_model, urdfs["shadow_hand"]) if which == "hand" else (arm_model, urdfs["ur10e"])
    for j in range(model.njnt):
        name = model.joint(j).name
        joint = robot.joint_map[name]
        assert joint.type == "revolute"
        assert joint.child == model.body(model.jnt_bodyid[j]).name
        assert joint.parent == model.body(model.body_parentid[model.jnt_bodyid[j]]).name
        np.testing.assert_allclose(joint.axis, model.jnt_axis[j], atol=1e-12, err_msg=name)
        np.testing.assert_allclose([joint.limit.lower, joint.limit.upper], model.jnt_range[j], atol=1e-12, err_msg=name)
        assert joint.limit.velocity > 0 and joint.limit.effort > 0
        assert float(joint.dynamics.damping) == pytest.approx(model.dof_damping[model.jnt_dofadr[j]], abs=1e-12)
    if which == "hand":
        for name, (lo, hi) in JOINT_LIMITS.items():
            assert (robot.joint_map[name].limit.lower, robot.joint_map[name].limit.upper) == pytest.approx((lo, hi))


@pytest.mark.parametrize("which", ["hand", "arm"])
def test_inertials_equal_mjcf(which, urdfs, hand_model, arm_model):
    model, robot = (hand_model, urdfs["shadow_hand"]) if which == "hand" else (arm_model, urdfs["ur10e"])
    for b in range(1, model.nbody):
        inertial = robot.link_map[model.body(b).name].inertial
        assert inertial.mass == pytest.approx(model.body_mass[b], rel=1e-12)
        np.testing.assert_allclose(inertial.origin[:3, 3], model.body_ipos[b], atol=1e-12)
        rot = inertial.origin[:3, :3]
        urdf_inertia = rot @ inertial.inertia @ rot.T
        mj_rot = pose_from([0, 0, 0], model.body_iquat[b])[:3, :3]
        mj_inertia = mj_rot @ np.diag(model.body_inertia[b]) @ mj_rot.T
        np.testing.assert_allclose(urdf_inertia, mj_inertia, atol=1e-9 * max(1.0, np.abs(mj_inertia).max()))


# --- geometry ----------------------------------------------------------------------------------------------------

def _mj_geom_vertices(model: mujoco.MjModel, g: int) -> np.ndarray:
    """(V, 3) compiled mesh vertices of geom g in its body frame."""
    mesh = model.geom_dataid[g]
    verts = model.mesh_vert[model.mesh_vertadr[mesh]:model.mesh_vertadr[mesh] + model.mesh_vertnum[mesh]]
    pose = pose_from(model.geom_pos[g], model.geom_quat[g])
    return verts @ pose[:3, :3].T + pose[:3, 3]


def _urdf_mesh_vertices(element) -> np.ndarray:
    mesh = element.geometry.mesh
    raw = trimesh.load(resolve_package(mesh.filename), process=False, force="mesh").vertices
    scaled = raw * (np.ones(3) if mesh.scale is None else np.asarray(mesh.scale))
    return scaled @ element.origin[:3, :3].T + element.origin[:3, 3]


def _assert_same_points(a: np.ndarray, b: np.ndarray, what: str) -> None:
    d_ab, _ = cKDTree(b).query(a)
    d_ba, _ = cKDTree(a).query(b)
    assert max(d_ab.max(), d_ba.max()) < 1e-6, f"{what}: vertices differ by {max(d_ab.max(), d_ba.max()):.2e} m"


@pytest.mark.parametrize("which", ["hand", "arm"])
def test_visual_meshes_placed_like_mujoco(which, urdfs, hand_model, arm_model):
    model, robot = (hand_model, urdfs["shadow_hand"]) if which == "hand" else (arm_model, urdfs["ur10e"])
    for b in range(1, model.nbody):
        link = robot.link_map[model.body(b).name]
        geoms = [g for g in range(model.body_geomadr[b], model.body_geomadr[b] + model.body_geomnum[b])
                 if model.geom_contype[g] == 0 and model.geom_conaffinity[g] == 0
                 and model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH]
        assert len(link.visuals) == len(geoms), link.name
        for g, visual in zip(geoms, link.visuals):
            _assert_same_points(_urdf_mesh_vertices(visual), _mj_geom_vertices(model, g), f"{link.name} visual {g}")


def _expected_collisions(model: mujoco.MjModel, g: int) -> list[tuple[str, np.ndarray, tuple]]:
    """URDF elements expected for MuJoCo collision geom g: (kind, pose in body (4, 4), dimensions)."""
    pose = pose_from(model.geom_pos[g], model.geom_quat[g])
    size = model.geom_size[g]
    kind = model.geom_type[g]
    if kind == mujoco.mjtGeom.mjGEOM_BOX:
        return [("box", pose, tuple(2 * size))]
    if kind == mujoco.mjtGeom.mjGEOM_SPHERE:
        return [("sphere", pose, (size[0],))]
    if kind == mujoco.mjtGeom.mjGEOM_CYLINDER:
        return [("cylinder", pose, (size[0], 2 * size[1]))]
    if kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
        out = [("cylinder", pose, (size[0], 2 * size[1]))]
        for sign in (1.0, -1.0):
            end = pose.copy()
            end[:3, 3] = pose[:3, 3] + sign * size[1] * pose[:3, 2]
            out.append(("sphere", end, (size[0],)))
        return out
    if kind == mujoco.mjtGeom.mjGEOM_MESH:
        return [("mesh", pose, ())]
    raise AssertionError(f"unexpected geom type {kind}")


def _urdf_collision(element) -> tuple[str, tuple]:
    geo = element.geometry
    if geo.box is not None:
        return "box", tuple(geo.box.size)
    if geo.sphere is not None:
        return "sphere", (geo.sphere.radius,)
    if geo.cylinder is not None:
        return "cylinder", (geo.cylinder.radius, geo.cylinder.length)
    return "mesh", ()


@pytest.mark.parametrize("which", ["hand", "arm"])
def test_collision_geometry_equals_mjcf(which, urdfs, hand_model, arm_model):
    model, robot = (hand_model, urdfs["shadow_hand"]) if which == "hand" else (arm_model, urdfs["ur10e"])
    for b in range(1, model.nbody):
        link = robot.link_map[model.body(b).name]
        expected = [(g, *e) for g in range(model.body_geomadr[b], model.body_geomadr[b] + model.body_geomnum[b])
                    if model.geom_contype[g] or model.geom_conaffinity[g] for e in _expected_collisions(model, g)]
        assert len(link.collisions) == len(expected), link.name
        for (g, kind, pose, dims), element in zip(expected, link.collisions):
            got_kind, got_dims = _urdf_collision(element)
            assert got_kind == kind, (link.name, g)
            if kind == "mesh":
                _assert_same_points(_urdf_mesh_vertices(element), _mj_geom_vertices(model, g), f"{link.name} mesh {g}")
                continue
            np.testing.assert_allclose(got_dims, dims, atol=1e-12)
            np.testing.assert_allclose(element.origin[:3, 3], pose[:3, 3], atol=1e-9)
            if kind != "sphere":
                np.testing.assert_allclose(element.origin[:3, :3], pose[:3, :3], atol=1e-9)


# --- forward kinematics ------------------------------------------------------------------------------------------

def _check_fk(robot, model: mujoco.MjModel, root_urdf: str, root_mj: str, prefix: str = "") -> int:
    """Every MuJoCo body's pose relative to ``root_mj`` equals the URDF link pose relative to ``root_urdf``
    (link name = body name without ``prefix``) for NUM_CONFIGS configurations. Returns the number of links checked."""
    data = mujoco.MjData(model)
    names = {model.joint(j).name.removeprefix(prefix): j for j in range(model.njnt)}
    bodies = [model.body(b).name for b in range(1, model.nbody)]
    for q in random_configs(model, NUM_CONFIGS, seed=7):
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        robot.update_cfg({name: q[model.jnt_qposadr[j]] for name, j in names.items()})
        root_inv = np.linalg.inv(body_pose(model, data, root_mj))
        for body in bodies:
            expected = root_inv @ body_pose(model, data, body)
            got = robot.get_transform(body.removeprefix(prefix), root_urdf)
            np.testing.assert_allclose(got[:3, 3], expected[:3, 3], atol=1e-6, err_msg=body)
            np.testing.assert_allclose(got[:3, :3], expected[:3, :3], atol=1e-6, err_msg=body)
    return len(bodies)


def test_fk_hand_equals_mujoco(urdfs, hand_model):
    assert _check_fk(urdfs["shadow_hand"], hand_model, "rh_forearm", "rh_forearm") == 25


def test_fk_arm_equals_mujoco(urdfs, arm_model):
    assert _check_fk(urdfs["ur10e"], arm_model, "base", "base") == 7


def test_fk_arm_and_hand_equals_mujoco(urdfs):
    """Arm + hand (hand on attachment_site with identity, as the MuJoCo scenes attach it)."""
    assert _check_fk(urdfs["ur10e_shadow"], arm_hand_mujoco(), "base", "base", prefix="hand/") == 32


# --- frames: flange, tool0, mount --------------------------------------------------------------------------------

def test_tool0_is_attachment_site_and_flange_follows_ur_convention(urdfs, arm_model):
    robot = urdfs["ur10e"]
    site = arm_model.site("attachment_site").id
    expected = pose_from(arm_model.site_pos[site], arm_model.site_quat[site])
    np.testing.assert_allclose(robot.get_transform("tool0", "wrist_3_link"), expected, atol=1e-9)
    flange_to_tool0 = robot.get_transform("tool0", "flange")
    # ROS-Industrial: tool0 = flange rotated rpy (pi/2, 0, pi/2): tool0 z = flange x (out of the flange).
    np.testing.assert_allclose(flange_to_tool0[:3, 2], [1.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(flange_to_tool0[:3, 3], 0.0, atol=1e-12)
    # base_link -> base is the MJCF base body's turn by pi about z.
    np.testing.assert_allclose(robot.get_transform("base", "base_link")[:3, :3], np.diag([-1.0, -1.0, 1.0]), atol=1e-9)


def test_mount_is_identity_by_default(urdfs):
    robot = urdfs["ur10e_shadow"]
    robot.update_cfg(np.random.default_rng(3).uniform(-1, 1, len(robot.actuated_joint_names)))
    np.testing.assert_allclose(robot.get_transform("rh_forearm", "tool0"), np.eye(4), atol=1e-12)
    np.testing.assert_allclose(robot.get_transform("rh_mount", "tool0"), np.eye(4), atol=1e-12)
    np.testing.assert_allclose(robot.get_transform("rh_forearm", "rh_mount"), np.eye(4), atol=1e-12)


def test_mount_parameter_moves_the_hand(tmp_path):
    from description_helpers import load_urdf as load
    from scipy.spatial.transform import Rotation

    doc = xacro.process_file(str(URDF_DIR / "ur10e_shadow.urdf.xacro"),
                             mappings={"mount_xyz": "0.01 -0.02 0.05", "mount_rpy": "0 0 0.7"})
    path = tmp_path / "mounted.urdf"
    path.write_text(doc.toprettyxml())
    robot = load(path)
    expected = np.eye(4)
    expected[:3, :3] = Rotation.from_euler("xyz", [0, 0, 0.7]).as_matrix()
    expected[:3, 3] = [0.01, -0.02, 0.05]
    np.testing.assert_allclose(robot.get_transform("rh_forearm", "tool0"), expected, atol=1e-12)
