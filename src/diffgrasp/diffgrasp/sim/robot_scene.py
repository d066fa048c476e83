"""The embedded robot scene: table, UR10e with the Shadow hand on its flange, one object, cameras (MjSpec).

Frames: ``world`` has z up and the table top at z = 0. The arm base sits at ``RobotSceneConfig.base_position`` /
``base_yaw``. The hand's ``rh_forearm`` frame coincides with the UR10e flange site ``attachment_site`` (identity
rotation, zero offset: the contract's ``rh_mount``), so the flange z axis points along the forearm z axis.
The object body's frame is the object mesh file's own frame, placed at ``object_pose_world`` (4, 4).

Actuators: the menagerie position actuators of the arm (``shoulder_pan`` … ``wrist_3``) and of the hand
(``rh_A_*``; the ``rh_A_{FF,MF,RF,LF}J0`` tendon actuators take the SUM J1 + J2 as their target).
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Iterator
from pathlib import Path

import mujoco
import numpy as np
import trimesh

from diffgrasp.data import shadow_hand_mjcf, ur10e_mjcf
from diffgrasp.hand.names import JOINT_NAMES

ARM_JOINT_NAMES: tuple[str, ...] = (
    "shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint", "wrist_2_joint", "wrist_3_joint",
)
"""The six UR10e joints in chain order (= qpos order in the scene)."""

ARM_ACTUATOR_NAMES: tuple[str, ...] = ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3")
FLANGE_SITE = "attachment_site"
OBJECT_BODY = "object"
OBJECT_JOINT = "object_free"
TABLE_GEOM = "table"
OVERVIEW_CAMERA = "overview"
ARM_HOME: tuple[float, ...] = (0.0, -1.5708, 1.5708, -1.5708, -1.5708, 0.0)
"""Home joint angles (rad): the menagerie keyframe with the base turned so the arm faces +x (the table centre)."""


@dataclasses.dataclass(frozen=True)
class RobotSceneConfig:
    """Geometry and physics of the embedded scene (metres, radians, seconds, kilograms).

    base_position / base_yaw: UR10e base frame in world (yaw about z; 0 makes the home pose reach along +x).
    table_center / table_half_size: the table box; its top face is at z = 0.
    timestep: simulation step (s). gravity_compensation: arm and hand bodies are gravity compensated (as a real
    controller would), so position targets are held without sag.
    object_mass: kg (used when object_density is None); object_density: kg/m³ (mass = volume × density).
    friction: sliding friction of the object and table geoms; the hand keeps its menagerie values.
    hand_kp / hand_force_limit: gain (N·m/rad) and force limit (N·m) of the 18 finger/thumb position actuators
    (wrist untouched); None keeps the menagerie values (kp 0.4–1.5, ±1–3 N·m). The physics test of the design
    notes (§7) uses kp 5, ±3.
    """

    base_position: tuple[float, float, float] = (-0.65, 0.0, 0.0)
    base_yaw: float = 0.0
    table_center: tuple[float, float] = (-0.2, 0.0)
    table_half_size: tuple[float, float, float] = (0.75, 0.6, 0.02)
    timestep: float = 0.002
    gravity_compensation: bool = True
    object_mass: float = 0.1
    object_density: float | None = None
    friction: float = 1.0
    home: tuple[float, ...] = ARM_HOME
    hand_kp: float | None = None
    hand_force_limit: float | None = None


def _quat_wxyz_from_matrix(rot: np.ndarray) -> np.ndarray:
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(rot, dtype=float).reshape(9))
    return quat


def resting_pose(mesh: trimesh.Trimesh, xy: tuple[float, float] = (0.0, 0.0),
                 rotation: np.ndarray | None = None) -> np.ndarray:
    """(4, 4) object-to-world pose that puts the mesh (turned by ``rotation`` (3, 3)) with its lowest point on the
    table (z = 0) and its bounding-box centre above ``xy`` (m)."""
    rot = np.eye(3) if rotation is None else np.asarray(rotation, dtype=float)
    verts = mesh.vertices @ rot.T
    lo, hi = verts.min(0), verts.max(0)
    pose = np.eye(4)
    pose[:3, :3] = rot
    pose[:3, 3] = [xy[0] - 0.5 * (lo[0] + hi[0]), xy[1] - 0.5 * (lo[1] + hi[1]), -lo[2]]
    return pose


def load_camera_poses(path: str | Path) -> dict[str, tuple[np.ndarray, float]]:
    """Camera name → (camera_to_world (4, 4) in the ROS optical convention, vertical field of view deg) from a
    calibration YAML (``config/cameras_sim.yaml``). Returns {} when the file is absent.

    Uses the perception rig loader (``diffgrasp.perception.rig.load_rig``) when importable; otherwise a tiny
    parser of ``cameras: [{name, camera_to_world: 4x4 | {position, quaternion_xyzw}, height, intrinsics}]``.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        from diffgrasp.perception.rig import load_rig
    except ImportError:
        load_rig = None
    if load_rig is not None:
        out: dict[str, tuple[np.ndarray, float]] = {}
        for cam in load_rig(path).cameras:
            fovy = 58.0 if isinstance(cam.intrinsics, str) else float(
                np.degrees(2.0 * np.arctan(0.5 * cam.height / cam.intrinsics[1])))
            out[cam.name] = (cam.camera_to_world(), fovy)
        return out
    import yaml

    data = yaml.safe_load(path.read_text()) or {}
    cams = data.get("cameras", data) if isinstance(data, dict) else data
    entries = ([dict(v, name=v.get("name", k)) for k, v in cams.items()] if isinstance(cams, dict) else list(cams))
    out = {}
    for entry in entries:
        try:
            out[str(entry["name"])] = (_camera_to_world(entry), _fovy_deg(entry))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: camera entry {entry.get('name', '?')!r} not understood ({err})") from None
    return out


