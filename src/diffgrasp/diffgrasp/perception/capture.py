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

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from diffgrasp._checks import check_shape
from diffgrasp.errors import DiffgraspError, MissingFileError
from diffgrasp.io import atomic_write, atomic_write_json
from diffgrasp.loading import brief, confined_path, one_line, read_versioned_json
from diffgrasp.perception.depth import ENCODINGS, depth_to_metres, metres_to_mm_u16, validate_depth
from diffgrasp.perception.rig import pose_matrix, quaternion_xyzw_to_rotation, rotation_to_quaternion_xyzw

FORMAT = "diffgrasp.capture/1"
DEPTH_FORMATS = ("png", "npy")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")

__all__ = ["FORMAT", "Capture", "CaptureError", "read_capture", "write_capture", "pose_to_json", "pose_from_json"]


class CaptureError(DiffgraspError):
    """A capture directory is unusable; the one-line message names capture.json, the camera and the problem."""


def pose_to_json(T: np.ndarray) -> dict[str, list[float]]:
    """(4, 4) pose → ``{"position": [x, y, z], "quaternion_xyzw": [x, y, z, w]}``."""
    check_shape("pose", T, (4, 4))
    return {"position": [float(x) for x in T[:3, 3]],
            "quaternion_xyzw": [float(x) for x in rotation_to_quaternion_xyzw(T[:3, :3])]}


def pose_from_json(d: Any, name: str = "pose") -> np.ndarray:
    """``{"position", "quaternion_xyzw"}`` → (4, 4); DiffgraspError (a ValueError) naming ``name`` when malformed."""
    if not isinstance(d, dict) or "position" not in d or "quaternion_xyzw" not in d:
        raise DiffgraspError(f"{name}: expected {{'position': [x, y, z], 'quaternion_xyzw': [x, y, z, w]}}, "
                             f"got {brief(d)}")
    p = _finite_vector(d["position"], 3, f"{name}.position")
    q = _finite_vector(d["quaternion_xyzw"], 4, f"{name}.quaternion_xyzw")
    try:
        R = quaternion_xyzw_to_rotation(q, name=f"{name}.quaternion_xyzw")
    except ValueError as err:
        raise DiffgraspError(str(err)) from None
    return pose_matrix(p, R)


def _finite_vector(value: Any, n: int, name: str) -> np.ndarray:
    ok = isinstance(value, list | tuple) and len(value) == n and all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value)
    if ok:
        try:
            arr = np.array([float(x) for x in value])
        except OverflowError:
            ok = False
    if not ok or not np.isfinite(arr).all():
        raise DiffgraspError(f"{name}: expected {n} finite numbers, got {brief(value)}")
    return arr


@dataclass
class Capture:
    """V synchronized depth views with calibration.

    names (V,); depth (V, H, W) float32 m, NaN invalid; intrinsics (V, 3, 3) px; camera_to_world (V, 4, 4) optical
    frame pose in the world; stamps (V,) s; color optional (V, H, W, 3) uint8; serials (V,) or empty;
    metadata: extra JSON-able keys written into capture.json (e.g. ``object_pose_world``); source: the capture.json
    it was read from ("" when built in memory), named by :meth:`validate`'s errors.
    """

    names: tuple[str, ...]
    depth: np.ndarray
    intrinsics: np.ndarray
    camera_to_world: np.ndarray
    stamps: np.ndarray
    color: np.ndarray | None = None
    serials: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = field(default="", repr=False)

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
        """Raise CaptureError naming the capture and camera if any depth view is unusable (depth.validate_depth)."""
        head = f"{self.source}: " if self.source else ""
        for name, d in zip(self.names, self.depth, strict=True):
            try:
                validate_depth(f"camera {name}", d)
            except ValueError as err:
                raise CaptureError(f"{head}{err}") from None

    def subset(self, indices: list[int] | tuple[int, ...]) -> Capture:
        """The views at ``indices`` (same metadata)."""
        idx = list(indices)
        return Capture(tuple(self.names[i] for i in idx), self.depth[idx], self.intrinsics[idx],
                       self.camera_to_world[idx], self.stamps[idx],
                       None if self.color is None else self.color[idx],
                       tuple(self.serials[i] for i in idx) if self.serials else (), dict(self.metadata), self.source)


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
    bad = [n for n in capture.names if not _SAFE_NAME.fullmatch(n)]
    if bad:  # the names become file names under depth/ and color/
        raise DiffgraspError(f"camera name(s) {', '.join(map(brief, bad))} cannot name files; use letters, digits, "
                             "'_', '.', '-'")
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


MAX_IMAGE_PIXELS = 4096 * 4096  # a depth/colour image larger than this is refused before decoding (D4xx: 1280x720)


