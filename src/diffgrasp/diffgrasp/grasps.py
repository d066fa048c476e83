"""The grasp file format ``diffgrasp.grasps/1`` (design notes §4): data classes, reader, writer, defaults, export.

A grasp is the pose of the ``rh_palm`` frame in the object mesh frame (position m, quaternion xyzw) plus the 22
finger joints (rad). Readers reject bad files with a message naming the grasp index and the field.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from diffgrasp.errors import DiffgraspError
from diffgrasp.geometry.rotations import normalize_quaternion, xyzw_to_wxyz
from diffgrasp.grasp_phases import (
    DEFAULT_OPEN_RAD,
    DEFAULT_PALM_BACKOFF_M,
    DEFAULT_SQUEEZE_RAD,
    backed_off_position,
    pregrasp_joints,
    squeeze_joints,
)
from diffgrasp.hand.names import FINGER_JOINT_NAMES, FLEXION_JOINT_NAMES, JOINT_LIMITS, JOINT_NAMES, WRIST_JOINT_NAMES
from diffgrasp.io import atomic_write_json
from diffgrasp.loading import brief, check_format, one_line, read_versioned_json

FORMAT = "diffgrasp.grasps/1"
HAND = "shadow_right"
LIMIT_TOLERANCE = 1e-3  # rad: joints within the limits up to this are clamped, beyond it rejected



class GraspFormatError(DiffgraspError):
    """A grasp file or grasp is invalid; the message names the grasp index and the field."""


@dataclasses.dataclass
class Grasp:
    """One grasp of the Shadow right hand, in the object mesh frame.

    palm_position: (3,) m; palm_quaternion_xyzw: (4,) unit; joints: name → rad for the 22 finger joints
    (wrist joints optional); pregrasp/squeeze joints optional (squeeze values are motor targets and may pass the
    limits).
    """

    palm_position: np.ndarray
    palm_quaternion_xyzw: np.ndarray
    joints: dict[str, float]
    pregrasp_joints: dict[str, float] | None = None
    squeeze_joints: dict[str, float] | None = None
    pregrasp_palm_position: np.ndarray | None = None
    pregrasp_palm_quaternion_xyzw: np.ndarray | None = None
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)

    def joint_vector(self, names: Iterable[str] = FINGER_JOINT_NAMES, which: str = "joints") -> np.ndarray:
        """(len(names),) rad of ``joints``, ``pregrasp_joints`` or ``squeeze_joints`` in the order of ``names``."""
        values = getattr(self, which if which == "joints" else f"{which}_joints")
        if values is None:
            raise GraspFormatError(f"{which}_joints: not set")
        return np.array([values[n] for n in names], dtype=float)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "palm_position": [float(x) for x in self.palm_position],
            "palm_quaternion_xyzw": [float(x) for x in self.palm_quaternion_xyzw],
            "joints": {k: float(v) for k, v in self.joints.items()},
        }
        for key in ("pregrasp_joints", "squeeze_joints"):
            if getattr(self, key) is not None:
                out[key] = {k: float(v) for k, v in getattr(self, key).items()}
        for key in ("pregrasp_palm_position", "pregrasp_palm_quaternion_xyzw"):
            if getattr(self, key) is not None:
                out[key] = [float(x) for x in getattr(self, key)]
        out["metrics"] = {k: (int(v) if isinstance(v, int | np.integer) else float(v)) for k, v in self.metrics.items()}
        return out


@dataclasses.dataclass
class GraspSet:
    """Grasps for one object, best first. ``scale`` multiplies the mesh file's coordinates before use."""

    object_name: str
    mesh: str
    grasps: list[Grasp]
    scale: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"name": self.object_name, "mesh": self.mesh}
        if self.scale != 1.0:
            obj["scale"] = self.scale
        return {"format": FORMAT, "hand": HAND, "object": obj, "grasps": [g.to_dict() for g in self.grasps]}


