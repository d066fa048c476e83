"""ROS-free conversions of sensor data: depth images, CameraInfo, multi-view captures, point clouds, meshes, objects.

Depth encodings (REP 118 and RealSense): ``16UC1`` millimetres with 0 = invalid, ``32FC1`` metres with NaN invalid
(±inf and ≤ 0 are treated as invalid too). Decoding honours ``step`` (row padding) and ``is_bigendian``; any other
encoding is rejected by name. Depth arrays in the core are float32 metres with NaN for invalid pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from diffgrasp.geometry.planes import plane_in_frame
from diffgrasp.perception.capture import Capture
from diffgrasp_ros.conversions import (
    header_to_ros,
    matrix_to_position_quaternion,
    pose_from_ros,
    pose_to_ros,
    position_quaternion_to_matrix,
    time_from_ros,
    transform_from_ros,
    transform_to_ros,
)
from diffgrasp_ros.mesh_conversions import mesh_from_ros, mesh_to_ros
from diffgrasp_ros.message_factory import MessageFactory

DEPTH_ENCODINGS = ("16UC1", "32FC1")
MM_PER_M = 1000.0


# --- depth images, camera info ----------------------------------------------------------------------------------------
def depth_to_ros(f: MessageFactory, depth_m: np.ndarray, frame_id: str, stamp_ns: int = 0,
                 encoding: str = "32FC1") -> Any:
    """(H, W) metres (NaN invalid) → sensor_msgs/Image. 16UC1 rounds to whole millimetres (invalid or out of
    range → 0); 32FC1 keeps float32 values exactly (NaN stays NaN)."""
    depth = np.asarray(depth_m)
    if depth.ndim != 2:
        raise ValueError(f"depth: expected shape (H, W), got {depth.shape}")
    if encoding == "32FC1":
        data = depth.astype("<f4")
    elif encoding == "16UC1":
        mm = np.where(np.isfinite(depth) & (depth > 0), np.round(depth * MM_PER_M), 0.0)
        data = np.where(mm <= np.iinfo(np.uint16).max, mm, 0).astype("<u2")
    else:
        raise ValueError(f"depth encoding {encoding!r} not supported (expected one of {', '.join(DEPTH_ENCODINGS)})")
    height, width = depth.shape
    return f("sensor_msgs/msg/Image", header=header_to_ros(f, frame_id, stamp_ns), height=height, width=width,
             encoding=encoding, is_bigendian=0, step=width * data.itemsize,
             data=np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8))


def depth_from_ros(msg: Any) -> np.ndarray:
    """sensor_msgs/Image (16UC1 mm or 32FC1 m) → (H, W) float32 metres, NaN where invalid."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise ValueError(f"depth encoding {msg.encoding!r} not supported "
                         f"(expected one of {', '.join(DEPTH_ENCODINGS)})")
    kind = "u2" if msg.encoding == "16UC1" else "f4"
    dtype = np.dtype(kind).newbyteorder(">" if msg.is_bigendian else "<")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    raw = np.frombuffer(memoryview(msg.data), dtype=np.uint8)
    if step < width * dtype.itemsize or raw.size < step * height:
        raise ValueError(f"depth image: {raw.size} bytes do not hold {height} rows of step {step} "
                         f"for width {width} {msg.encoding}")
    rows = raw[: step * height].reshape(height, step)[:, : width * dtype.itemsize]
    values = np.ascontiguousarray(rows).view(dtype).reshape(height, width)
    if msg.encoding == "16UC1":
        out = values.astype(np.float32) / np.float32(MM_PER_M)
        out[values == 0] = np.nan
        return out
    out = values.astype(np.float32)
    out[~np.isfinite(out) | (out <= 0)] = np.nan
    return out


class CameraIntrinsics(NamedTuple):
    """Pinhole intrinsics of one image: K (3, 3) pixels, size, distortion (model name, coefficients)."""

    K: np.ndarray
    width: int
    height: int
    distortion_model: str
    d: np.ndarray