def _camera_to_world(entry: dict) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    for key in ("camera_to_world", "extrinsics", "pose"):
        value = entry.get(key)
        if value is None:
            continue
        if isinstance(value, dict):
            pos = np.asarray(value.get("position", value.get("translation")), dtype=float)
            quat = np.asarray(value.get("quaternion_xyzw", value.get("orientation_xyzw", value.get("rotation_xyzw"))),
                              dtype=float)
            mat = np.eye(4)
            mat[:3, :3] = Rotation.from_quat(quat).as_matrix()
            mat[:3, 3] = pos
            return mat
        mat = np.asarray(value, dtype=float)
        if mat.shape == (4, 4):
            return mat
    raise KeyError("camera_to_world")


def _fovy_deg(entry: dict) -> float:
    height = float(entry.get("height", 480))
    intr = entry.get("intrinsics", entry.get("K"))
    if isinstance(intr, dict):
        fy = float(intr.get("fy"))
    elif intr is not None:
        fy = float(np.asarray(intr, dtype=float).reshape(3, 3)[1, 1])
    elif "fovy_deg" in entry:
        return float(entry["fovy_deg"])
    else:
        return 58.0
    return float(np.degrees(2.0 * np.arctan(0.5 * height / fy)))


@contextlib.contextmanager
def _quiet_empty_prefix() -> Iterator[None]:
    """Swallow MuJoCo's "empty prefix" attach warning (our names are unique); pass other warnings on."""
    previous = mujoco.get_mju_user_warning()

    def handler(message: str) -> None:
        if "empty prefix" not in message:
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(handler)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Attaching a spec with an empty prefix")
            yield
    finally:
        mujoco.set_mju_user_warning(previous)


