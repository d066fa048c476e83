"""ROS-free conversions between ROS messages and core types: time, poses, grasps, loss terms, trajectories, scene.

Readers (``*_from_ros``) accept any object with the message's attributes (rclpy or rosbags). Writers (``*_to_ros``)
take a ``MessageFactory`` first. Units: metres, radians, seconds; stamps are integer nanoseconds. Quaternions in
messages are xyzw, the order of our grasp files; matrices go through ``diffgrasp.geometry.rotations`` (the one
module that converts quaternion order). Sensor data (depth, CameraInfo, clouds, meshes, observations) live in
``sensor_conversions``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from diffgrasp.geometry.rotations import matrix_to_quaternion_xyzw, normalize_quaternion, quaternion_xyzw_to_matrix
from diffgrasp.grasps import GraspSet, grasp_from_dict
from diffgrasp.hand.names import JOINT_NAMES
from diffgrasp_ros.mesh_conversions import mesh_to_ros
from diffgrasp_ros.message_factory import MessageFactory

HAND_ROOT_LINK = "rh_palm"
INTEGER_METRICS = frozenset({"contact_count", "touching_fingers"})
"""Grasp metrics stored as integers in grasp files (messages carry float64)."""

NS = 1_000_000_000


# --- time, header, poses -----------------------------------------------------------------------------------------
def time_to_ros(f: MessageFactory, stamp_ns: int) -> Any:
    """Integer nanoseconds since the epoch (≥ 0) → builtin_interfaces/Time."""
    stamp_ns = int(stamp_ns)
    if stamp_ns < 0:
        raise ValueError(f"stamp_ns: expected >= 0, got {stamp_ns}")
    return f("builtin_interfaces/msg/Time", sec=stamp_ns // NS, nanosec=stamp_ns % NS)


def time_from_ros(msg: Any) -> int:
    """builtin_interfaces/Time → integer nanoseconds."""
    return int(msg.sec) * NS + int(msg.nanosec)


def duration_to_ros(f: MessageFactory, seconds: float) -> Any:
    """Seconds (float) → builtin_interfaces/Duration (nanosecond resolution, nanosec in [0, 1e9))."""
    if not math.isfinite(seconds):
        raise ValueError(f"duration: expected a finite number of seconds, got {seconds}")
    total = round(seconds * NS)
    return f("builtin_interfaces/msg/Duration", sec=total // NS, nanosec=total % NS)


def duration_from_ros(msg: Any) -> float:
    """builtin_interfaces/Duration → seconds."""
    return int(msg.sec) + int(msg.nanosec) / NS


def header_to_ros(f: MessageFactory, frame_id: str, stamp_ns: int = 0) -> Any:
    return f("std_msgs/msg/Header", stamp=time_to_ros(f, stamp_ns), frame_id=str(frame_id))


def _unit_quaternion(q: Any, where: str) -> np.ndarray:
    return normalize_quaternion(np.asarray(q, dtype=float), where)


def pose_to_ros(f: MessageFactory, position: Sequence[float], quaternion_xyzw: Sequence[float]) -> Any:
    """Position (3,) m + unit quaternion xyzw (4,) → geometry_msgs/Pose (values copied exactly)."""
    p = np.asarray(position, dtype=float)
    q = np.asarray(quaternion_xyzw, dtype=float)
    if p.shape != (3,) or q.shape != (4,) or not (np.isfinite(p).all() and np.isfinite(q).all()):
        raise ValueError(f"pose: expected finite position (3,) and quaternion (4,), got {p.tolist()}, {q.tolist()}")
    return f("geometry_msgs/msg/Pose",
             position=f("geometry_msgs/msg/Point", x=float(p[0]), y=float(p[1]), z=float(p[2])),
             orientation=f("geometry_msgs/msg/Quaternion", x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))


def pose_from_ros(msg: Any, where: str = "pose") -> tuple[np.ndarray, np.ndarray]:
    """geometry_msgs/Pose → (position (3,) m, quaternion xyzw (4,)); a non-unit quaternion (±1e-3) is an error."""
    p = np.array([msg.position.x, msg.position.y, msg.position.z], dtype=float)
    o = msg.orientation
    q = np.array([o.x, o.y, o.z, o.w], dtype=float)
    if not np.isfinite(p).all():
        raise ValueError(f"{where}.position: contains NaN or inf")
    return p, _unit_quaternion(q, f"{where}.orientation")


def matrix_to_position_quaternion(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Homogeneous (4, 4) → (position (3,), quaternion xyzw (4,) with w ≥ 0)."""
    m = np.asarray(matrix, dtype=float)
    if m.shape != (4, 4) or not np.isfinite(m).all():
        raise ValueError(f"transform: expected a finite (4, 4) matrix, got shape {m.shape}")
    q = matrix_to_quaternion_xyzw(torch.from_numpy(m[:3, :3].copy())).numpy()
    return m[:3, 3].copy(), q


