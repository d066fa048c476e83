"""The capture: one synchronized frameset of V depth views, and its directory format (shared by real capture,
replay, rosbag import and simulation; read by fusion).

Directory layout (``diffgrasp.capture/1``)::

    DIR/capture.json          metadata (below)
    DIR/depth/<name>.png      16-bit PNG, millimetres, 0 invalid  (encoding "16UC1")
    DIR/depth/<name>.npy      or float32 metres, NaN invalid      (encoding "32FC1")
    DIR/color/<name>.png      optional 8-bit RGB

``capture.json``: ``{"format", "world_frame", "source", "cameras": [{"name", "serial", "width", "height",
"depth", "depth_encoding", "intrinsics": {"fx", "fy", "cx", "cy"}, "camera_to_world": {"position",
"quaternion_xyzw"}, "stamp", "color"?}], ...}``; extra metadata keys sit at the top level, e.g.
``"object_pose_world": {"position": [x, y, z], "quaternion_xyzw": [x, y, z, w]}`` (object-file coordinates → world)
for simulated captures. ``camera_to_world`` is the pose of the depth optical frame (z forward, x right, y down).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from diffgrasp._checks import check_shape
from diffgrasp.io import atomic_write, atomic_write_json
from diffgrasp.perception.depth import depth_to_metres, metres_to_mm_u16, validate_depth
from diffgrasp.perception.rig import pose_matrix, quaternion_xyzw_to_rotation, rotation_to_quaternion_xyzw

FORMAT = "diffgrasp.capture/1"
DEPTH_FORMATS = ("png", "npy")

__all__ = ["FORMAT", "Capture", "read_capture", "write_capture", "pose_to_json", "pose_from_json"]


def pose_to_json(T: np.ndarray) -> dict[str, list[float]]:
    """(4, 4) pose → ``{"position": [x, y, z], "quaternion_xyzw": [x, y, z, w]}``."""
    check_shape("pose", T, (4, 4))
    return {"position": [float(x) for x in T[:3, 3]],
            "quaternion_xyzw": [float(x) for x in rotation_to_quaternion_xyzw(T[:3, :3])]}


def pose_from_json(d: Any, name: str = "pose") -> np.ndarray:
    """``{"position", "quaternion_xyzw"}`` → (4, 4); ValueError naming ``name`` when malformed."""
    if not isinstance(d, dict) or "position" not in d or "quaternion_xyzw" not in d:
        raise ValueError(f"{name}: expected {{'position': [x, y, z], 'quaternion_xyzw': [x, y, z, w]}}, got {d!r}")
    p = np.asarray(d["position"], dtype=float)
    if p.shape != (3,) or not np.isfinite(p).all():
        raise ValueError(f"{name}.position: expected 3 finite numbers, got {d['position']}")
    return pose_matrix(p, quaternion_xyzw_to_rotation(d["quaternion_xyzw"], name=f"{name}.quaternion_xyzw"))


@dataclass
class Capture:
    """V synchronized depth views with calibration.

    names (V,); depth (V, H, W) float32 m, NaN invalid; intrinsics (V, 3, 3) px; camera_to_world (V, 4, 4) optical
    frame pose in the world; stamps (V,) s; color optional (V, H, W, 3) uint8; serials (V,) or empty;
    metadata: extra JSON-able keys written into capture.json (e.g. ``object_pose_world``).
    """

    names: tuple[str, ...]
    depth: np.ndarray
    intrinsics: np.ndarray
    camera_to_world: np.ndarray
    stamps: np.ndarray
    color: np.ndarray | None = None
    serials: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = tuple(str(n) for n in self.names)
        V = len(self.names)
        if V == 0:
            raise ValueError("capture: no camera views")
        if len(set(self.names)) != V:
            raise ValueError(f"capture: duplicate camera names {list(self.names)}")
        self.depth = np.asarray(self.depth, dtype=np.float32)
        self.intrinsics = np.asarray(self.intrinsics, dtype=np.float64)
        self.camera_to_world = np.asarray(self.camera_to_world, dtype=np.float64)
        self.stamps = np.asarray(self.stamps, dtype=np.float64).reshape(-1)
        check_shape("capture.depth", self.depth, (V, "H", "W"))
        check_shape("capture.intrinsics", self.intrinsics, (V, 3, 3))
        check_shape("capture.camera_to_world", self.camera_to_world, (V, 4, 4))
        check_shape("capture.stamps", self.stamps, (V,))
        if self.color is not None:
            check_shape("capture.color", self.color, (V, self.depth.shape[1], self.depth.shape[2], 3))
        for name, T in zip(self.names, self.camera_to_world, strict=True):
            if not np.isfinite(T).all():
                raise ValueError(f"missing calibration for {name}: camera_to_world is not finite")
            R = T[:3, :3]
            if np.abs(R.T @ R - np.eye(3)).max() > 1e-4 or np.linalg.det(R) < 0:
                raise ValueError(f"camera {name}: camera_to_world rotation is not orthonormal")
        if self.serials and len(self.serials) != V:
            raise ValueError(f"capture: {len(self.serials)} serials for {V} views")

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of every view."""
        return int(self.depth.shape[1]), int(self.depth.shape[2])

    def validate(self) -> None:
        """Raise ValueError naming the camera if any depth view is unusable (see depth.validate_depth)."""
        for name, d in zip(self.names, self.depth, strict=True):
            validate_depth(f"camera {name}", d)

    def subset(self, indices: list[int] | tuple[int, ...]) -> Capture:
        """The views at ``indices`` (same metadata)."""
        idx = list(indices)
        return Capture(tuple(self.names[i] for i in idx), self.depth[idx], self.intrinsics[idx],
                       self.camera_to_world[idx], self.stamps[idx],
                       None if self.color is None else self.color[idx],
                       tuple(self.serials[i] for i in idx) if self.serials else (), dict(self.metadata))