def camera_info_to_ros(f: MessageFactory, K: np.ndarray, width: int, height: int, frame_id: str, stamp_ns: int = 0,
                       distortion_model: str = "plumb_bob", d: Sequence[float] = (0.0,) * 5) -> Any:
    """Rectified pinhole camera → sensor_msgs/CameraInfo (k row-major, r = I, p = [K | 0])."""
    K = np.asarray(K, dtype=float)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"K: expected a finite (3, 3) intrinsic matrix with positive focal lengths, got {K.tolist()}")
    p = np.zeros((3, 4))
    p[:, :3] = K
    roi = f("sensor_msgs/msg/RegionOfInterest", x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return f("sensor_msgs/msg/CameraInfo", header=header_to_ros(f, frame_id, stamp_ns), height=int(height),
             width=int(width), distortion_model=distortion_model, d=np.asarray(d, dtype=float), k=K.reshape(9),
             r=np.eye(3).reshape(9), p=p.reshape(12), binning_x=0, binning_y=0, roi=roi)


def camera_info_from_ros(msg: Any) -> CameraIntrinsics:
    K = np.asarray(msg.k, dtype=float).reshape(3, 3)
    if not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"CameraInfo {msg.header.frame_id!r}: k is not a valid intrinsic matrix ({K.tolist()})")
    return CameraIntrinsics(K, int(msg.width), int(msg.height), str(msg.distortion_model),
                            np.asarray(msg.d, dtype=float).copy())


# --- multi-view capture -----------------------------------------------------------------------------------------------
class DepthViews(NamedTuple):
    """A multi-view capture: names (V,), depth (V, H, W) float32 m NaN invalid, intrinsics (V, 3, 3),
    camera_to_world (V, 4, 4) optical → base frame, stamps_ns (V,), optical frame ids (V,), base frame."""

    names: list[str]
    depth: np.ndarray
    intrinsics: np.ndarray
    camera_to_world: np.ndarray
    stamps_ns: np.ndarray
    optical_frames: list[str]
    base_frame: str


def multiview_to_ros(f: MessageFactory, views: DepthViews, stamp_ns: int = 0, encoding: str = "32FC1") -> Any:
    """DepthViews → MultiViewDepth (one Image, CameraInfo and base → optical TransformStamped per view)."""
    n = len(views.names)
    shapes = (views.depth.shape[0], views.intrinsics.shape[0], views.camera_to_world.shape[0], len(views.stamps_ns),
              len(views.optical_frames))
    if any(s != n for s in shapes):
        raise ValueError(f"views: inconsistent counts (names, depth, intrinsics, camera_to_world, stamps, frames) = "
                         f"{(n, *shapes)}")
    depth, info, tfs = [], [], []
    for i in range(n):
        h, w = views.depth[i].shape
        stamp = int(views.stamps_ns[i])
        depth.append(depth_to_ros(f, views.depth[i], views.optical_frames[i], stamp, encoding))
        info.append(camera_info_to_ros(f, views.intrinsics[i], w, h, views.optical_frames[i], stamp))
        tfs.append(transform_to_ros(f, views.camera_to_world[i], views.base_frame, views.optical_frames[i], stamp))
    return f("diffgrasp_interfaces/msg/MultiViewDepth", header=header_to_ros(f, views.base_frame, stamp_ns),
             camera_names=list(views.names), depth=depth, camera_info=info, base_to_camera=tfs)


def multiview_from_ros(msg: Any) -> DepthViews:
    """MultiViewDepth → DepthViews; checks counts, frames and image sizes, naming the view."""
    n = len(msg.camera_names)
    if not (len(msg.depth) == len(msg.camera_info) == len(msg.base_to_camera) == n):
        raise ValueError(f"MultiViewDepth: {n} camera_names, {len(msg.depth)} depth, {len(msg.camera_info)} "
                         f"camera_info, {len(msg.base_to_camera)} base_to_camera")
    if n == 0:
        raise ValueError("MultiViewDepth: no views")
    depth, K, poses, stamps, frames = [], [], [], [], []
    for i, name in enumerate(msg.camera_names):
        image, info = msg.depth[i], msg.camera_info[i]
        intr = camera_info_from_ros(info)
        if (intr.width, intr.height) != (image.width, image.height):
            raise ValueError(f"view {name}: CameraInfo is {intr.width}x{intr.height}, depth is "
                             f"{image.width}x{image.height}")
        matrix, parent, child = transform_from_ros(msg.base_to_camera[i], f"base_to_camera[{i}]")
        if parent != msg.header.frame_id:
            raise ValueError(f"view {name}: transform parent {parent!r} is not the base frame {msg.header.frame_id!r}")
        if child != image.header.frame_id:
            raise ValueError(f"view {name}: missing calibration for {image.header.frame_id!r} (transform is to "
                             f"{child!r})")
        depth.append(depth_from_ros(image))
        K.append(intr.K)
        poses.append(matrix)
        stamps.append(time_from_ros(image.header.stamp))
        frames.append(image.header.frame_id)
    if len({d.shape for d in depth}) != 1:
        raise ValueError(f"MultiViewDepth: views differ in size {[d.shape for d in depth]}")
    return DepthViews(list(msg.camera_names), np.stack(depth), np.stack(K), np.stack(poses),
                      np.array(stamps, dtype=np.int64), frames, msg.header.frame_id)


