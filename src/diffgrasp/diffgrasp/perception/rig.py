"""Camera rig configuration (``config/cameras.yaml``): dataclasses, loader and validation.

Per camera: name, serial (string), model, depth resolution + fps, intrinsics (``from_device`` or fx/fy/cx/cy in pixels),
depth scale (m per unit), and the extrinsic calibration as the static transform ``parent_frame → <name>_link``
(``parent_to_link``: translation m + unit quaternion **xyzw**, ROS convention), plus the fixed ``link → optical``
transform
(RealSense: optical z forward, x right, y down; link x forward, y left, z up). ``camera_to_world`` is the pose of the
depth optical frame in the world (= parent) frame: ``T_parent_link @ T_link_optical``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffgrasp.config import coerce_value, from_dict
from diffgrasp.errors import ConfigError
from diffgrasp.geometry.rotations import matrix_to_quaternion_xyzw, normalize_quaternion, quaternion_xyzw_to_matrix
from diffgrasp.loading import brief, read_yaml

__all__ = ["Transform", "CameraConfig", "CaptureOptions", "RigConfig", "load_rig", "rig_from_dict", "rig_to_dict",
           "quaternion_xyzw_to_rotation", "rotation_to_quaternion_xyzw", "pose_matrix", "LINK_TO_OPTICAL_XYZW"]

LINK_TO_OPTICAL_XYZW = (-0.5, 0.5, -0.5, 0.5)  # ROS camera_link → *_optical_frame rotation
D4XX_RESOLUTIONS = {(1280, 720), (848, 480), (640, 480), (640, 360), (480, 270), (424, 240), (256, 144)}
SYNC_MODES = ("none", "inter_cam")
STREAM_SOURCES = ("device", "replay", "simulated")


def quaternion_xyzw_to_rotation(q: Any, name: str = "rotation_xyzw") -> np.ndarray:
    """Unit quaternion xyzw (4,) (norm within 1e-3 of 1, else ValueError naming ``name``) → (3, 3) rotation."""
    q = normalize_quaternion(np.asarray(q, dtype=float), name=name)
    return quaternion_xyzw_to_matrix(torch.from_numpy(q)).numpy()


def rotation_to_quaternion_xyzw(R: np.ndarray) -> np.ndarray:
    """(3, 3) rotation → (4,) unit quaternion xyzw with w ≥ 0."""
    return matrix_to_quaternion_xyzw(torch.from_numpy(np.asarray(R, dtype=np.float64))).numpy()


def pose_matrix(translation: Any, R: np.ndarray) -> np.ndarray:
    """translation (3,) m + rotation (3, 3) → homogeneous (4, 4)."""
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = np.asarray(translation, dtype=float)
    return T


@dataclass(frozen=True)
class Transform:
    """Rigid transform parent → child: ``translation`` (m) and unit quaternion ``rotation_xyzw``."""

    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_xyzw: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)

    def matrix(self, name: str = "transform") -> np.ndarray:
        """(4, 4) homogeneous matrix; ValueError naming ``name`` for a bad quaternion/translation."""
        t = np.asarray(self.translation, dtype=float)
        if t.shape != (3,) or not np.isfinite(t).all():
            raise ValueError(f"{name}.translation: expected 3 finite numbers, got {list(self.translation)}")
        return pose_matrix(t, quaternion_xyzw_to_rotation(self.rotation_xyzw, name=f"{name}.rotation_xyzw"))

    @staticmethod
    def from_matrix(T: np.ndarray) -> Transform:
        q = rotation_to_quaternion_xyzw(T[:3, :3])
        return Transform(tuple(float(x) for x in T[:3, 3]), tuple(float(x) for x in q))


@dataclass(frozen=True)
class CameraConfig:
    """One depth camera. ``intrinsics``: ``"from_device"`` or ``(fx, fy, cx, cy)`` pixels for ``width × height``."""

    name: str
    serial: str = ""
    model: str = "D435"
    width: int = 848
    height: int = 480
    fps: int = 30
    intrinsics: str | tuple[float, float, float, float] = "from_device"
    depth_scale: float = 0.001
    parent_frame: str = "world"
    parent_to_link: Transform = Transform()
    link_to_optical: Transform = Transform(rotation_xyzw=LINK_TO_OPTICAL_XYZW)
    calibration: str = ""

    def camera_to_world(self) -> np.ndarray:
        """(4, 4) pose of the depth optical frame in ``parent_frame`` (the world)."""
        return (self.parent_to_link.matrix(f"{self.name}.parent_to_link")
                @ self.link_to_optical.matrix(f"{self.name}.link_to_optical"))

    def intrinsics_matrix(self) -> np.ndarray:
        """(3, 3) K; ConfigError if the rig gives no intrinsics (``from_device``) and none were read from a device."""
        if isinstance(self.intrinsics, str):
            raise ConfigError(f"intrinsics missing for camera {self.name}: the cameras YAML gives '{self.intrinsics}' "
                              "(read from a connected camera); without one, give intrinsics: {fx: ..., fy: ..., "
                              f"cx: ..., cy: ...}} in pixels for its {self.width}x{self.height} image")
        fx, fy, cx, cy = self.intrinsics
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class CaptureOptions:
    """Streaming options for real devices (see realsense.py): colour, alignment, post-processing, sync."""

    color: bool = False                 # also stream colour (same resolution/fps)
    align_to_color: bool = False        # align depth to the colour stream (then colour intrinsics apply)
    decimation: int = 1                 # decimation filter magnitude (1 = off)
    spatial: bool = False               # edge-preserving spatial filter
    temporal: bool = False              # temporal filter (needs several frames)
    hole_filling: bool = False          # hole-filling filter (fills invalid pixels: off for fusion)
    sync: str = "none"                  # "inter_cam": first camera master, others slaves (hardware sync cable)
    warmup_frames: int = 15             # frames dropped after start (auto exposure settles)
    timeout_ms: int = 5000


@dataclass(frozen=True)
class RigConfig:
    """A calibrated rig: cameras (unique names and serials) in ``world_frame``."""

    cameras: tuple[CameraConfig, ...] = ()
    world_frame: str = "world"
    capture: CaptureOptions = field(default_factory=CaptureOptions)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)

    def camera(self, name: str) -> CameraConfig:
        for c in self.cameras:
            if c.name == name:
                return c
        raise ConfigError(f"missing calibration for {name}: rig has cameras {', '.join(self.names) or '(none)'}")

    def select(self, names: list[str] | tuple[str, ...] | None) -> RigConfig:
        """The same rig restricted to ``names`` (in that order); a missing name raises ConfigError."""
        if not names:
            return self
        return dataclasses.replace(self, cameras=tuple(self.camera(n) for n in names))


def _transform(data: Any, where: str) -> Transform:
    if isinstance(data, Transform):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with translation and rotation_xyzw, got {brief(data)}")
    unknown = sorted(str(k) for k in set(data) - {"translation", "rotation_xyzw", "rotation_matrix"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if "translation" not in data:
        raise ConfigError(f"{where}: missing translation")
    translation = coerce_value(data["translation"], tuple[float, float, float], f"{where}.translation")
    if "rotation_matrix" in data:
        rows = coerce_value(data["rotation_matrix"], tuple[tuple[float, float, float], tuple[float, float, float],
                                                           tuple[float, float, float]], f"{where}.rotation_matrix")
        R = np.asarray(rows, dtype=float)
        if not np.isfinite(R).all():
            raise ConfigError(f"{where}.rotation_matrix: expected 3x3 finite numbers")
        with np.errstate(all="ignore"):
            err = float(np.abs(R.T @ R - np.eye(3)).max())
            det = float(np.linalg.det(R))
        if not err <= 1e-4 or det < 0:
            raise ConfigError(f"{where}.rotation_matrix: not orthonormal (|RᵀR − I| = {err:.2e}, det {det:.3f})")
        q = tuple(float(x) for x in rotation_to_quaternion_xyzw(R))
    else:
        if "rotation_xyzw" not in data:
            raise ConfigError(f"{where}: missing rotation_xyzw")
        q = coerce_value(data["rotation_xyzw"], tuple[float, float, float, float], f"{where}.rotation_xyzw")
    t = Transform(translation, q)
    try:
        t.matrix(where)  # validates: finite translation, unit quaternion
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return t


_CAMERA_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_CAMERA_SCALARS = {"serial", "model", "width", "height", "fps", "depth_scale", "parent_frame", "calibration"}


def _camera(data: Any, index: int) -> CameraConfig:
    if not isinstance(data, dict) or "name" not in data:
        raise ConfigError(f"cameras[{index}]: expected a mapping with at least 'name', got {brief(data)}")
    name = data["name"]
    if not isinstance(name, str) or not _CAMERA_NAME.fullmatch(name) or len(name) > 64:
        raise ConfigError(f"cameras[{index}].name: expected a camera name of letters, digits, '_', '.', '-' "
                          f"(it names files and TF frames), got {brief(name)}")
    valid = {f.name for f in dataclasses.fields(CameraConfig)}
    unknown = sorted(str(k) for k in data if k not in valid)
    if unknown:
        raise ConfigError(f"camera {name}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    hints = typing.get_type_hints(CameraConfig)
    kw = dict(data)
    serial = kw.get("serial", "")
    if isinstance(serial, int) and not isinstance(serial, bool):
        kw["serial"] = str(serial)  # YAML reads an unquoted serial as an int
    for key in _CAMERA_SCALARS & set(kw):
        kw[key] = coerce_value(kw[key], hints[key], f"camera {name}: {key}")
    if "parent_to_link" not in kw:
        raise ConfigError(f"missing calibration for {name}: no parent_to_link transform")
    kw["parent_to_link"] = _transform(kw["parent_to_link"], f"camera {name}.parent_to_link")
    if "link_to_optical" in kw:
        kw["link_to_optical"] = _transform(kw["link_to_optical"], f"camera {name}.link_to_optical")
    intr = kw.pop("intrinsics", "from_device")
    cam = CameraConfig(**kw)
    for attr in ("width", "height", "fps"):
        if getattr(cam, attr) <= 0:
            raise ConfigError(f"camera {name}: {attr} must be a positive integer, got {getattr(cam, attr)!r}")
    if cam.model.upper().startswith("D4") and (cam.width, cam.height) not in D4XX_RESOLUTIONS:
        raise ConfigError(f"camera {name}: {cam.width}x{cam.height} is not a {cam.model} depth resolution "
                          f"({', '.join(f'{w}x{h}' for w, h in sorted(D4XX_RESOLUTIONS))})")
    if isinstance(intr, dict):
        intr = _intrinsics_from_mapping(name, intr, cam.width, cam.height)
    elif isinstance(intr, list | tuple):
        intr = coerce_value(intr, tuple[float, float, float, float], f"camera {name}: intrinsics")
    elif intr != "from_device":
        raise ConfigError(f"camera {name}: intrinsics must be 'from_device' or {{fx, fy, cx, cy}} in pixels, "
                          f"got {brief(intr)}")
    if not isinstance(intr, str):
        if not np.isfinite(intr).all() or min(intr[:2]) <= 0:
            raise ConfigError(f"camera {name}: intrinsics need positive fx, fy and finite cx, cy, got {list(intr)}")
        if not (0 < intr[2] < cam.width and 0 < intr[3] < cam.height):
            raise ConfigError(f"camera {name}: principal point ({intr[2]}, {intr[3]}) lies outside the "
                              f"{cam.width}x{cam.height} image (resolution/intrinsics mismatch)")
    if not cam.depth_scale > 0 or not np.isfinite(cam.depth_scale):
        raise ConfigError(f"camera {name}: depth_scale must be a positive number of metres per unit, "
                          f"got {cam.depth_scale!r}")
    return dataclasses.replace(cam, intrinsics=intr)


def _intrinsics_from_mapping(name: str, d: dict, width: int, height: int) -> tuple[float, float, float, float]:
    missing = [k for k in ("fx", "fy", "cx", "cy") if k not in d]
    if missing:
        raise ConfigError(f"camera {name}: intrinsics lack {', '.join(missing)} (give fx, fy, cx, cy in pixels)")
    size = {k: coerce_value(d[k], int, f"camera {name}: intrinsics.{k}") for k in ("width", "height") if k in d}
    if size.get("width", width) != width or size.get("height", height) != height:
        raise ConfigError(f"camera {name}: intrinsics are for {d.get('width')}x{d.get('height')} but the stream is "
                          f"{width}x{height} (resolution/intrinsics mismatch)")
    return tuple(coerce_value(d[k], float, f"camera {name}: intrinsics.{k}") for k in ("fx", "fy", "cx", "cy"))


def rig_from_dict(data: Any) -> RigConfig:
    """Validated RigConfig from the YAML mapping ``{world_frame, capture, cameras: [...]}``; ConfigError (one line
    naming the camera and key) for anything wrong."""
    if not isinstance(data, dict):
        raise ConfigError(f"camera rig: expected a mapping at the top level, got {brief(data)}")
    unknown = sorted(str(k) for k in set(data) - {"cameras", "world_frame", "capture"})
    if unknown:
        raise ConfigError(f"camera rig: unknown key(s) {', '.join(unknown)}; valid: cameras, capture, world_frame")
    cams_data = data.get("cameras") or []
    if not isinstance(cams_data, list | tuple) or not cams_data:
        raise ConfigError("camera rig: 'cameras' must be a non-empty list")
    cams = tuple(_camera(c, i) for i, c in enumerate(cams_data))
    for attr in ("name", "serial"):
        vals = [getattr(c, attr) for c in cams if getattr(c, attr)]
        dup = sorted({v for v in vals if vals.count(v) > 1})
        if dup:
            raise ConfigError(f"camera rig: duplicate camera {attr}(s) {', '.join(dup)}")
    options = from_dict(CaptureOptions, data.get("capture") or {}, prefix="capture.")
    if options.sync not in SYNC_MODES:
        raise ConfigError(f"camera rig: capture.sync must be one of {', '.join(SYNC_MODES)}, got {options.sync!r}")
    if options.decimation < 1:
        raise ConfigError("camera rig: capture.decimation must be ≥ 1")
    world_frame = coerce_value(data.get("world_frame", "world"), str, "world_frame")
    return RigConfig(cameras=cams, world_frame=world_frame, capture=options)


def load_rig(path: str | os.PathLike, cameras: list[str] | None = None) -> RigConfig:
    """Load and validate ``cameras.yaml``; ``cameras`` selects (and requires) a subset by name.

    FileNotFoundError if there is no such file; ConfigError (one line: the file, the camera and key, the problem)
    for bad YAML or content. The file names no other file (``calibration`` is a note, never opened).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"camera config not found: {path}")
    data = read_yaml(path, ConfigError)
    try:
        return rig_from_dict(data).select(cameras)
    except ValueError as err:
        raise ConfigError(f"{path}: {err}") from None


def rig_to_dict(rig: RigConfig) -> dict:
    """RigConfig → plain mapping (the YAML layout)."""
    out = dataclasses.asdict(rig)
    out["cameras"] = list(out["cameras"])
    for cam in out["cameras"]:
        for k in ("parent_to_link", "link_to_optical"):
            cam[k] = {"translation": list(cam[k]["translation"]), "rotation_xyzw": list(cam[k]["rotation_xyzw"])}
        if not isinstance(cam["intrinsics"], str):
            cam["intrinsics"] = dict(zip(("fx", "fy", "cx", "cy"), cam["intrinsics"], strict=True))
    return out
