"""The packaged robot models made ready to attach into the robot scene: the UR10e (menagerie) and the Shadow hand
(its ``rh_forearm`` frame reset to the mount, assets renamed), the hand's actuator gains, and a guard that keeps
MuJoCo quiet about prefix-free attaching."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import mujoco

from diffgrasp.data import shadow_hand_mjcf, ur10e_mjcf
from diffgrasp.sim.robot_scene.scene_config import RobotSceneConfig


@contextlib.contextmanager
def quiet_empty_prefix() -> Iterator[None]:
    """Swallow MuJoCo's "empty prefix" attach warning (our names are unique); pass other warnings on."""
    previous = mujoco.get_mju_user_warning()

    def handler(message: str) -> None:
        if "empty prefix" not in message:
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(handler)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Attaching a spec with an empty prefix")
            yield
    finally:
        mujoco.set_mju_user_warning(previous)


def arm_spec() -> mujoco.MjSpec:
    """The packaged UR10e without its lights (the scene has its own)."""
    arm = mujoco.MjSpec.from_file(str(ur10e_mjcf()))
    for light in arm.lights:
        arm.delete(light)
    return arm


def hand_spec() -> mujoco.MjSpec:
    """The packaged hand with its forearm frame reset to identity (the mount) and assets renamed to avoid clashes."""
    hand = mujoco.MjSpec.from_file(str(shadow_hand_mjcf()))
    forearm = hand.body("rh_forearm")
    forearm.pos = [0.0, 0.0, 0.0]
    forearm.quat = [1.0, 0.0, 0.0, 0.0]
    renamed = {}
    for mesh in hand.meshes:
        renamed[mesh.name] = "rh_" + mesh.name
        mesh.name = "rh_" + mesh.name
    materials = {}
    for mat in hand.materials:
        materials[mat.name] = "rh_" + mat.name
        mat.name = "rh_" + mat.name
    for geom in hand.geoms:
        if geom.meshname in renamed:
            geom.meshname = renamed[geom.meshname]
        if geom.material in materials:
            geom.material = materials[geom.material]
    for default in hand.defaults if hasattr(hand, "defaults") else []:
        if default.geom.material in materials:
            default.geom.material = materials[default.geom.material]
    return hand


def set_hand_gains(spec: mujoco.MjSpec, config: RobotSceneConfig) -> None:
    """Gain and force limit of the finger/thumb actuators (``rh_A_*`` but the wrist) from ``config`` (None: keep)."""
    for act in spec.actuators:
        if not act.name.startswith("rh_A_") or act.name.startswith("rh_A_WR"):
            continue
        if config.hand_kp is not None:
            act.gainprm[0] = config.hand_kp
            act.biasprm[1] = -config.hand_kp
        if config.hand_force_limit is not None:
            act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
            act.forcerange = [-config.hand_force_limit, config.hand_force_limit]


__all__ = ["arm_spec", "hand_spec", "quiet_empty_prefix", "set_hand_gains"]
