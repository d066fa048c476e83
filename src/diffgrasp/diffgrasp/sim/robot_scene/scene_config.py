"""Names, home pose and configuration of the robot scene (frames: see ``diffgrasp.sim.robot_scene``)."""

from __future__ import annotations

import dataclasses

ARM_JOINT_NAMES: tuple[str, ...] = (
    "shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint", "wrist_2_joint", "wrist_3_joint",
)
"""The six UR10e joints in chain order (= qpos order in the scene)."""

ARM_ACTUATOR_NAMES: tuple[str, ...] = ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3")
FLANGE_SITE = "attachment_site"
OBJECT_BODY = "object"
OBJECT_JOINT = "object_free"
TABLE_GEOM = "table"
ARM_HOME: tuple[float, ...] = (0.0, -1.5708, 1.5708, -1.5708, -1.5708, 0.0)
"""Home joint angles (rad): the menagerie keyframe with the base turned so the arm faces +x (the table centre)."""


@dataclasses.dataclass(frozen=True)
class RobotSceneConfig:
    """Geometry and physics of the embedded scene (metres, radians, seconds, kilograms).

    base_position / base_yaw: UR10e base frame in world (yaw about z; 0 makes the home pose reach along +x).
    table_center / table_half_size: the table box; its top face is at z = 0.
    timestep: simulation step (s). gravity_compensation: arm and hand bodies are gravity compensated (as a real
    controller would), so position targets are held without sag.
    object_mass: kg (used when object_density is None); object_density: kg/m³ (mass = volume × density).
    friction: sliding friction of the object and table geoms; the hand keeps its menagerie values.
    hand_kp / hand_force_limit: gain (N·m/rad) and force limit (N·m) of the 18 finger/thumb position actuators
    (wrist untouched); None keeps the menagerie values (kp 0.4–1.5, ±1–3 N·m). The physics test of the design
    notes (§7) uses kp 5, ±3.
    """

    base_position: tuple[float, float, float] = (-0.65, 0.0, 0.0)
    base_yaw: float = 0.0
    table_center: tuple[float, float] = (-0.2, 0.0)
    table_half_size: tuple[float, float, float] = (0.75, 0.6, 0.02)
    timestep: float = 0.002
    gravity_compensation: bool = True
    object_mass: float = 0.1
    object_density: float | None = None
    friction: float = 1.0
    home: tuple[float, ...] = ARM_HOME
    hand_kp: float | None = None
    hand_force_limit: float | None = None


__all__ = ["ARM_ACTUATOR_NAMES", "ARM_HOME", "ARM_JOINT_NAMES", "FLANGE_SITE", "OBJECT_BODY", "OBJECT_JOINT",
           "TABLE_GEOM", "RobotSceneConfig"]