def _write_png(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda p: Image.fromarray(array).save(p, format="PNG"))


def write_capture(directory: str | os.PathLike, capture: Capture, metadata: dict[str, Any] | None = None,
                  depth_format: str = "png") -> Path:
    """Write ``capture`` to ``directory`` (created); returns the path of capture.json (written last, atomically).

    depth_format: ``"png"`` (16-bit mm; quantises to 1 mm) or ``"npy"`` (float32 m, lossless).
    ``metadata`` is merged over ``capture.metadata`` at the top level of capture.json.
    """
    if depth_format not in DEPTH_FORMATS:
        raise ValueError(f"depth_format must be one of {', '.join(DEPTH_FORMATS)}, got {depth_format!r}")
    directory = Path(directory)
    (directory / "depth").mkdir(parents=True, exist_ok=True)
    meta = {**capture.metadata, **(metadata or {})}
    reserved = {"format", "cameras"} & set(meta)
    if reserved:
        raise ValueError(f"capture metadata may not override {', '.join(sorted(reserved))}")
    cams = []
    for i, name in enumerate(capture.names):
        K = capture.intrinsics[i]
        entry: dict[str, Any] = {"name": name, "serial": capture.serials[i] if capture.serials else "",
                                 "width": capture.shape[1], "height": capture.shape[0]}
        if depth_format == "png":
            rel = f"depth/{name}.png"
            _write_png(directory / rel, metres_to_mm_u16(capture.depth[i]))
            entry.update(depth=rel, depth_encoding="16UC1")
        else:
            rel = f"depth/{name}.npy"
            atomic_write(directory / rel, lambda p, d=capture.depth[i]: np.save(p, d.astype(np.float32)))
            entry.update(depth=rel, depth_encoding="32FC1")
        if capture.color is not None:
            (directory / "color").mkdir(exist_ok=True)
            _write_png(directory / f"color/{name}.png", np.ascontiguousarray(capture.color[i], dtype=np.uint8))
            entry["color"] = f"color/{name}.png"
        entry["intrinsics"] = {"fx": float(K[0, 0]), "fy": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2])}
        entry["camera_to_world"] = pose_to_json(capture.camera_to_world[i])
        entry["stamp"] = float(capture.stamps[i])
        cams.append(entry)
    doc = {"format": FORMAT, "world_frame": meta.pop("world_frame", "world"), **meta, "cameras": cams}
    return atomic_write_json(directory / "capture.json", doc)


