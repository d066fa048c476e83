"""Perception: calibrated camera rig → captured (or replayed, or simulated) depth → fused object mesh and views.

Public API (imported lazily, so ``import diffgrasp.perception`` stays light; open3d, pyrealsense2, OpenCV and rosbags
load only with the submodule or function that needs them)::

    rig = load_rig("config/cameras.yaml")                        # RigConfig, validated
    caps = capture_frames(rig, frames=1, record=None, replay=None)   # list[Capture] (RealSense devices / .db3 replay)
    cap = simulate_capture("object.obj", load_rig("config/cameras_sim.yaml"), noise="realsense", seed=0)
    write_capture("DIR", cap); cap = read_capture("DIR")
    res = fuse(cap, FusionConfig())                                  # FusionResult(mesh world, points, object_to_world)
    views = render_object_views(res.mesh_in_object_frame(), num_views=5, size=64)   # (V, H, W) float32 m

Conventions: depth (V, H, W) float32 metres along the optical z axis, NaN invalid; optical frames z forward, x right,
y down; ``camera_to_world`` (V, 4, 4) = optical frame pose in the world; quaternions xyzw in files.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Capture": "capture", "read_capture": "capture", "write_capture": "capture", "pose_to_json": "capture",
    "pose_from_json": "capture",
    "RigConfig": "rig", "CameraConfig": "rig", "CaptureOptions": "rig", "Transform": "rig", "load_rig": "rig",
    "rig_from_dict": "rig",
    "decode_depth": "depth", "depth_to_metres": "depth", "backproject": "depth", "depth_to_points": "depth",
    "validate_depth": "depth",
    "DepthNoiseConfig": "noise",
    "simulate_capture": "simulate", "ring_rig": "simulate", "resting_pose": "simulate", "SimScene": "simulate",
    "FusionConfig": "fusion", "FusionResult": "fusion", "fuse": "fusion",
    "render_object_views": "views", "view_poses": "views",
    "chamfer": "evaluate", "fused_mesh_in_object_frame": "evaluate", "simulate_and_fuse": "evaluate",
    "SimulatedFusion": "evaluate",
    "BoardConfig": "calibration", "calibrate_extrinsics": "calibration", "estimate_board_pose": "calibration",
    "render_board": "calibration",
    "capture_frames": "realsense", "write_recording": "realsense", "list_devices": "realsense",
    "read_rosbag_capture": "rosbag_import", "write_rosbag_capture": "rosbag_import",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"diffgrasp.perception.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'diffgrasp.perception' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