def position_quaternion_to_matrix(position: np.ndarray, quaternion_xyzw: np.ndarray) -> np.ndarray:
    """(3,) m + quaternion xyzw (4,) → homogeneous (4, 4) float64."""
    out = np.eye(4)
    out[:3, :3] = quaternion_xyzw_to_matrix(torch.as_tensor(np.asarray(quaternion_xyzw, dtype=float))).numpy()
    out[:3, 3] = position
    return out


def pose_matrix_to_ros(f: MessageFactory, matrix: np.ndarray) -> Any:
    return pose_to_ros(f, *matrix_to_position_quaternion(matrix))


def pose_matrix_from_ros(msg: Any, where: str = "pose") -> np.ndarray:
    return position_quaternion_to_matrix(*pose_from_ros(msg, where))


def transform_to_ros(f: MessageFactory, matrix: np.ndarray, parent_frame: str, child_frame: str,
                     stamp_ns: int = 0) -> Any:
    """(4, 4) mapping child-frame coordinates into the parent frame → geometry_msgs/TransformStamped."""
    p, q = matrix_to_position_quaternion(matrix)
    return f("geometry_msgs/msg/TransformStamped", header=header_to_ros(f, parent_frame, stamp_ns),
             child_frame_id=str(child_frame),
             transform=f("geometry_msgs/msg/Transform",
                         translation=f("geometry_msgs/msg/Vector3", x=float(p[0]), y=float(p[1]), z=float(p[2])),
                         rotation=f("geometry_msgs/msg/Quaternion", x=float(q[0]), y=float(q[1]), z=float(q[2]),
                                    w=float(q[3]))))


def transform_from_ros(msg: Any, where: str = "transform") -> tuple[np.ndarray, str, str]:
    """geometry_msgs/TransformStamped → ((4, 4) child → parent, parent frame, child frame)."""
    t, r = msg.transform.translation, msg.transform.rotation
    q = _unit_quaternion([r.x, r.y, r.z, r.w], f"{where}.rotation")
    return position_quaternion_to_matrix(np.array([t.x, t.y, t.z], dtype=float), q), msg.header.frame_id, \
        msg.child_frame_id


# --- loss terms, grasps ----------------------------------------------------------------------------------------------
def loss_terms_to_ros(f: MessageFactory, total: float = math.nan, terms: Mapping[str, float] | None = None) -> Any:
    """Total loss and ``{term name: weighted value}`` → GraspLossTerms."""
    terms = dict(terms or {})
    return f("diffgrasp_interfaces/msg/GraspLossTerms", total=float(total), names=list(terms),
             values=np.array([float(v) for v in terms.values()], dtype=float))


def loss_terms_from_ros(msg: Any) -> tuple[float, dict[str, float]]:
    names, values = list(msg.names), np.asarray(msg.values, dtype=float)
    if len(names) != len(values):
        raise ValueError(f"GraspLossTerms: {len(names)} names but {len(values)} values")
    return float(msg.total), {n: float(v) for n, v in zip(names, values, strict=True)}


