"""Helpers shared by the robot description tests (urdf/, config/moveit/, config/ros2_controllers.yaml).

Imported by the test modules as ``description_helpers`` (pytest puts this folder on sys.path)."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import mujoco
import numpy as np

REPO = Path(__file__).resolve().parents[4]
URDF_DIR = REPO / "urdf"
MOVEIT_DIR = REPO / "config" / "moveit"
DATA_DIR = REPO / "src" / "diffgrasp" / "diffgrasp" / "data"
PACKAGE_PREFIX = "package://diffgrasp/"
ARM_JOINTS = ("shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint", "wrist_2_joint",
              "wrist_3_joint")


def resolve_package(uri: str) -> str:
    """package://diffgrasp/<rel> → the packaged data file (share/diffgrasp/<rel> once installed)."""
    if not uri.startswith(PACKAGE_PREFIX):
        raise ValueError(f"unexpected mesh URI {uri!r}")
    return str(DATA_DIR / uri[len(PACKAGE_PREFIX):])


def load_script(name: str):
    """Import scripts/<name>.py as a module."""
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(REPO / "scripts"))
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_urdf(path: Path):
    import yourdfpy

    return yourdfpy.URDF.load(str(path), filename_handler=resolve_package, load_meshes=False,
                              build_collision_scene_graph=False)


def body_pose(model: mujoco.MjModel, data: mujoco.MjData, name: str) -> np.ndarray:
    """(4, 4) world pose of a MuJoCo body after kinematics."""
    b = model.body(name).id
    pose = np.eye(4)
    pose[:3, :3] = data.xmat[b].reshape(3, 3)
    pose[:3, 3] = data.xpos[b]
    return pose


def pose_from(pos, quat_wxyz) -> np.ndarray:
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat_wxyz, dtype=float))
    pose = np.eye(4)
    pose[:3, :3] = mat.reshape(3, 3)
    pose[:3, 3] = pos
    return pose


def arm_hand_mujoco() -> mujoco.MjModel:
    """UR10e with the hand on attachment_site (rh_forearm at identity, the contract's mount), base at the origin."""
    from diffgrasp.data import shadow_hand_mjcf, ur10e_mjcf

    arm = mujoco.MjSpec.from_file(str(ur10e_mjcf()))
    hand = mujoco.MjSpec.from_file(str(shadow_hand_mjcf()))
    forearm = hand.body("rh_forearm")
    forearm.pos, forearm.quat = [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]
    arm.attach(hand, site=arm.site("attachment_site"), prefix="hand/")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "attach conflict: impratio" (irrelevant for kinematics)
        return arm.compile()