def _finite(v: Any) -> bool:
    """Whether ``v`` is a real number (not a bool) that fits a float and is finite."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int beyond float range
        return False


def _vector(value: Any, n: int, where: str) -> np.ndarray:
    if not isinstance(value, list | tuple | np.ndarray) or len(value) != n:
        raise GraspFormatError(f"{where}: expected {n} numbers, got {brief(value)}")
    items = list(value)
    if not all(isinstance(x, int | float | np.number) and not isinstance(x, bool | np.bool_) for x in items):
        raise GraspFormatError(f"{where}: expected {n} numbers, got {brief(value)}")
    if not all(_finite(float(x)) if isinstance(x, np.number) else _finite(x) for x in items):
        raise GraspFormatError(f"{where}: contains NaN or inf")
    return np.array([float(x) for x in items], dtype=float)


def _quaternion(value: Any, where: str) -> np.ndarray:
    q = _vector(value, 4, where)
    try:
        return normalize_quaternion(q, where)
    except ValueError as err:
        raise GraspFormatError(str(err)) from None


def _joint_map(value: Any, where: str, require_all: bool, check_limits: bool) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise GraspFormatError(f"{where}: expected an object of joint name → radians, got {brief(value)}")
    unknown = sorted(brief(k) if not isinstance(k, str) else one_line(k, 40) for k in value if k not in JOINT_NAMES)
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise GraspFormatError(f"{where}: unknown joint(s) {shown}")
    if require_all:
        missing = [n for n in FINGER_JOINT_NAMES if n not in value]
        if missing:
            raise GraspFormatError(f"{where}: missing joint(s) {', '.join(missing)}")
    out: dict[str, float] = {}
    for name in JOINT_NAMES:
        if name not in value:
            continue
        v = value[name]
        if not _finite(v):
            raise GraspFormatError(f"{where}.{name}: expected a finite number, got {brief(v)}")
        if check_limits:
            lo, hi = JOINT_LIMITS[name]
            if not lo - LIMIT_TOLERANCE <= v <= hi + LIMIT_TOLERANCE:
                raise GraspFormatError(f"{where}.{name}: {v:.4f} rad outside the limits [{lo:.4f}, {hi:.4f}]")
            v = min(max(v, lo), hi)
        out[name] = float(v)
    return out


def grasp_from_dict(data: Any, index: int = 0) -> Grasp:
    """Validate and build one grasp; errors name ``grasps[index].field``."""
    where = f"grasps[{index}]"
    if not isinstance(data, Mapping):
        raise GraspFormatError(f"{where}: expected an object, got {brief(data)}")
    for key in ("palm_position", "palm_quaternion_xyzw", "joints"):
        if key not in data:
            raise GraspFormatError(f"{where}.{key}: missing")
    grasp = Grasp(
        palm_position=_vector(data["palm_position"], 3, f"{where}.palm_position"),
        palm_quaternion_xyzw=_quaternion(data["palm_quaternion_xyzw"], f"{where}.palm_quaternion_xyzw"),
        joints=_joint_map(data["joints"], f"{where}.joints", require_all=True, check_limits=True),
    )
    if data.get("pregrasp_joints") is not None:
        grasp.pregrasp_joints = _joint_map(data["pregrasp_joints"], f"{where}.pregrasp_joints", True, True)
    if data.get("squeeze_joints") is not None:
        grasp.squeeze_joints = _joint_map(data["squeeze_joints"], f"{where}.squeeze_joints", True, False)
    if data.get("pregrasp_palm_position") is not None:
        grasp.pregrasp_palm_position = _vector(data["pregrasp_palm_position"], 3, f"{where}.pregrasp_palm_position")
    if data.get("pregrasp_palm_quaternion_xyzw") is not None:
        grasp.pregrasp_palm_quaternion_xyzw = _quaternion(
            data["pregrasp_palm_quaternion_xyzw"], f"{where}.pregrasp_palm_quaternion_xyzw")
    metrics = data.get("metrics", {})
    if not isinstance(metrics, Mapping):
        raise GraspFormatError(f"{where}.metrics: expected an object, got {brief(metrics)}")
    for key, v in metrics.items():  # numbers (NaN allowed: a metric may be unknown); writers and ROS need numbers
        ok = isinstance(v, int | float) and not isinstance(v, bool) and (isinstance(v, float) or _finite(v))
        if not isinstance(key, str) or not (ok or isinstance(v, bool)):
            raise GraspFormatError(f"{where}.metrics.{one_line(str(key), 40)}: expected a number, got {brief(v)}")
    grasp.metrics = dict(metrics)
    return grasp


def grasp_set_from_dict(data: Any, source: str = "<dict>") -> GraspSet:
    """Validate a whole ``diffgrasp.grasps/1`` document."""
    check_format(data, source, FORMAT, GraspFormatError)
    if data.get("hand", HAND) != HAND:
        raise GraspFormatError(f"{source}: unknown hand {brief(data.get('hand'))} (expected {HAND!r})")
    obj = data.get("object")
    if not isinstance(obj, Mapping) or "name" not in obj:
        raise GraspFormatError(f"{source}: object: missing or without a name")
    for key in ("name", "mesh"):
        if key in obj and not isinstance(obj[key], str):
            raise GraspFormatError(f"{source}: object.{key}: expected a string, got {brief(obj[key])}")
    scale = obj.get("scale", 1.0)
    if not _finite(scale) or scale <= 0:
        raise GraspFormatError(f"{source}: object.scale: expected a positive number, got {brief(scale)}")
    grasps = data.get("grasps")
    if not isinstance(grasps, list):
        raise GraspFormatError(f"{source}: grasps: expected a list, got {brief(grasps)}")
    try:
        items = [grasp_from_dict(g, i) for i, g in enumerate(grasps)]
    except GraspFormatError as err:
        if source == "<dict>":
            raise
        raise GraspFormatError(f"{source}: {err}") from None
    return GraspSet(object_name=obj["name"], mesh=obj.get("mesh", ""), scale=float(scale), grasps=items)


def load_grasps(path: str | os.PathLike) -> GraspSet:
    """Read and validate a grasp file: FileNotFoundError if absent, else a :class:`GraspFormatError` (one line naming
    the file, grasp index and field) for anything wrong. ``object.mesh`` is kept as written and never opened here; a
    reader that opens it must confine it to the file's folder (:func:`diffgrasp.loading.confined_path`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"grasp file not found: {path}")
    return grasp_set_from_dict(read_versioned_json(path, FORMAT, GraspFormatError), str(path))