def _read_depth(directory: Path, entry: dict, name: str) -> np.ndarray:
    rel = entry.get("depth")
    enc = entry.get("depth_encoding", "16UC1")
    if not rel:
        raise ValueError(f"camera {name}: no depth file in capture.json")
    path = directory / rel
    if not path.is_file():
        raise FileNotFoundError(f"camera {name}: depth file not found: {path}")
    if path.suffix == ".npy":
        raw = np.load(path, allow_pickle=False)
    else:
        with Image.open(path) as im:
            raw = np.asarray(im)
        if raw.dtype != np.uint16 and enc in ("16UC1", "mono16"):
            raise ValueError(f"camera {name}: {path.name} is not a 16-bit PNG (dtype {raw.dtype}); "
                             "depth PNGs must be 16UC1 millimetres")
    try:
        return depth_to_metres(raw, enc)
    except ValueError as err:
        raise ValueError(f"camera {name}: {err}") from None


def read_capture(directory: str | os.PathLike) -> Capture:
    """Read a capture directory written by :func:`write_capture` (any source). Raises a clear error when a file,
    the calibration (``camera_to_world``) or the intrinsics are missing, or the depth encoding is unsupported."""
    directory = Path(directory)
    meta_path = directory / "capture.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"not a capture directory (no capture.json): {directory}")
    try:
        doc = json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{meta_path}: invalid JSON ({err})") from None
    if doc.get("format") != FORMAT:
        raise ValueError(f"{meta_path}: unknown format {doc.get('format')!r}, expected {FORMAT!r}")
    cams = doc.get("cameras") or []
    if not cams:
        raise ValueError(f"{meta_path}: no cameras")
    names, depth, Ks, Ts, stamps, serials, colors = [], [], [], [], [], [], []
    for i, entry in enumerate(cams):
        name = str(entry.get("name", f"camera{i}"))
        if "camera_to_world" not in entry:
            raise ValueError(f"missing calibration for {name}: no camera_to_world in {meta_path}")
        if "intrinsics" not in entry:
            raise ValueError(f"camera {name}: no intrinsics in {meta_path}")
        intr = entry["intrinsics"]
        try:
            K = np.array([[intr["fx"], 0, intr["cx"]], [0, intr["fy"], intr["cy"]], [0, 0, 1]], dtype=float)
        except (KeyError, TypeError):
            raise ValueError(f"camera {name}: intrinsics need fx, fy, cx, cy") from None
        d = _read_depth(directory, entry, name)
        if depth and d.shape != depth[0].shape:
            raise ValueError(f"camera {name}: depth is {d.shape[1]}x{d.shape[0]}, other views are "
                             f"{depth[0].shape[1]}x{depth[0].shape[0]}")
        names.append(name)
        depth.append(d)
        Ks.append(K)
        Ts.append(pose_from_json(entry["camera_to_world"], f"camera {name}.camera_to_world"))
        stamps.append(float(entry.get("stamp", 0.0)))
        serials.append(str(entry.get("serial", "")))
        if entry.get("color"):
            with Image.open(directory / entry["color"]) as im:
                colors.append(np.asarray(im.convert("RGB")))
    meta = {k: v for k, v in doc.items() if k not in ("format", "cameras")}
    color = np.stack(colors) if len(colors) == len(names) else None
    return Capture(tuple(names), np.stack(depth), np.stack(Ks), np.stack(Ts), np.array(stamps), color,
                   tuple(serials) if any(serials) else (), meta)