def _image_array(path: Path, rel: str, where: str, rgb: bool = False) -> np.ndarray:
    """A PNG (any PIL format) or .npy as an array; CaptureError naming ``where`` and the file if it is not one."""
    try:
        if path.suffix.lower() == ".npy":
            mm = np.load(path, mmap_mode="r", allow_pickle=False)
            if mm.size > MAX_IMAGE_PIXELS * (3 if rgb else 1):
                raise CaptureError(f"{where}: {rel} holds {mm.shape} values, too large for an image")
            return np.array(mm)
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise CaptureError(f"{where}: {rel} is {im.width}x{im.height}, too large for a depth camera image")
            return np.asarray(im.convert("RGB") if rgb else im)
    except CaptureError:
        raise
    except Exception as err:  # noqa: BLE001 — PIL/numpy raise many types for files that are not images
        kind = "an RGB image" if rgb else "a depth image (16-bit PNG or float32 .npy)"
        reason = ("unrecognised image format" if isinstance(err, UnidentifiedImageError)
                  else f"{type(err).__name__}: {one_line(str(err), 120)}")
        raise CaptureError(f"{where}: {rel} is not {kind} ({reason})") from None


def _read_depth(directory: Path, entry: dict, name: str, meta_path: Path) -> tuple[np.ndarray, str]:
    """(depth (H, W) float32 m, relative path) of one camera entry; the path must stay inside ``directory``."""
    where = f"{meta_path}: camera {name}"
    rel = entry.get("depth")
    enc = entry.get("depth_encoding", "16UC1")
    if not rel:
        raise CaptureError(f"{where}: no depth file")
    if not isinstance(enc, str) or enc not in ENCODINGS:
        raise CaptureError(f"{where}: unsupported depth encoding {brief(enc)}; expected one of {', '.join(ENCODINGS)}")
    path = confined_path(directory, rel, meta_path, f"camera {name}.depth")
    if not path.is_file():
        raise MissingFileError(f"{where}: depth file not found: {directory / rel}")
    raw = _image_array(path, rel, where)
    if raw.ndim != 2:
        raise CaptureError(f"{where}: {rel} is not a single-channel depth image (array shape {raw.shape})")
    if path.suffix.lower() != ".npy" and raw.dtype != np.uint16 and enc in ("16UC1", "mono16"):
        raise CaptureError(f"{where}: {rel} is not a 16-bit PNG (dtype {raw.dtype}); "
                           "depth PNGs must be 16UC1 millimetres")
    try:
        return depth_to_metres(raw, enc), rel
    except ValueError as err:
        raise CaptureError(f"{where}: {err}") from None