def _hand_spec() -> mujoco.MjSpec:
    """The packaged hand with its forearm frame reset to identity (the mount) and assets renamed to avoid clashes."""
    hand = mujoco.MjSpec.from_file(str(shadow_hand_mjcf()))
    forearm = hand.body("rh_forearm")
    forearm.pos = [0.0, 0.0, 0.0]
    forearm.quat = [1.0, 0.0, 0.0, 0.0]
    renamed = {}
    for mesh in hand.meshes:
        renamed[mesh.name] = "rh_" + mesh.name
        mesh.name = "rh_" + mesh.name
    materials = {}
    for mat in hand.materials:
        materials[mat.name] = "rh_" + mat.name
        mat.name = "rh_" + mat.name
    for geom in hand.geoms:
        if geom.meshname in renamed:
            geom.meshname = renamed[geom.meshname]
        if geom.material in materials:
            geom.material = materials[geom.material]
    for default in hand.defaults if hasattr(hand, "defaults") else []:
        if default.geom.material in materials:
            default.geom.material = materials[default.geom.material]
    return hand


def _set_hand_gains(spec: mujoco.MjSpec, config: RobotSceneConfig) -> None:
    for act in spec.actuators:
        if not act.name.startswith("rh_A_") or act.name.startswith("rh_A_WR"):
            continue
        if config.hand_kp is not None:
            act.gainprm[0] = config.hand_kp
            act.biasprm[1] = -config.hand_kp
        if config.hand_force_limit is not None:
            act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
            act.forcerange = [-config.hand_force_limit, config.hand_force_limit]


def _add_object(spec: mujoco.MjSpec, parts: list[trimesh.Trimesh], full: trimesh.Trimesh, pose: np.ndarray,
                cfg: RobotSceneConfig) -> None:
    body = spec.worldbody.add_body(name=OBJECT_BODY, pos=pose[:3, 3], quat=_quat_wxyz_from_matrix(pose[:3, :3]))
    body.add_freejoint(name=OBJECT_JOINT)
    volume = float(abs(full.volume))
    mass = cfg.object_mass if cfg.object_density is None else cfg.object_density * volume
    if not np.isfinite(mass) or mass <= 0:
        raise ValueError(f"object mass: expected a positive number, got {mass}")
    inertia = np.asarray(full.moment_inertia, dtype=float) * (mass / (float(full.mass) if full.mass else 1.0))
    body.explicitinertial = True
    body.mass = mass
    body.ipos = np.asarray(full.center_mass, dtype=float)
    body.fullinertia = [inertia[0, 0], inertia[1, 1], inertia[2, 2], inertia[0, 1], inertia[0, 2], inertia[1, 2]]
    for i, part in enumerate(parts):
        name = f"object_part_{i}"
        spec.add_mesh(name=name, uservert=np.asarray(part.vertices, dtype=np.float32).reshape(-1).tolist(),
                      userface=np.asarray(part.faces, dtype=np.int32).reshape(-1).tolist())
        body.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_MESH, meshname=name, rgba=[0.85, 0.45, 0.2, 1.0],
                      friction=[cfg.friction, 0.02, 0.0001], condim=4, group=0)


def _add_cameras(spec: mujoco.MjSpec, cameras: dict[str, tuple[np.ndarray, float]]) -> None:
    optical_to_mujoco = np.diag([1.0, -1.0, -1.0])  # MuJoCo cameras look along −z with y up
    for name, (cam_to_world, fovy) in cameras.items():
        rot = cam_to_world[:3, :3] @ optical_to_mujoco
        spec.worldbody.add_camera(name=name, pos=cam_to_world[:3, 3], quat=_quat_wxyz_from_matrix(rot), fovy=fovy)
    # Overview camera for execution frames: front-right of the table, looking at the table centre.
    eye, target = np.array([0.6, -1.1, 0.95]), np.array([-0.2, 0.0, 0.3])
    fwd = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    quat = _quat_wxyz_from_matrix(np.stack([right, up, -fwd], 1))
    spec.worldbody.add_camera(name=OVERVIEW_CAMERA, pos=eye, quat=quat, fovy=45.0)