def grasp_to_ros(f: MessageFactory, grasp: Any, *, frame_id: str = "object", stamp_ns: int = 0, grasp_id: str = "",
                 source: str = "", loss_total: float | None = None, loss_terms: Mapping[str, float] | None = None
                 ) -> Any:
    """``diffgrasp.grasps.Grasp`` → DexterousGrasp (exact values; absent pregrasp/squeeze become empty arrays).

    Joints are written in the canonical order (wrist joints first when the grasp has them). ``quality`` is the
    exact Q1 metric when present, else the generalized one, else NaN; ``loss`` the ``loss`` metric unless given.
    """
    names = [n for n in JOINT_NAMES if n in grasp.joints]

    def phase(values: Mapping[str, float] | None, field: str) -> np.ndarray:
        if values is None:
            return np.zeros(0)
        missing = [n for n in names if n not in values]
        if missing:
            raise ValueError(f"grasp {grasp_id or '?'}: {field} lacks joint(s) {', '.join(missing)} given in joints")
        return np.array([values[n] for n in names], dtype=float)

    metrics = dict(grasp.metrics)
    for name, value in metrics.items():
        if isinstance(value, bool | np.bool_):  # flags (the planner's ``valid``) travel as 1.0 / 0.0
            metrics[name] = float(value)
        elif not isinstance(value, int | float | np.integer | np.floating):
            raise ValueError(f"grasp {grasp_id or '?'}: metric {name!r} is not a number ({value!r})")
    quality = metrics.get("q1_exact", metrics.get("q1_generalized", math.nan))
    total = metrics.get("loss", math.nan) if loss_total is None else loss_total
    has_pre_pose = grasp.pregrasp_palm_position is not None
    if has_pre_pose != (grasp.pregrasp_palm_quaternion_xyzw is not None):
        raise ValueError(f"grasp {grasp_id or '?'}: pregrasp palm position and quaternion must be given together")
    pre_pose = ((grasp.pregrasp_palm_position, grasp.pregrasp_palm_quaternion_xyzw) if has_pre_pose
                else (np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0])))
    return f("diffgrasp_interfaces/msg/DexterousGrasp",
             header=header_to_ros(f, frame_id, stamp_ns), id=str(grasp_id), hand_root_link=HAND_ROOT_LINK,
             palm_pose=pose_to_ros(f, grasp.palm_position, grasp.palm_quaternion_xyzw),
             has_pregrasp_palm_pose=has_pre_pose, pregrasp_palm_pose=pose_to_ros(f, *pre_pose),
             joint_names=names, grasp_positions=phase(grasp.joints, "joints"),
             pregrasp_positions=phase(grasp.pregrasp_joints, "pregrasp_joints"),
             squeeze_positions=phase(grasp.squeeze_joints, "squeeze_joints"),
             quality=float(quality), loss=float(total),
             loss_terms=loss_terms_to_ros(f, float(total), loss_terms),
             metric_names=list(metrics), metric_values=np.array([float(v) for v in metrics.values()], dtype=float),
             source=str(source))


def grasp_from_ros(msg: Any, index: int = 0) -> Any:
    """DexterousGrasp → validated ``Grasp`` (errors name ``grasps[index].field``; joint limits checked)."""
    where = f"grasps[{index}]"
    if msg.hand_root_link != HAND_ROOT_LINK:
        raise ValueError(f"{where}.hand_root_link: expected {HAND_ROOT_LINK!r}, got {msg.hand_root_link!r}")
    names = list(msg.joint_names)
    if len(set(names)) != len(names):
        raise ValueError(f"{where}.joint_names: duplicate names")

    def phase(values: Any, field: str, optional: bool) -> dict[str, float] | None:
        arr = np.asarray(values, dtype=float)
        if optional and arr.size == 0:
            return None
        if arr.shape != (len(names),):
            raise ValueError(f"{where}.{field}: expected {len(names)} values (one per joint_names), got {arr.size}")
        return {n: float(v) for n, v in zip(names, arr, strict=True)}

    position, quaternion = pose_from_ros(msg.palm_pose, f"{where}.palm_pose")
    data: dict[str, Any] = {
        "palm_position": position.tolist(), "palm_quaternion_xyzw": quaternion.tolist(),
        "joints": phase(msg.grasp_positions, "grasp_positions", False),
        "pregrasp_joints": phase(msg.pregrasp_positions, "pregrasp_positions", True),
        "squeeze_joints": phase(msg.squeeze_positions, "squeeze_positions", True),
    }
    if msg.has_pregrasp_palm_pose:
        pre_p, pre_q = pose_from_ros(msg.pregrasp_palm_pose, f"{where}.pregrasp_palm_pose")
        data["pregrasp_palm_position"], data["pregrasp_palm_quaternion_xyzw"] = pre_p.tolist(), pre_q.tolist()
    metric_names, metric_values = list(msg.metric_names), np.asarray(msg.metric_values, dtype=float)
    if len(metric_names) != len(metric_values):
        raise ValueError(f"{where}.metric_values: {len(metric_values)} values for {len(metric_names)} names")
    data["metrics"] = {n: (int(v) if n in INTEGER_METRICS else float(v))
                       for n, v in zip(metric_names, metric_values, strict=True)}
    return grasp_from_dict(data, index)


