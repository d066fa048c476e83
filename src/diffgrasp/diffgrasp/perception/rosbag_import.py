"""Captures from rosbag2 recordings of ``realsense2_camera`` topics (read with ``rosbags``, no ROS needed), and the
reverse: a :class:`Capture` written as such a recording (simulated rigs → ``ros2 bag play``).

Per camera ``<name>`` the reader takes the first topic ending in ``<name>/depth/image_rect_raw`` or
``<name>/aligned_depth_to_color/image_raw`` (``sensor_msgs/msg/Image``: 16UC1 mm or 32FC1 m; or
``sensor_msgs/msg/CompressedImage`` "16UC1; compressedDepth png" as pyrealsense2 writes in ``.db3``) and the matching
``camera_info``. Extrinsics come from the rig config, else from ``/tf_static`` (``world_frame`` → the image's
``header.frame_id``). The frameset is chosen around the latest first-message time so every camera has a frame.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from diffgrasp.perception.capture import Capture
from diffgrasp.perception.depth import decode_depth, metres_to_mm_u16
from diffgrasp.perception.rig import RigConfig, pose_matrix, quaternion_xyzw_to_rotation, rotation_to_quaternion_xyzw

__all__ = ["read_rosbag_capture", "write_rosbag_capture", "depth_from_msg", "camera_info_K", "capture_from_messages"]

DEPTH_SUFFIXES = ("/depth/image_rect_raw", "/aligned_depth_to_color/image_raw", "/depth/image_raw",
                  "/depth/image_rect_raw/compressedDepth", "/aligned_depth_to_color/image_raw/compressedDepth")


def _typestore() -> Any:
    from rosbags.typesys import Stores, get_typestore  # optional dependency (the `ros-tools` extra)

    return get_typestore(Stores.ROS2_JAZZY)


def depth_from_msg(msg: Any, msgtype: str) -> np.ndarray:
    """sensor_msgs Image (16UC1 / 32FC1) or CompressedImage ("16UC1; compressedDepth png") → (H, W) float32 m, NaN
    invalid. Other encodings raise ValueError naming the encoding."""
    if msgtype.endswith("CompressedImage"):
        fmt = str(msg.format)
        if "compressedDepth" not in fmt or "16UC1" not in fmt:
            raise ValueError(f"unsupported compressed depth format {fmt!r}; expected '16UC1; compressedDepth png'")
        data = bytes(msg.data)
        start = data.find(b"\x89PNG")
        if start < 0:
            raise ValueError("compressedDepth message holds no PNG")
        with Image.open(io.BytesIO(data[start:])) as im:
            raw = np.asarray(im)
        return decode_depth(raw.astype(np.uint16), "16UC1", raw.shape[0], raw.shape[1])
    data = msg.data if isinstance(msg.data, np.ndarray) else bytes(msg.data)   # rclpy: array('B'); rosbags: ndarray
    return decode_depth(data, str(msg.encoding), int(msg.height), int(msg.width), int(msg.step),
                        bool(msg.is_bigendian))


def camera_info_K(msg: Any) -> np.ndarray:
    """CameraInfo → (3, 3) K (row-major ``k``); ValueError if the distortion is not (close to) zero."""
    K = np.asarray(msg.k, dtype=float).reshape(3, 3)
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"camera_info {msg.header.frame_id}: invalid K {K.ravel().tolist()}")
    d = np.asarray(msg.d, dtype=float)
    if d.size and np.abs(d).max() > 1e-6:
        raise ValueError(f"camera_info {msg.header.frame_id}: distortion {d.tolist()} not supported "
                         "(use rectified depth: depth/image_rect_raw)")
    return K


def capture_from_messages(names: list[str], depth_msgs: list[Any], info_msgs: list[Any],
                          camera_to_world: list[np.ndarray] | np.ndarray, metadata: dict | None = None) -> Capture:
    """One :class:`Capture` from per-camera ``sensor_msgs`` messages (rclpy or rosbags objects, duck-typed: Image or
    CompressedImage depth, CameraInfo) and (V, 4, 4) optical-frame poses (e.g. from tf2 at the image stamp).
    This is the ROS node's converter; errors name the camera."""
    if not (len(names) == len(depth_msgs) == len(info_msgs) == len(camera_to_world)):
        raise ValueError(f"{len(names)} names, {len(depth_msgs)} depth, {len(info_msgs)} camera_info and "
                         f"{len(camera_to_world)} poses: need one of each per camera")
    depth, Ks = [], []
    for name, msg, info in zip(names, depth_msgs, info_msgs, strict=True):
        mtype = "CompressedImage" if hasattr(msg, "format") and not hasattr(msg, "encoding") else "Image"
        try:
            d = depth_from_msg(msg, mtype)
            K = camera_info_K(info)
        except ValueError as err:
            raise ValueError(f"camera {name}: {err}") from None
        if (int(info.height), int(info.width)) not in ((0, 0), d.shape):
            raise ValueError(f"camera {name}: camera_info is {info.width}x{info.height} but the depth image is "
                             f"{d.shape[1]}x{d.shape[0]}")
        depth.append(d)
        Ks.append(K)
    return Capture(tuple(names), np.stack(depth), np.stack(Ks), np.asarray(camera_to_world, dtype=float),
                   np.array([_stamp(m) for m in depth_msgs]), None, (), dict(metadata or {}))