def load_grasps_lenient(path: str | os.PathLike) -> tuple[GraspSet, dict[int, str]]:
    """A grasp file whose grasps may be invalid one by one (evaluation counts them as failures): (GraspSet of the
    valid grasps, {index in the file: one-line error}). A file that is broken as a whole (absent, not JSON, unknown
    format or hand, bad object, ``grasps`` not a list) raises as :func:`load_grasps` does."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"grasp file not found: {path}")
    data = read_versioned_json(path, FORMAT, GraspFormatError)
    header = grasp_set_from_dict({**data, "grasps": []}, str(path))  # format, hand, object, scale
    raw = data.get("grasps")
    if not isinstance(raw, list):
        raise GraspFormatError(f"{path}: grasps: expected a list, got {brief(raw)}")
    invalid: dict[int, str] = {}
    for i, item in enumerate(raw):
        try:
            header.grasps.append(grasp_from_dict(item, i))
        except GraspFormatError as err:
            invalid[i] = str(err)
    return header, invalid


def save_grasps(path: str | os.PathLike, grasp_set: GraspSet, extra: Mapping[str, Any] | None = None) -> Path:
    """Write a grasp file atomically; ``extra``: more top-level keys (e.g. a cut-short run's ``planning`` status;
    readers ignore them), which may not replace the format's own keys."""
    doc = grasp_set.to_dict()
    clash = sorted(set(doc) & set(extra or {}))
    if clash:
        raise ValueError(f"save_grasps: extra keys {clash} would replace the grasp file's own")
    return atomic_write_json(path, {**doc, **(extra or {})})