def _number(value: Any, where: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CaptureError(f"{where}: expected a number, got {brief(value)}")
    try:
        out = float(value)
    except OverflowError:
        raise CaptureError(f"{where}: number too large") from None
    if not math.isfinite(out) or (positive and out <= 0):
        raise CaptureError(f"{where}: expected a {'positive' if positive else 'finite'} number, got {brief(value)}")
    return out


def _intrinsics(entry: dict, where: str) -> np.ndarray:
    intr = entry["intrinsics"]
    if not isinstance(intr, dict) or any(k not in intr for k in ("fx", "fy", "cx", "cy")):
        raise CaptureError(f"{where}: intrinsics need fx, fy, cx, cy (pixels), got {brief(intr)}")
    fx, fy = (_number(intr[k], f"{where}: intrinsics.{k}", positive=True) for k in ("fx", "fy"))
    cx, cy = (_number(intr[k], f"{where}: intrinsics.{k}") for k in ("cx", "cy"))
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _declared_size(entry: dict, where: str) -> tuple[int, int] | None:
    """(W, H) that capture.json states for the camera's images, or None when it states none."""
    if "width" not in entry and "height" not in entry:
        return None
    size = []
    for key in ("width", "height"):
        v = entry.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise CaptureError(f"{where}: {key}: expected a positive integer, got {brief(v)}")
        size.append(v)
    return size[0], size[1]


def _fits(K: np.ndarray, width: int, height: int) -> bool:
    """Whether the principal point lies near the centre of a width × height image (within a quarter of its size)."""
    return abs(K[0, 2] - (width - 1) / 2) <= width / 4 and abs(K[1, 2] - (height - 1) / 2) <= height / 4


def _check_resolutions(meta_path: Path, names: list[str], depths: list[np.ndarray], Ks: list[np.ndarray],
                       rels: list[str]) -> None:
    """All views must share one resolution; blame the views that differ from the majority (or, on a tie, the ones
    whose intrinsics do not fit their own image), never a good one."""
    sizes = [(d.shape[1], d.shape[0]) for d in depths]
    if len(set(sizes)) <= 1:
        return
    counts = {s: sizes.count(s) for s in sizes}
    top = max(counts.values())
    majority = [s for s in counts if counts[s] == top]
    if len(majority) > 1:  # a tie: the views whose intrinsics fit their image win
        fitting = {s for s, K in zip(sizes, Ks, strict=True) if _fits(K, *s)}
        majority = [s for s in majority if s in fitting] if len(fitting & set(majority)) == 1 else majority
    if len(majority) == 1:
        good = majority[0]
        odd = [i for i, s in enumerate(sizes) if s != good]
        listed = ", ".join(f"camera {names[i]} ({rels[i]} is {sizes[i][0]}x{sizes[i][1]})" for i in odd)
        raise CaptureError(f"{meta_path}: {listed}: differs from the {counts[good]} other view(s) at "
                           f"{good[0]}x{good[1]}; all views must share one resolution")
    listed = ", ".join(f"camera {n} {w}x{h}" for n, (w, h) in zip(names, sizes, strict=True))
    raise CaptureError(f"{meta_path}: views differ in resolution ({listed}); all views must share one resolution")


def read_capture(directory: str | os.PathLike) -> Capture:
    """Read a capture directory written by :func:`write_capture` (any source).

    FileNotFoundError if there is no capture.json. Anything wrong inside it is one :class:`CaptureError` line naming
    capture.json, the camera and the problem: bad JSON, missing calibration (``camera_to_world``) or intrinsics, an
    unsupported depth encoding, a depth/colour file that is missing (:class:`MissingFileError`) or not an image, an
    image that disagrees with the size capture.json gives for it or with the other views. Image paths must stay
    inside the capture folder (PathConfinementError otherwise).
    """
    directory = Path(directory)
    meta_path = directory / "capture.json"
    if not meta_path.is_file():
        if meta_path.is_dir():
            raise CaptureError(f"{meta_path}: is a directory, not a file")
        raise FileNotFoundError(f"not a capture directory (no capture.json): {directory}")
    doc = read_versioned_json(meta_path, FORMAT, CaptureError)
    cams = doc.get("cameras")
    if not isinstance(cams, list) or not cams:
        raise CaptureError(f"{meta_path}: cameras: expected a non-empty list of camera entries, got {brief(cams)}")
    names, depth, rels, Ks, Ts, stamps, serials, colors = [], [], [], [], [], [], [], []
    for i, entry in enumerate(cams):
        if not isinstance(entry, dict):
            raise CaptureError(f"{meta_path}: cameras[{i}]: expected an object, got {brief(entry)}")
        name = entry.get("name", f"camera{i}")
        if not isinstance(name, str | int) or isinstance(name, bool) or not str(name):
            raise CaptureError(f"{meta_path}: cameras[{i}].name: expected a string, got {brief(name)}")
        name = str(name)
        where = f"{meta_path}: camera {name}"
        if "camera_to_world" not in entry:
            raise CaptureError(f"missing calibration for {name}: no camera_to_world in {meta_path}")
        if "intrinsics" not in entry:
            raise CaptureError(f"{where}: no intrinsics (give fx, fy, cx, cy in pixels)")
        K = _intrinsics(entry, where)
        try:
            T = pose_from_json(entry["camera_to_world"], "camera_to_world")
        except ValueError as err:
            raise CaptureError(f"{where}: {err}") from None
        d, rel = _read_depth(directory, entry, name, meta_path)
        declared = _declared_size(entry, where)
        if declared is not None and declared != (d.shape[1], d.shape[0]):
            raise CaptureError(f"{where}: depth image {rel} is {d.shape[1]}x{d.shape[0]}, but capture.json gives "
                               f"{declared[0]}x{declared[1]} for this camera")
        names.append(name)
        depth.append(d)
        rels.append(rel)
        Ks.append(K)
        Ts.append(T)
        stamps.append(_number(entry.get("stamp", 0.0), f"{where}: stamp"))
        serial = entry.get("serial", "")
        if not isinstance(serial, str | int) or isinstance(serial, bool):
            raise CaptureError(f"{where}: serial: expected a string, got {brief(serial)}")
        serials.append(str(serial))
        if entry.get("color"):
            path = confined_path(directory, entry["color"], meta_path, f"camera {name}.color")
            if not path.is_file():
                raise MissingFileError(f"{where}: colour file not found: {directory / entry['color']}")
            colors.append(_image_array(path, entry["color"], where, rgb=True))
    _check_resolutions(meta_path, names, depth, Ks, rels)
    for name, K, d in zip(names, Ks, depth, strict=True):
        if not (0 < K[0, 2] < d.shape[1] and 0 < K[1, 2] < d.shape[0]):
            raise CaptureError(f"{meta_path}: camera {name}: principal point ({K[0, 2]:g}, {K[1, 2]:g}) lies outside "
                               f"its {d.shape[1]}x{d.shape[0]} depth image (intrinsics do not fit the image)")
    meta = {k: v for k, v in doc.items() if k not in ("format", "cameras")}
    color = None
    if colors and len(colors) == len(names):
        for name, c, d in zip(names, colors, depth, strict=True):
            if c.shape[:2] != d.shape:
                raise CaptureError(f"{meta_path}: camera {name}: colour image is {c.shape[1]}x{c.shape[0]}, its "
                                   f"depth image {d.shape[1]}x{d.shape[0]}")
        color = np.stack(colors)
    try:
        return Capture(tuple(names), np.stack(depth), np.stack(Ks), np.stack(Ts), np.array(stamps), color,
                       tuple(serials) if any(serials) else (), meta, source=str(meta_path))
    except ValueError as err:
        raise CaptureError(f"{meta_path}: {err}") from None