def grasp_set_to_ros(f: MessageFactory, grasp_set: Any, *, object_id: str = "object", frame_id: str = "object",
                     stamp_ns: int = 0, source: str = "",
                     loss_terms: Sequence[tuple[float, Mapping[str, float]]] | None = None) -> Any:
    """``GraspSet`` (best first) → GraspSet message; grasp ids ``g0000``, ``g0001``, …; optional per-grasp terms."""
    if loss_terms is not None and len(loss_terms) != len(grasp_set.grasps):
        raise ValueError(f"loss_terms: expected {len(grasp_set.grasps)} entries, got {len(loss_terms)}")
    grasps = [grasp_to_ros(f, g, frame_id=frame_id, stamp_ns=stamp_ns, grasp_id=f"g{i:04d}", source=source,
                           loss_total=None if loss_terms is None else loss_terms[i][0],
                           loss_terms=None if loss_terms is None else loss_terms[i][1])
              for i, g in enumerate(grasp_set.grasps)]
    return f("diffgrasp_interfaces/msg/GraspSet", header=header_to_ros(f, frame_id, stamp_ns),
             object_id=str(object_id), object_name=str(grasp_set.object_name), mesh_path=str(grasp_set.mesh),
             scale=float(grasp_set.scale), grasps=grasps)


def grasp_set_from_ros(msg: Any) -> Any:
    """GraspSet message → validated ``diffgrasp.grasps.GraspSet`` (palm poses stay in ``msg.header.frame_id``)."""
    if not (math.isfinite(msg.scale) and msg.scale > 0):
        raise ValueError(f"GraspSet.scale: expected a positive number, got {msg.scale}")
    for i, g in enumerate(msg.grasps):
        if g.header.frame_id != msg.header.frame_id:
            raise ValueError(f"grasps[{i}].header.frame_id: {g.header.frame_id!r} differs from the set's "
                             f"{msg.header.frame_id!r}")
    return GraspSet(object_name=msg.object_name, mesh=msg.mesh_path, scale=float(msg.scale),
                    grasps=[grasp_from_ros(g, i) for i, g in enumerate(msg.grasps)])


# --- trajectories ----------------------------------------------------------------------------------------------------
def joint_trajectory_to_ros(f: MessageFactory, joint_names: Sequence[str], times_s: Sequence[float],
                            positions: np.ndarray, velocities: np.ndarray | None = None, frame_id: str = "",
                            stamp_ns: int = 0) -> Any:
    """Waypoints → trajectory_msgs/JointTrajectory. times_s (T,) s from start, strictly increasing;
    positions (T, J) rad; velocities (T, J) rad/s or None (left empty: the controller interpolates)."""
    times = np.asarray(times_s, dtype=float)
    pos = np.asarray(positions, dtype=float)
    if pos.ndim != 2 or pos.shape != (len(times), len(joint_names)):
        raise ValueError(f"positions: expected shape ({len(times)}, {len(joint_names)}), got {pos.shape}")
    if not (np.isfinite(pos).all() and np.isfinite(times).all()):
        raise ValueError("trajectory: contains NaN or inf")
    if len(times) > 1 and not (np.diff(times) > 0).all():
        raise ValueError("times_s: expected strictly increasing times")
    vel = None if velocities is None else np.asarray(velocities, dtype=float)
    if vel is not None and vel.shape != pos.shape:
        raise ValueError(f"velocities: expected shape {pos.shape}, got {vel.shape}")
    points = [f("trajectory_msgs/msg/JointTrajectoryPoint", positions=pos[i],
                velocities=np.zeros(0) if vel is None else vel[i], accelerations=np.zeros(0), effort=np.zeros(0),
                time_from_start=duration_to_ros(f, float(times[i]))) for i in range(len(times))]
    return f("trajectory_msgs/msg/JointTrajectory", header=header_to_ros(f, frame_id, stamp_ns),
             joint_names=list(joint_names), points=points)


