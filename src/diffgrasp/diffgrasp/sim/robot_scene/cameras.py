"""Cameras of the robot scene: the calibrated rig (``config/cameras_sim.yaml``, read by the perception rig loader)
and a fixed overview camera for execution frames."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from diffgrasp.perception.rig import load_rig
from diffgrasp.sim.robot_scene.world import quat_wxyz_from_matrix

OVERVIEW_CAMERA = "overview"


def load_camera_poses(path: str | Path) -> dict[str, tuple[np.ndarray, float]]:
    """Camera name → (camera_to_world (4, 4) in the ROS optical convention, vertical field of view deg) from a
    calibration YAML (``config/cameras_sim.yaml``, ``diffgrasp.perception.rig.load_rig``); {} when it is absent."""
    path = Path(path)
    if not path.is_file():
        return {}
    out: dict[str, tuple[np.ndarray, float]] = {}
    for cam in load_rig(path).cameras:
        fovy = 58.0 if isinstance(cam.intrinsics, str) else float(
            np.degrees(2.0 * np.arctan(0.5 * cam.height / cam.intrinsics[1])))
        out[cam.name] = (cam.camera_to_world(), fovy)
    return out


def add_cameras(spec: mujoco.MjSpec, cameras: dict[str, tuple[np.ndarray, float]]) -> None:
    """The calibrated cameras (name → (camera_to_world (4, 4), ROS optical convention; fovy deg), as from
    :func:`load_camera_poses`) and the overview camera ``OVERVIEW_CAMERA``."""
    optical_to_mujoco = np.diag([1.0, -1.0, -1.0])  # MuJoCo cameras look along −z with y up
    for name, (cam_to_world, fovy) in cameras.items():
        rot = cam_to_world[:3, :3] @ optical_to_mujoco
        spec.worldbody.add_camera(name=name, pos=cam_to_world[:3, 3], quat=quat_wxyz_from_matrix(rot), fovy=fovy)
    # Overview camera for execution frames: front-right of the table, looking at the table centre.
    eye, target = np.array([0.6, -1.1, 0.95]), np.array([-0.2, 0.0, 0.3])
    fwd = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    quat = quat_wxyz_from_matrix(np.stack([right, up, -fwd], 1))
    spec.worldbody.add_camera(name=OVERVIEW_CAMERA, pos=eye, quat=quat, fovy=45.0)


__all__ = ["OVERVIEW_CAMERA", "add_cameras", "load_camera_poses"]
