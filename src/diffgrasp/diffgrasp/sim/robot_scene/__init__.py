"""The embedded robot scene: table, UR10e with the Shadow hand on its flange, one object, cameras (MjSpec).

Frames: ``world`` has z up and the table top at z = 0. The arm base sits at ``RobotSceneConfig.base_position`` /
``base_yaw``. The hand's ``rh_forearm`` frame coincides with the UR10e flange site ``attachment_site`` (identity
rotation, zero offset: the contract's ``rh_mount``), so the flange z axis points along the forearm z axis.
The object body's frame is the object mesh file's own frame, placed at ``object_pose_world`` (4, 4).

Actuators: the menagerie position actuators of the arm (``shoulder_pan`` … ``wrist_3``) and of the hand
(``rh_A_*``; the ``rh_A_{FF,MF,RF,LF}J0`` tendon actuators take the SUM J1 + J2 as their target).

Modules: ``scene_config`` (names, home pose, ``RobotSceneConfig``), ``assets`` (the packaged arm and hand made
attachable), ``world`` (table, object, resting pose), ``cameras`` (calibrated rig + overview camera), ``scene``
(``build_robot_spec``, ``compile_robot_scene``, ``RobotScene``). Their public names are re-exported here.
"""

from __future__ import annotations

from diffgrasp.sim.robot_scene.cameras import OVERVIEW_CAMERA, load_camera_poses
from diffgrasp.sim.robot_scene.scene import RobotScene, build_robot_scene, build_robot_spec, compile_robot_scene
from diffgrasp.sim.robot_scene.scene_config import (
    ARM_ACTUATOR_NAMES,
    ARM_HOME,
    ARM_JOINT_NAMES,
    FLANGE_SITE,
    OBJECT_BODY,
    RobotSceneConfig,
)
from diffgrasp.sim.robot_scene.world import resting_pose

__all__ = [
    "ARM_ACTUATOR_NAMES", "ARM_HOME", "ARM_JOINT_NAMES", "FLANGE_SITE", "OBJECT_BODY", "OVERVIEW_CAMERA",
    "RobotScene", "RobotSceneConfig", "build_robot_scene", "build_robot_spec", "compile_robot_scene",
    "load_camera_poses", "resting_pose",
]
