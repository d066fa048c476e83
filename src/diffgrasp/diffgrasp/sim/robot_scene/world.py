"""What the robot scene's world holds besides the robot: sky, light, floor, the table (top at z = 0) and the object
on it (a free body of convex parts with an explicit inertial), and the object's resting pose on the table."""

from __future__ import annotations

import mujoco
import numpy as np
import trimesh

from diffgrasp.sim.robot_scene.scene_config import OBJECT_BODY, OBJECT_JOINT, TABLE_GEOM, RobotSceneConfig


def quat_wxyz_from_matrix(rot: np.ndarray) -> np.ndarray:
    """(4,) wxyz quaternion of a (3, 3) rotation matrix (MuJoCo's conversion)."""
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


def add_environment(spec: mujoco.MjSpec, config: RobotSceneConfig) -> None:
    """Sky texture, sun light, floor and the table box (``config.table_*``, top face at z = 0)."""
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


def add_object(spec: mujoco.MjSpec, parts: list[trimesh.Trimesh], full: trimesh.Trimesh, pose: np.ndarray,
               cfg: RobotSceneConfig) -> None:
    """The object body at ``pose`` (4, 4) object-to-world on a free joint: collision meshes ``parts`` (object
    frame, m) and the inertial of ``full`` scaled to ``cfg.object_mass`` (or ``cfg.object_density`` × volume)."""
    body = spec.worldbody.add_body(name=OBJECT_BODY, pos=pose[:3, 3], quat=quat_wxyz_from_matrix(pose[:3, :3]))
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


__all__ = ["add_environment", "add_object", "quat_wxyz_from_matrix", "resting_pose"]