def _stamp(msg: Any) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def _static_tf(reader: Any, conns: list) -> dict[str, tuple[str, np.ndarray]]:
    """child frame → (parent frame, parent_to_child (4, 4)) from /tf_static."""
    out: dict[str, tuple[str, np.ndarray]] = {}
    if not conns:  # reader.messages(connections=[]) would yield every message
        return out
    for conn, _, raw in reader.messages(connections=conns):
        for t in reader.deserialize(raw, conn.msgtype).transforms:
            q = t.transform.rotation
            tr = t.transform.translation
            out[t.child_frame_id] = (t.header.frame_id, pose_matrix([tr.x, tr.y, tr.z],
                                                                     quaternion_xyzw_to_rotation([q.x, q.y, q.z, q.w])))
    return out


def _chain(tf: dict[str, tuple[str, np.ndarray]], world: str, frame: str, name: str) -> np.ndarray:
    T = np.eye(4)
    cur = frame
    for _ in range(64):
        if cur == world:
            return T
        if cur not in tf:
            break
        parent, P = tf[cur]
        T = P @ T
        cur = parent
    raise ValueError(f"missing calibration for {name}: no /tf_static chain {world} → {frame}")


def read_rosbag_capture(bag: str | os.PathLike, rig: RigConfig | None = None, cameras: list[str] | None = None,
                        world_frame: str = "world") -> Capture:
    """One synchronized :class:`Capture` from a rosbag2 (directory, or a single ``.db3``/``.mcap`` file).

    rig: extrinsics (and camera names) from ``cameras.yaml``; else ``cameras`` names (default: every camera found)
    with extrinsics from ``/tf_static``.
    """
    from rosbags.highlevel import AnyReader  # optional dependency (the `ros-tools` extra)

    path = Path(bag)
    if not path.exists():
        raise FileNotFoundError(f"rosbag not found: {path}")
    with AnyReader([path], default_typestore=_typestore()) as reader:
        depth_conns = {c.topic: c for c in reader.connections if c.topic.endswith(DEPTH_SUFFIXES)}
        found: dict[str, tuple[str, str]] = {}
        for topic in sorted(depth_conns):
            suffix = next(s for s in DEPTH_SUFFIXES if topic.endswith(s))
            prefix = topic[: -len(suffix)]
            found.setdefault(prefix.rstrip("/").split("/")[-1], (topic, prefix + suffix.split("/image")[0]))
        names = list(rig.names) if rig is not None else (cameras or sorted(found))
        if not names:
            raise ValueError(f"{path}: no depth topics (…{', …'.join(DEPTH_SUFFIXES)})")
        msgs: dict[str, list] = {}
        infos: dict[str, list] = {}
        for name in names:
            if name not in found:
                have = ", ".join(sorted(found)) or "none"
                raise ValueError(f"{path}: no depth topic for camera {name} (found: {have})")
            topic, stream = found[name]
            info_topic = next((c.topic for c in reader.connections if c.topic == f"{stream}/camera_info"), None)
            if info_topic is None:
                raise ValueError(f"{path}: no camera_info for camera {name} (next to {topic})")
            conn = depth_conns[topic]
            msgs[name] = [(reader.deserialize(raw, conn.msgtype), conn.msgtype)
                          for _, _, raw in reader.messages(connections=[conn])]
            iconns = [c for c in reader.connections if c.topic == info_topic]
            infos[name] = [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages(connections=iconns)]
            if not msgs[name] or not infos[name]:
                raise ValueError(f"{path}: camera {name} has no depth or camera_info messages")
        tf = None
        if rig is None:
            tf_conns = [c for c in reader.connections if c.topic == "/tf_static"]
            tf = _static_tf(reader, tf_conns)
    ref = max(_stamp(m[0][0]) for m in msgs.values())
    depth, Ks, Ts, stamps = [], [], [], []
    for name in names:
        msg, mtype = min(msgs[name], key=lambda mm: abs(_stamp(mm[0]) - ref))
        info = min(infos[name], key=lambda i: abs(_stamp(i) - _stamp(msg)))
        try:
            depth.append(depth_from_msg(msg, mtype))
        except ValueError as err:
            raise ValueError(f"camera {name}: {err}") from None
        Ks.append(camera_info_K(info))
        Ts.append(rig.camera(name).camera_to_world() if rig is not None
                  else _chain(tf or {}, world_frame, msg.header.frame_id, name))
        stamps.append(_stamp(msg))
    return Capture(tuple(names), np.stack(depth), np.stack(Ks), np.stack(Ts), np.array(stamps), None, (),
                   {"source": "rosbag", "rosbag": str(path),
                    "world_frame": rig.world_frame if rig is not None else world_frame})


