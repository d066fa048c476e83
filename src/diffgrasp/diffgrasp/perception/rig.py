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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from diffgrasp.geometry.rotations import matrix_to_quaternion_xyzw, normalize_quaternion, quaternion_xyzw_to_matrix

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
        """(3, 3) K; RuntimeError if the intrinsics come from the device and were not filled in yet."""
        if isinstance(self.intrinsics, str):
            raise RuntimeError(f"camera {self.name}: intrinsics are '{self.intrinsics}'; read them from the device")
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
        raise ValueError(f"missing calibration for {name}: rig has cameras {', '.join(self.names) or '(none)'}")

    def select(self, names: list[str] | tuple[str, ...] | None) -> RigConfig:
        """The same rig restricted to ``names`` (in that order); a missing name raises ValueError."""
        if not names:
            return self
        return dataclasses.replace(self, cameras=tuple(self.camera(n) for n in names))


def _transform(data: Any, where: str) -> Transform:
    if isinstance(data, Transform):
        return data
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping with translation and rotation_xyzw, got {data!r}")
    unknown = set(data) - {"translation", "rotation_xyzw", "rotation_matrix"}
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if "translation" not in data:
        raise ValueError(f"{where}: missing translation")
    if "rotation_matrix" in data:
        R = np.asarray(data["rotation_matrix"], dtype=float)
        if R.shape != (3, 3) or not np.isfinite(R).all():
            raise ValueError(f"{where}.rotation_matrix: expected 3x3 finite numbers")
        err = float(np.abs(R.T @ R - np.eye(3)).max())
        if err > 1e-4 or np.linalg.det(R) < 0:
            raise ValueError(f"{where}.rotation_matrix: not orthonormal (|RᵀR − I| = {err:.2e}, "
                             f"det {np.linalg.det(R):.3f})")
        q = rotation_to_quaternion_xyzw(R)
    else:
        if "rotation_xyzw" not in data:
            raise ValueError(f"{where}: missing rotation_xyzw")
        q = data["rotation_xyzw"]
    t = Transform(tuple(float(x) for x in data["translation"]), tuple(float(x) for x in q))
    t.matrix(where)  # validates
    return t


def _camera(data: Any, index: int) -> CameraConfig:
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError(f"cameras[{index}]: expected a mapping with at least 'name'")
    name = str(data["name"])
    valid = {f.name for f in dataclasses.fields(CameraConfig)}
    unknown = set(data) - valid
    if unknown:
        raise ValueError(f"camera {name}: unknown key(s) {', '.join(sorted(unknown))}; "
                         f"valid: {', '.join(sorted(valid))}")
    kw = dict(data)
    kw["serial"] = str(kw.get("serial", ""))  # YAML may parse a serial as int
    if "parent_to_link" not in kw:
        raise ValueError(f"missing calibration for {name}: no parent_to_link transform")
    kw["parent_to_link"] = _transform(kw["parent_to_link"], f"camera {name}.parent_to_link")
    if "link_to_optical" in kw:
        kw["link_to_optical"] = _transform(kw["link_to_optical"], f"camera {name}.link_to_optical")
    cam = CameraConfig(**kw)
    for attr in ("width", "height", "fps"):
        if not isinstance(getattr(cam, attr), int) or getattr(cam, attr) <= 0:
            raise ValueError(f"camera {name}: {attr} must be a positive integer, got {getattr(cam, attr)!r}")
    if cam.model.upper().startswith("D4") and (cam.width, cam.height) not in D4XX_RESOLUTIONS:
        raise ValueError(f"camera {name}: {cam.width}x{cam.height} is not a {cam.model} depth resolution "
                         f"({', '.join(f'{w}x{h}' for w, h in sorted(D4XX_RESOLUTIONS))})")
    intr = cam.intrinsics
    if isinstance(intr, dict):
        intr = _intrinsics_from_mapping(name, intr, cam.width, cam.height)
    elif isinstance(intr, list | tuple):
        intr = tuple(float(x) for x in intr)
    elif intr != "from_device":
        raise ValueError(f"camera {name}: intrinsics must be 'from_device' or fx/fy/cx/cy, got {intr!r}")
    if not isinstance(intr, str):
        if len(intr) != 4 or not np.isfinite(intr).all() or min(intr[:2]) <= 0:
            raise ValueError(f"camera {name}: intrinsics need positive fx, fy and finite cx, cy, got {list(intr)}")
        if not (0 < intr[2] < cam.width and 0 < intr[3] < cam.height):
            raise ValueError(f"camera {name}: principal point ({intr[2]}, {intr[3]}) lies outside the "
                             f"{cam.width}x{cam.height} image (resolution/intrinsics mismatch)")
    if cam.depth_scale <= 0:
        raise ValueError(f"camera {name}: depth_scale must be positive")
    return dataclasses.replace(cam, intrinsics=intr)


def _intrinsics_from_mapping(name: str, d: dict, width: int, height: int) -> tuple[float, float, float, float]:
    missing = [k for k in ("fx", "fy", "cx", "cy") if k not in d]
    if missing:
        raise ValueError(f"camera {name}: intrinsics lack {', '.join(missing)}")
    if ("width" in d and int(d["width"]) != width) or ("height" in d and int(d["height"]) != height):
        raise ValueError(f"camera {name}: intrinsics are for {d.get('width')}x{d.get('height')} but the stream is "
                         f"{width}x{height} (resolution/intrinsics mismatch)")
    return (float(d["fx"]), float(d["fy"]), float(d["cx"]), float(d["cy"]))


def rig_from_dict(data: dict) -> RigConfig:
    """Validated RigConfig from the YAML mapping ``{world_frame, capture, cameras: [...]}``."""
    if not isinstance(data, dict):
        raise ValueError("camera rig: expected a mapping at the top level")
    unknown = set(data) - {"cameras", "world_frame", "capture"}
    if unknown:
        raise ValueError(f"camera rig: unknown key(s) {', '.join(sorted(unknown))}")
    cams_data = data.get("cameras") or []
    if not isinstance(cams_data, list | tuple) or not cams_data:
        raise ValueError("camera rig: 'cameras' must be a non-empty list")
    cams = tuple(_camera(c, i) for i, c in enumerate(cams_data))
    for attr in ("name", "serial"):
        vals = [getattr(c, attr) for c in cams if getattr(c, attr)]
        dup = sorted({v for v in vals if vals.count(v) > 1})
        if dup:
            raise ValueError(f"camera rig: duplicate camera {attr}(s) {', '.join(dup)}")
    cap = data.get("capture") or {}
    valid = {f.name for f in dataclasses.fields(CaptureOptions)}
    if set(cap) - valid:
        raise ValueError(f"camera rig: unknown capture option(s) {', '.join(sorted(set(cap) - valid))}")
    options = CaptureOptions(**cap)
    if options.sync not in SYNC_MODES:
        raise ValueError(f"camera rig: capture.sync must be one of {', '.join(SYNC_MODES)}, got {options.sync!r}")
    if options.decimation < 1:
        raise ValueError("camera rig: capture.decimation must be ≥ 1")
    return RigConfig(cameras=cams, world_frame=str(data.get("world_frame", "world")), capture=options)


def load_rig(path: str | os.PathLike, cameras: list[str] | None = None) -> RigConfig:
    """Load and validate ``cameras.yaml``; ``cameras`` selects (and requires) a subset by name."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"camera config not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: invalid YAML ({err})") from None
    try:
        return rig_from_dict(data).select(cameras)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


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