def joint_trajectory_from_ros(msg: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
    """trajectory_msgs/JointTrajectory → (joint names, times (T,) s, positions (T, J) rad)."""
    names = list(msg.joint_names)
    times = np.array([duration_from_ros(p.time_from_start) for p in msg.points], dtype=float)
    positions = np.zeros((len(msg.points), len(names)))
    for i, point in enumerate(msg.points):
        row = np.asarray(point.positions, dtype=float)
        if row.shape != (len(names),):
            raise ValueError(f"points[{i}].positions: expected {len(names)} values, got {row.size}")
        positions[i] = row
    return names, times, positions


def follow_joint_trajectory_goal(f: MessageFactory, trajectory: Any, goal_time_tolerance_s: float = 0.5) -> Any:
    """A JointTrajectory → control_msgs/FollowJointTrajectory goal (no multi-DOF part, controller tolerances)."""
    empty_multi_dof = f("trajectory_msgs/msg/MultiDOFJointTrajectory", header=header_to_ros(f, ""), joint_names=[],
                        points=[])
    return f("control_msgs/action/FollowJointTrajectory_Goal", trajectory=trajectory,
             multi_dof_trajectory=empty_multi_dof, path_tolerance=[], component_path_tolerance=[],
             goal_tolerance=[], component_goal_tolerance=[],
             goal_time_tolerance=duration_to_ros(f, goal_time_tolerance_s))


# --- planning scene --------------------------------------------------------------------------------------------------
COLLISION_ADD = 0  # moveit_msgs/CollisionObject.ADD
COLLISION_REMOVE = 1


def _collision_object(f: MessageFactory, object_id: str, frame_id: str, pose: Any, *, primitives: list,
                      primitive_poses: list, meshes: list, mesh_poses: list, operation: int, stamp_ns: int) -> Any:
    return f("moveit_msgs/msg/CollisionObject", header=header_to_ros(f, frame_id, stamp_ns), pose=pose,
             id=str(object_id), type=f("object_recognition_msgs/msg/ObjectType", key="", db=""),
             primitives=primitives, primitive_poses=primitive_poses, meshes=meshes, mesh_poses=mesh_poses,
             planes=[], plane_poses=[], subframe_names=[], subframe_poses=[], operation=int(operation))


def mesh_collision_object_to_ros(f: MessageFactory, object_id: str, frame_id: str, object_to_frame: np.ndarray,
                                 vertices: np.ndarray, faces: np.ndarray, stamp_ns: int = 0) -> Any:
    """Fused object → moveit_msgs/CollisionObject (ADD): the mesh in the object frame, posed by object_to_frame."""
    identity = pose_to_ros(f, np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0]))
    return _collision_object(f, object_id, frame_id, pose_matrix_to_ros(f, object_to_frame), primitives=[],
                             primitive_poses=[], meshes=[mesh_to_ros(f, vertices, faces)], mesh_poses=[identity],
                             operation=COLLISION_ADD, stamp_ns=stamp_ns)


def box_collision_object_to_ros(f: MessageFactory, object_id: str, frame_id: str, box_to_frame: np.ndarray,
                                size_xyz: Sequence[float], stamp_ns: int = 0) -> Any:
    """A box (e.g. the table: size (3,) m, centred at box_to_frame) → moveit_msgs/CollisionObject (ADD)."""
    size = np.asarray(size_xyz, dtype=float)
    if size.shape != (3,) or not (size > 0).all():
        raise ValueError(f"box size: expected 3 positive numbers (m), got {size.tolist()}")
    primitive = f("shape_msgs/msg/SolidPrimitive", type=1, dimensions=size,  # BOX = 1; dims BOX_X, BOX_Y, BOX_Z
                  polygon=f("geometry_msgs/msg/Polygon", points=[]))
    identity = pose_to_ros(f, np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0]))
    return _collision_object(f, object_id, frame_id, pose_matrix_to_ros(f, box_to_frame), primitives=[primitive],
                             primitive_poses=[identity], meshes=[], mesh_poses=[], operation=COLLISION_ADD,
                             stamp_ns=stamp_ns)


__all__ = [
    "HAND_ROOT_LINK", "box_collision_object_to_ros", "duration_from_ros", "duration_to_ros",
    "follow_joint_trajectory_goal", "grasp_from_ros", "grasp_set_from_ros", "grasp_set_to_ros", "grasp_to_ros",
    "header_to_ros", "joint_trajectory_from_ros", "joint_trajectory_to_ros", "loss_terms_from_ros",
    "loss_terms_to_ros", "matrix_to_position_quaternion", "mesh_collision_object_to_ros", "pose_from_ros",
    "pose_matrix_from_ros", "pose_matrix_to_ros", "pose_to_ros", "position_quaternion_to_matrix", "time_from_ros",
    "time_to_ros", "transform_from_ros", "transform_to_ros",
]