def write_rosbag_capture(bag: str | os.PathLike, capture: Capture, namespace: str = "", world_frame: str = "world",
                         encoding: str = "16UC1") -> Path:
    """Write ``capture`` as a rosbag2 (sqlite3) in realsense2_camera layout: per camera ``<ns>/<name>/depth/
    image_rect_raw`` (``encoding`` 16UC1 mm or 32FC1 m), ``…/depth/camera_info`` and ``/tf_static``
    ``world_frame → <name>_depth_optical_frame``."""
    from rosbags.rosbag2 import Writer  # optional dependency (the `ros-tools` extra)

    if encoding not in ("16UC1", "32FC1"):
        raise ValueError(f"encoding must be 16UC1 or 32FC1, got {encoding!r}")
    ts = _typestore()
    T_ = ts.types
    path = Path(bag)
    if path.exists():
        raise FileExistsError(f"rosbag already exists: {path}")
    H, W = capture.shape

    def header(stamp: float, frame: str) -> Any:
        sec = int(stamp)
        time_msg = T_["builtin_interfaces/msg/Time"](sec=sec, nanosec=int((stamp - sec) * 1e9))
        return T_["std_msgs/msg/Header"](stamp=time_msg, frame_id=frame)

    with Writer(path, version=9) as writer:
        tf_conn = writer.add_connection("/tf_static", "tf2_msgs/msg/TFMessage", typestore=ts)
        transforms = []
        for i, name in enumerate(capture.names):
            T = capture.camera_to_world[i]
            q = rotation_to_quaternion_xyzw(T[:3, :3])
            transforms.append(T_["geometry_msgs/msg/TransformStamped"](
                header=header(float(capture.stamps[i]), world_frame), child_frame_id=f"{name}_depth_optical_frame",
                transform=T_["geometry_msgs/msg/Transform"](
                    translation=T_["geometry_msgs/msg/Vector3"](x=T[0, 3], y=T[1, 3], z=T[2, 3]),
                    rotation=T_["geometry_msgs/msg/Quaternion"](x=q[0], y=q[1], z=q[2], w=q[3]))))
        t0 = int(float(capture.stamps.min()) * 1e9)
        writer.write(tf_conn, t0, ts.serialize_cdr(T_["tf2_msgs/msg/TFMessage"](transforms=transforms),
                                                   "tf2_msgs/msg/TFMessage"))
        for i, name in enumerate(capture.names):
            prefix = f"{namespace.rstrip('/')}/{name}" if namespace else f"/{name}"
            frame = f"{name}_depth_optical_frame"
            img_conn = writer.add_connection(f"{prefix}/depth/image_rect_raw", "sensor_msgs/msg/Image", typestore=ts)
            info_conn = writer.add_connection(f"{prefix}/depth/camera_info", "sensor_msgs/msg/CameraInfo", typestore=ts)
            stamp = float(capture.stamps[i])
            if encoding == "16UC1":
                data = metres_to_mm_u16(capture.depth[i]).astype("<u2")
            else:
                data = capture.depth[i].astype("<f4")
            img = T_["sensor_msgs/msg/Image"](header=header(stamp, frame), height=H, width=W, encoding=encoding,
                                              is_bigendian=0, step=W * data.itemsize,
                                              data=np.frombuffer(data.tobytes(), dtype=np.uint8))
            K = capture.intrinsics[i]
            P = np.zeros((3, 4))
            P[:, :3] = K
            info = T_["sensor_msgs/msg/CameraInfo"](
                header=header(stamp, frame), height=H, width=W, distortion_model="plumb_bob", d=np.zeros(5),
                k=K.ravel().astype(float), r=np.eye(3).ravel(), p=P.ravel(), binning_x=0, binning_y=0,
                roi=T_["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
            t = int(stamp * 1e9)
            writer.write(img_conn, t, ts.serialize_cdr(img, "sensor_msgs/msg/Image"))
            writer.write(info_conn, t, ts.serialize_cdr(info, "sensor_msgs/msg/CameraInfo"))
    return path
