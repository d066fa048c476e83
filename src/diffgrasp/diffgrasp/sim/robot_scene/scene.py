"""Building and compiling the robot scene: ``build_robot_spec`` → ``compile_robot_scene`` → ``RobotScene``."""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
import trimesh

from diffgrasp.hand.names import JOINT_NAMES
from diffgrasp.sim.robot_scene.assets import arm_spec, hand_spec, quiet_empty_prefix, set_hand_gains
from diffgrasp.sim.robot_scene.cameras import add_cameras
from diffgrasp.sim.robot_scene.scene_config import (
    ARM_ACTUATOR_NAMES,
    ARM_JOINT_NAMES,
    FLANGE_SITE,
    OBJECT_BODY,
    OBJECT_JOINT,
    TABLE_GEOM,
    RobotSceneConfig,
)
from diffgrasp.sim.robot_scene.world import add_environment, add_object


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

    add_environment(spec, config)

    arm = arm_spec()
    hand = hand_spec()
    for child in (arm, hand):  # identical options: no attach conflicts
        child.option.integrator, child.option.cone = spec.option.integrator, spec.option.cone
        child.option.impratio, child.option.timestep = spec.option.impratio, spec.option.timestep
    yaw = config.base_yaw + np.pi  # the menagerie base body is turned by π (quat 0 0 0 −1); undo it
    frame = spec.worldbody.add_frame(pos=list(config.base_position), quat=[np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
    with quiet_empty_prefix():  # keep the canonical joint names (rh_*, *_joint): attach without a prefix
        arm.attach(hand, site=arm.site(FLANGE_SITE), prefix="")
        spec.attach(arm, frame=frame, prefix="")
    spec.add_exclude(bodyname1="world", bodyname2="shoulder_link")  # the base stands on the table
    if config.gravity_compensation:
        for body in spec.bodies:
            if body.name not in ("world", OBJECT_BODY) and body.name:
                body.gravcomp = 1.0
    set_hand_gains(spec, config)
    add_object(spec, parts, mesh, pose, config)
    add_cameras(spec, cameras or {})
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
    with quiet_empty_prefix():
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


__all__ = ["RobotScene", "build_robot_scene", "build_robot_spec", "compile_robot_scene"]