_FLEXION_LOWER = np.array([JOINT_LIMITS[name][0] for name in FLEXION_JOINT_NAMES])


def _flexion(joints: Mapping[str, float]) -> np.ndarray:
    """(len(FLEXION_JOINT_NAMES),) float64 rad: the flexion joints of ``joints``."""
    return np.array([joints[name] for name in FLEXION_JOINT_NAMES], dtype=float)


def default_pregrasp(grasp: Grasp) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """§7 fallback pregrasp (:mod:`diffgrasp.grasp_phases`): palm backed off 3 mm along palm +y, flexion joints
    opened 0.1 rad (clamped to limits); the other joints as in the grasp.

    Returns (palm position (3,), palm quaternion xyzw (4,), joints).
    """
    rot = Rotation.from_quat(grasp.palm_quaternion_xyzw).as_matrix()
    position = backed_off_position(grasp.palm_position, rot, DEFAULT_PALM_BACKOFF_M)
    opened = pregrasp_joints(_flexion(grasp.joints), 1.0, _FLEXION_LOWER, DEFAULT_OPEN_RAD)
    joints = {**grasp.joints, **dict(zip(FLEXION_JOINT_NAMES, opened.tolist(), strict=True))}
    return position, grasp.palm_quaternion_xyzw.copy(), joints


def default_squeeze(grasp: Grasp) -> dict[str, float]:
    """§7 fallback squeeze (:mod:`diffgrasp.grasp_phases`): flexion joints closed a further 0.1 rad (motor targets;
    may pass the limits); the other joints as in the grasp."""
    closed = squeeze_joints(_flexion(grasp.joints), 1.0, DEFAULT_SQUEEZE_RAD)
    return {**grasp.joints, **dict(zip(FLEXION_JOINT_NAMES, closed.tolist(), strict=True))}


def resolved_phases(grasp: Grasp) -> dict[str, Any]:
    """Pregrasp pose/joints, grasp joints and squeeze joints, filling what the grasp lacks with the §7 rule."""
    d_pos, d_quat, d_joints = default_pregrasp(grasp)
    return {
        "pregrasp_palm_position": grasp.pregrasp_palm_position if grasp.pregrasp_palm_position is not None else d_pos,
        "pregrasp_palm_quaternion_xyzw": (grasp.pregrasp_palm_quaternion_xyzw
                                          if grasp.pregrasp_palm_quaternion_xyzw is not None else d_quat),
        "pregrasp_joints": grasp.pregrasp_joints if grasp.pregrasp_joints is not None else d_joints,
        "joints": grasp.joints,
        "squeeze_joints": grasp.squeeze_joints if grasp.squeeze_joints is not None else default_squeeze(grasp),
    }


DEXGRASPBENCH_ROOT_OFFSET_M = 0.034  # DexGraspBench's root sits 0.034 m along −z of rh_palm (the wrist body origin)


def to_dexgraspbench_qpos(grasp: Grasp, which: str = "joints") -> np.ndarray:
    """(29,) DexGraspBench qpos: root position (3), root quaternion wxyz (4), 22 finger joints in canonical order."""
    rot = Rotation.from_quat(grasp.palm_quaternion_xyzw)
    root = grasp.palm_position - rot.as_matrix()[:, 2] * DEXGRASPBENCH_ROOT_OFFSET_M
    quat_wxyz = xyzw_to_wxyz(rot.as_quat())
    return np.concatenate([root, quat_wxyz, grasp.joint_vector(FINGER_JOINT_NAMES, which)])


__all__ = [
    "FORMAT", "Grasp", "GraspFormatError", "GraspSet", "WRIST_JOINT_NAMES", "default_pregrasp", "default_squeeze",
    "grasp_from_dict", "grasp_set_from_dict", "load_grasps", "load_grasps_lenient", "resolved_phases", "save_grasps",
    "to_dexgraspbench_qpos",
]