def capture_from_views(views: DepthViews) -> Any:
    """DepthViews → ``diffgrasp.perception.Capture`` (stamps in seconds)."""
    return Capture(names=tuple(views.names), depth=views.depth, intrinsics=views.intrinsics,
                   camera_to_world=views.camera_to_world, stamps=np.asarray(views.stamps_ns, dtype=np.float64) / 1e9)


def views_from_capture(capture: Any, optical_frames: Sequence[str], base_frame: str) -> DepthViews:
    """``Capture`` (stamps in seconds) + the optical frame id of every view → DepthViews."""
    if len(optical_frames) != len(capture.names):
        raise ValueError(f"optical_frames: {len(optical_frames)} for {len(capture.names)} views")
    stamps = np.round(np.asarray(capture.stamps, dtype=np.float64) * 1e9).astype(np.int64)
    return DepthViews(list(capture.names), np.asarray(capture.depth, np.float32), np.asarray(capture.intrinsics),
                      np.asarray(capture.camera_to_world), stamps, list(optical_frames), base_frame)


# --- point clouds (meshes: mesh_conversions.py) -----------------------------------------------------------------------
_FLOAT32 = 7  # sensor_msgs/PointField.FLOAT32


def cloud_to_ros(f: MessageFactory, points: np.ndarray, frame_id: str, stamp_ns: int = 0) -> Any:
    """(N, 3) m → PointCloud2 with float32 x y z, height 1, is_dense only without NaN."""
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"points: expected shape (N, 3), got {pts.shape}")
    data = np.ascontiguousarray(pts, dtype="<f4")
    fields = [f("sensor_msgs/msg/PointField", name=n, offset=4 * i, datatype=_FLOAT32, count=1)
              for i, n in enumerate("xyz")]
    return f("sensor_msgs/msg/PointCloud2", header=header_to_ros(f, frame_id, stamp_ns), height=1,
             width=len(data), fields=fields, is_bigendian=False, point_step=12, row_step=12 * len(data),
             data=np.frombuffer(data.tobytes(), dtype=np.uint8), is_dense=bool(np.isfinite(data).all()))


def cloud_from_ros(msg: Any) -> np.ndarray:
    """PointCloud2 with float32 x, y, z fields (any other fields and padding) → (N, 3) float32."""
    offsets = {fl.name: int(fl.offset) for fl in msg.fields if fl.datatype == _FLOAT32 and fl.count == 1}
    if not {"x", "y", "z"} <= offsets.keys():
        raise ValueError(f"PointCloud2: needs float32 x, y, z fields, has {[fl.name for fl in msg.fields]}")
    n = int(msg.width) * int(msg.height)
    dtype = np.dtype({"names": ["x", "y", "z"], "formats": [">f4" if msg.is_bigendian else "<f4"] * 3,
                      "offsets": [offsets["x"], offsets["y"], offsets["z"]], "itemsize": int(msg.point_step)})
    raw = np.frombuffer(memoryview(msg.data), dtype=np.uint8)
    if int(msg.row_step) != int(msg.width) * int(msg.point_step) or raw.size < n * dtype.itemsize:
        raise ValueError(f"PointCloud2: {raw.size} bytes, row_step {msg.row_step}, for {n} points of "
                         f"{msg.point_step} bytes")
    rec = raw[: n * dtype.itemsize].view(dtype)
    return np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float32)


# --- object observation -----------------------------------------------------------------------------------------------
class Observation(NamedTuple):
    """A fused object: vertices (N, 3) / faces (M, 3) and points (P, 3) in the object frame (m),
    object_to_world (4, 4) into ``frame_id``."""

    object_id: str
    frame_id: str
    stamp_ns: int
    object_to_world: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    points: np.ndarray
    watertight: bool
    mesh_path: str
    camera_names: list[str]
    support_plane: tuple[float, ...] = ()
    """(a, b, c, d) of the table plane in the object frame (normal up), () when none was seen."""


