"""easy_handeye2 calibration results → ``cameras.yaml`` extrinsics.

An eye-on-base ``.calib`` (YAML) holds ``parameters`` (calibration_type, robot_base_frame, robot_effector_frame,
tracking_base_frame, tracking_marker_frame) and ``transform`` {translation {x, y, z}, rotation {x, y, z, w}}: the pose
of ``tracking_base_frame`` in ``robot_base_frame``. ``cameras.yaml`` stores ``parent_to_link`` (base → ``<cam>_link``),
so when the tracking frame is an optical frame we publish ``T_base_link = T_base_tracking · T_link_tracking⁻¹`` (never
re-parent an optical frame). ``T_link_tracking`` defaults to the pure ROS optical rotation for ``*_optical_frame`` and
to identity for ``*_link``; a colour optical frame sits ~15 mm beside the depth one on a D435: pass its
``link_to_tracking`` (``ros2 run tf2_ros tf2_echo <cam>_link <cam>_color_optical_frame``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from diffgrasp.perception.rig import LINK_TO_OPTICAL_XYZW, Transform

__all__ = ["load_calib", "calib_to_parent_to_link", "update_rig_yaml"]


def load_calib(path: str | os.PathLike) -> dict[str, Any]:
    """Read an easy_handeye2 ``.calib`` YAML; ValueError naming the missing field."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"calibration file not found: {path}")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or "transform" not in data or "parameters" not in data:
        raise ValueError(f"{path}: not an easy_handeye2 calibration (needs 'parameters' and 'transform')")
    for key in ("translation", "rotation"):
        if key not in data["transform"]:
            raise ValueError(f"{path}: transform.{key} missing")
    if data["parameters"].get("calibration_type", "eye_on_base") != "eye_on_base":
        raise ValueError(f"{path}: calibration_type {data['parameters']['calibration_type']!r}; cameras.yaml needs "
                         "eye_on_base (camera fixed in the robot base frame)")
    return data


def calib_to_parent_to_link(calib: dict[str, Any], link_to_tracking: Transform | None = None
                            ) -> tuple[str, Transform]:
    """(robot_base_frame, parent_to_link Transform) from a loaded ``.calib``."""
    p = calib["parameters"]
    tr, rot = calib["transform"]["translation"], calib["transform"]["rotation"]
    base_to_tracking = Transform((float(tr["x"]), float(tr["y"]), float(tr["z"])),
                                 (float(rot["x"]), float(rot["y"]), float(rot["z"]), float(rot["w"])))
    tracking = str(p.get("tracking_base_frame", ""))
    if link_to_tracking is None:
        link_to_tracking = Transform(rotation_xyzw=LINK_TO_OPTICAL_XYZW) if tracking.endswith("optical_frame") \
            else Transform()
    T = base_to_tracking.matrix("transform") @ np.linalg.inv(link_to_tracking.matrix("link_to_tracking"))
    return str(p.get("robot_base_frame", "world")), Transform.from_matrix(T)


def update_rig_yaml(rig_yaml: dict[str, Any], name: str, calib_path: str | os.PathLike,
                    link_to_tracking: Transform | None = None, serial: str | None = None) -> dict[str, Any]:
    """Return a copy of the ``cameras.yaml`` mapping with camera ``name``'s parent frame, ``parent_to_link`` and
    ``calibration`` set from ``calib_path`` (the camera is appended when absent)."""
    calib = load_calib(calib_path)
    parent, t = calib_to_parent_to_link(calib, link_to_tracking)
    out = dict(rig_yaml or {})
    cams = [dict(c) for c in out.get("cameras", [])]
    entry = next((c for c in cams if c.get("name") == name), None)
    if entry is None:
        entry = {"name": name, "serial": serial or "", "model": "D435", "width": 848, "height": 480, "fps": 30,
                 "intrinsics": "from_device", "depth_scale": 0.001}
        cams.append(entry)
    if serial:
        entry["serial"] = serial
    entry["parent_frame"] = parent
    entry["parent_to_link"] = {"translation": [round(x, 6) for x in t.translation],
                               "rotation_xyzw": [round(x, 8) for x in t.rotation_xyzw]}
    entry.setdefault("link_to_optical", {"translation": [0.0, 0.0, 0.0], "rotation_xyzw": list(LINK_TO_OPTICAL_XYZW)})
    entry["calibration"] = f"easy_handeye2 {calib['parameters'].get('calibration_type', 'eye_on_base')}: {calib_path}"
    out["cameras"] = cams
    out.setdefault("world_frame", parent)
    return out