def build_robot_spec(mesh: trimesh.Trimesh, object_pose_world: np.ndarray,
                     convex_parts: list[trimesh.Trimesh] | None = None, config: RobotSceneConfig = RobotSceneConfig(),
                     cameras: dict[str, tuple[np.ndarray, float]] | None = None) -> mujoco.MjSpec:
    """MjSpec of the whole scene (not compiled). ``mesh`` is the object in its file frame (m); ``convex_parts``
    its convex pieces in the same frame (default: the convex hull); ``cameras`` from :func:`load_camera_poses`."""
    pose = np.asarray(object_pose_world, dtype=float)
    if pose.shape != (4, 4) or not np.isfinite(pose).all():
        raise ValueError(f"object_pose_world: expected a finite (4, 4) matrix, got shape {pose.shape}")
    if len(mesh.faces) == 0:
        raise ValueError("mesh: has no faces")
    parts = convex_parts if convex_parts else [mesh.convex_hull]

    spec = mujoco.MjSpec()
    spec.modelname = "diffgrasp_robot_scene"
    spec.option.timestep = config.timestep
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    spec.option.gravity = [0.0, 0.0, -9.81]
    spec.visual.global_.offwidth = 1280
    spec.visual.global_.offheight = 960
    spec.stat.center = [-0.1, 0.0, 0.2]
    spec.stat.extent = 1.5

    spec.add_texture(name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX, builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT,
                     rgb1=[0.75, 0.82, 0.9], rgb2=[0.3, 0.35, 0.42], width=256, height=256)
    world = spec.worldbody
    world.add_light(name="sun", pos=[0.0, 0.0, 3.0], dir=[0.0, 0.0, -1.0], type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
                    diffuse=[0.7, 0.7, 0.7])
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3.0, 3.0, 0.05],
                   pos=[0.0, 0.0, -0.75], rgba=[0.55, 0.6, 0.65, 1.0])
    hx, hy, hz = config.table_half_size
    world.add_geom(name=TABLE_GEOM, type=mujoco.mjtGeom.mjGEOM_BOX, size=[hx, hy, hz],
                   pos=[config.table_center[0], config.table_center[1], -hz], rgba=[0.72, 0.6, 0.45, 1.0],
                   friction=[config.friction, 0.02, 0.0001])

    arm = mujoco.MjSpec.from_file(str(ur10e_mjcf()))
    for light in arm.lights:
        arm.delete(light)
    hand = _hand_spec()
    for child in (arm, hand):  # identical options: no attach conflicts
        child.option.integrator, child.option.cone = spec.option.integrator, spec.option.cone
        child.option.impratio, child.option.timestep = spec.option.impratio, spec.option.timestep
    yaw = config.base_yaw + np.pi  # the menagerie base body is turned by π (quat 0 0 0 −1); undo it
    frame = world.add_frame(pos=list(config.base_position), quat=[np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
    with _quiet_empty_prefix():  # keep the canonical joint names (rh_*, *_joint): attach without a prefix
        arm.attach(hand, site=arm.site(FLANGE_SITE), prefix="")
        spec.attach(arm, frame=frame, prefix="")
    spec.add_exclude(bodyname1="world", bodyname2="shoulder_link")  # the base stands on the table
    if config.gravity_compensation:
        for body in spec.bodies:
            if body.name not in ("world", OBJECT_BODY) and body.name:
                body.gravcomp = 1.0
    _set_hand_gains(spec, config)
    _add_object(spec, parts, mesh, pose, config)
    _add_cameras(spec, cameras or {})
    return spec


@dataclasses.dataclass
class RobotScene:
    """Compiled scene with index helpers. ``model`` is immutable by convention; ``data`` is the live state."""

    model: mujoco.MjModel
    data: mujoco.MjData
    config: RobotSceneConfig
    arm_qpos: np.ndarray        # (6,) qpos addresses of the arm joints
    arm_dof: np.ndarray         # (6,) dof addresses
    hand_qpos: np.ndarray       # (24,) qpos addresses of the hand joints, canonical order
    arm_ctrl: np.ndarray        # (6,) actuator ids
    hand_ctrl: dict[str, int]   # actuator name → id
    object_qpos: int            # first qpos address of the object free joint (pos 3, quat wxyz 4)
    object_body: int
    flange_site: int
    table_geom: int
    robot_geoms: np.ndarray     # ids of the arm and hand collision geoms

    def reset(self, arm_q: np.ndarray | None = None) -> None:
        """Arm at ``arm_q`` (default home), hand open (zeros), object at its initial pose, controls matching."""
        mujoco.mj_resetData(self.model, self.data)
        q = np.asarray(self.config.home if arm_q is None else arm_q, dtype=float)
        self.data.qpos[self.arm_qpos] = q
        self.data.ctrl[self.arm_ctrl] = q
        mujoco.mj_forward(self.model, self.data)

    def object_pose(self) -> np.ndarray:
        """(4, 4) current object-to-world pose."""
        pose = np.eye(4)
        pose[:3, 3] = self.data.qpos[self.object_qpos:self.object_qpos + 3]
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, self.data.qpos[self.object_qpos + 3:self.object_qpos + 7])
        pose[:3, :3] = mat.reshape(3, 3)
        return pose

    def flange_pose(self) -> np.ndarray:
        """(4, 4) flange (= rh_forearm) pose in world for the current ``data``."""
        pose = np.eye(4)
        pose[:3, 3] = self.data.site_xpos[self.flange_site]
        pose[:3, :3] = self.data.site_xmat[self.flange_site].reshape(3, 3)
        return pose


def compile_robot_scene(spec: mujoco.MjSpec, config: RobotSceneConfig = RobotSceneConfig()) -> RobotScene:
    """Compile ``spec`` (from :func:`build_robot_spec`) and resolve the joint, actuator and geom indices."""
    with _quiet_empty_prefix():
        model = spec.compile()
    data = mujoco.MjData(model)

    def jid(name: str) -> int:
        return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)

    arm_j = [jid(n) for n in ARM_JOINT_NAMES]
    hand_j = [jid(n) for n in JOINT_NAMES]
    if min(arm_j + hand_j) < 0:
        raise RuntimeError("robot scene: arm or hand joints missing after compile")
    hand_ctrl = {model.actuator(i).name: i for i in range(model.nu) if model.actuator(i).name.startswith("rh_A_")}
    arm_ctrl = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, n) for n in ARM_ACTUATOR_NAMES]
    obj_body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, OBJECT_BODY)
    table = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, TABLE_GEOM)
    floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    robot_geoms = np.array([g for g in range(model.ngeom)
                            if g not in (table, floor) and model.geom_bodyid[g] not in (0, obj_body)
                            and (model.geom_contype[g] or model.geom_conaffinity[g])], dtype=int)
    scene = RobotScene(
        model=model, data=data, config=config,
        arm_qpos=model.jnt_qposadr[arm_j].copy(), arm_dof=model.jnt_dofadr[arm_j].copy(),
        hand_qpos=model.jnt_qposadr[hand_j].copy(), arm_ctrl=np.array(arm_ctrl, dtype=int), hand_ctrl=hand_ctrl,
        object_qpos=int(model.jnt_qposadr[jid(OBJECT_JOINT)]), object_body=obj_body,
        flange_site=mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, FLANGE_SITE), table_geom=table,
        robot_geoms=robot_geoms,
    )
    scene.reset()
    return scene


def build_robot_scene(mesh: trimesh.Trimesh, object_pose_world: np.ndarray,
                      convex_parts: list[trimesh.Trimesh] | None = None, config: RobotSceneConfig = RobotSceneConfig(),
                      cameras: dict[str, tuple[np.ndarray, float]] | None = None) -> RobotScene:
    """Build and compile the scene; see :func:`build_robot_spec`."""
    return compile_robot_scene(build_robot_spec(mesh, object_pose_world, convex_parts, config, cameras), config)


__all__ = [
    "ARM_ACTUATOR_NAMES", "ARM_HOME", "ARM_JOINT_NAMES", "FLANGE_SITE", "OBJECT_BODY", "OVERVIEW_CAMERA",
    "RobotScene", "RobotSceneConfig", "build_robot_scene", "build_robot_spec", "compile_robot_scene",
    "load_camera_poses", "resting_pose",
]