def observation_from_fusion(result: Any, object_id: str, frame_id: str, stamp_ns: int, camera_names: Sequence[str],
                            mesh_path: str = "") -> Observation:
    """``diffgrasp.perception.FusionResult`` (mesh and points in the world frame) → Observation in the object frame."""
    mesh = result.mesh_in_object_frame()
    world_to_object = np.linalg.inv(result.object_to_world)
    pts = np.asarray(result.points, dtype=float)
    points = (pts @ world_to_object[:3, :3].T + world_to_object[:3, 3]).astype(np.float32)
    plane = getattr(result, "table_plane", None)
    support = () if plane is None else tuple(float(x) for x in plane_in_frame(plane, result.object_to_world))
    return Observation(object_id, frame_id, int(stamp_ns), np.asarray(result.object_to_world, dtype=float),
                       np.asarray(mesh.vertices, dtype=float), np.asarray(mesh.faces, dtype=np.int64), points,
                       bool(mesh.is_watertight), mesh_path, list(camera_names), support)


def observation_to_ros(f: MessageFactory, obs: Observation) -> Any:
    """Observation → ObjectObservation (bounding box from the mesh, else from the points)."""
    geometry = obs.vertices if len(obs.vertices) else obs.points
    lo, hi = (geometry.min(0), geometry.max(0)) if len(geometry) else (np.zeros(3), np.zeros(3))
    center, size = (lo + hi) / 2.0, hi - lo
    return f("diffgrasp_interfaces/msg/ObjectObservation", header=header_to_ros(f, obs.frame_id, obs.stamp_ns),
             object_id=obs.object_id, object_pose=pose_to_ros(f, *matrix_to_position_quaternion(obs.object_to_world)),
             mesh=mesh_to_ros(f, obs.vertices, obs.faces), mesh_is_watertight=bool(obs.watertight),
             mesh_path=obs.mesh_path, cloud=cloud_to_ros(f, obs.points, "object", obs.stamp_ns),
             bbox_center=f("geometry_msgs/msg/Point", x=float(center[0]), y=float(center[1]), z=float(center[2])),
             bbox_size=f("geometry_msgs/msg/Vector3", x=float(size[0]), y=float(size[1]), z=float(size[2])),
             camera_names=list(obs.camera_names), has_support_plane=bool(obs.support_plane),
             support_plane=np.asarray(obs.support_plane or (0.0,) * 4, dtype=float))


def observation_from_ros(msg: Any) -> Observation:
    vertices, faces = mesh_from_ros(msg.mesh)
    if len(vertices) == 0 and not msg.mesh_path:
        raise ValueError("ObjectObservation: neither mesh nor mesh_path given")
    position, quaternion = pose_from_ros(msg.object_pose, "object_pose")
    return Observation(msg.object_id, msg.header.frame_id, time_from_ros(msg.header.stamp),
                       position_quaternion_to_matrix(position, quaternion), vertices, faces, cloud_from_ros(msg.cloud),
                       bool(msg.mesh_is_watertight), msg.mesh_path, list(msg.camera_names),
                       _support_plane_from_ros(msg.has_support_plane, msg.support_plane))


def _support_plane_from_ros(given: bool, values: Any) -> tuple[float, ...]:
    plane = np.asarray(values, dtype=float)
    if not given:
        return ()
    if plane.shape != (4,) or not np.isfinite(plane).all() or abs(np.linalg.norm(plane[:3]) - 1.0) > 1e-3:
        raise ValueError(f"support_plane: expected (a, b, c, d) with a unit normal, got {plane.tolist()}")
    return tuple(float(x) for x in plane)


__all__ = [
    "DEPTH_ENCODINGS", "CameraIntrinsics", "DepthViews", "Observation", "camera_info_from_ros", "camera_info_to_ros",
    "capture_from_views", "cloud_from_ros", "cloud_to_ros", "observation_from_fusion", "views_from_capture",
    "depth_from_ros", "depth_to_ros", "mesh_from_ros", "mesh_to_ros",
    "multiview_from_ros", "multiview_to_ros", "observation_from_ros", "observation_to_ros",
]
