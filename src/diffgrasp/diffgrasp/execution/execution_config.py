"""Execution configuration (frozen dataclasses, mirrored by ``config/execution.yaml``)."""

from __future__ import annotations

import dataclasses

from diffgrasp.sim.robot_scene import RobotSceneConfig


@dataclasses.dataclass(frozen=True)
class IKConfig:
    """Damped least-squares IK of the UR10e flange.

    position_tolerance: m; rotation_tolerance: rad (success thresholds). damping: DLS λ (m). max_step_m: clip on the
    position error per iteration; max_step_rad: clip on the joint step. num_seeds: the reference seed plus random ones.
    """

    position_tolerance: float = 2e-4
    rotation_tolerance: float = 2e-3
    damping: float = 0.02
    max_iterations: int = 150
    max_step_m: float = 0.1
    max_step_rad: float = 0.3
    num_seeds: int = 8


@dataclasses.dataclass(frozen=True)
class ExecutionConfig:
    """MuJoCo execution of a grasp with the UR10e + Shadow hand (metres, radians, seconds).

    Phases: home → pregrasp (joint-space move to a standoff ``pregrasp_distance`` behind the grasp's pregrasp palm
    pose, along palm +y (away from the palmar side) and ``pregrasp_lift`` along world +z) → approach (Cartesian
    straight line in ``approach_steps`` IK waypoints, hand in the approach shape: flexion joints opened a
    further ``approach_open_rad``) → close (approach shape → pregrasp joints, palm to the grasp pose with the grasp
    joints, then the squeeze) → lift (``lift_height`` straight up) → hold (``hold_time``). Success: the object's
    height rose by at least ``success_height`` at the end of the hold and it is still in hand contact.
    ``extra_squeeze_rad`` is added to the flexion joints of the grasp's squeeze targets: the menagerie finger
    actuators (kp 0.5–1 N·m/rad, ±1 N·m) are 5–10× weaker than the physics test's (kp 5, ±3), so the §7 default
    squeeze (+0.1 rad) alone lets a 0.1 kg object slip out during the hold in most approach directions.
    Collision filter (object at its true pose): robot vs table/object and arm vs hand penetration deeper than
    ``collision_tolerance`` at the grasp, the pregrasp, the standoff, along the approach or along the joint move
    rejects a grasp; the hand may touch the object at the pregrasp/grasp up to ``grasp_penetration_tolerance``. If
    the approach shape collides on the path, the fully open hand (flexion joints straight) is tried.
    ``max_joint_jump``: rad between consecutive Cartesian waypoints; ``path_check_step``: largest joint step (rad)
    between collision-checked configurations of the joint move. If the direct joint move to the standoff collides,
    the arm moves in joint space to a via point ``via_height`` above the standoff and descends in a straight line.
    The joint move takes ``move_time`` or longer, so that no joint's peak speed exceeds ``max_joint_speed`` (rad/s;
    smoothstep peak = 1.5 × mean).
    Rendering: a frame every ``render_every`` s of simulated time at ``render_size`` (width, height); shadows cost
    ~3× the time on a software renderer. ``convex_decomposition``: the simulated object's collision geometry is the
    CoACD decomposition (``diffgrasp.geometry.convex_decomposition``, cached) instead of the convex hull.
    ``max_candidates``: grasps examined (best first).
    """

    scene: RobotSceneConfig = RobotSceneConfig()
    ik: IKConfig = IKConfig()
    pregrasp_distance: float = 0.08
    pregrasp_lift: float = 0.02
    approach_steps: int = 12
    approach_open_rad: float = 0.3
    extra_squeeze_rad: float = 0.2
    lift_height: float = 0.10
    success_height: float = 0.08
    hold_time: float = 2.0
    settle_time: float = 0.3
    move_time: float = 2.0
    max_joint_speed: float = 1.0
    approach_time: float = 1.2
    preshape_time: float = 0.4
    grasp_time: float = 0.5
    squeeze_time: float = 0.5
    lift_time: float = 1.5
    collision_tolerance: float = 0.002
    grasp_penetration_tolerance: float = 0.01
    max_joint_jump: float = 0.5
    path_check_step: float = 0.05
    via_height: float = 0.15
    max_candidates: int = 32
    convex_decomposition: bool = True
    render_every: float = 0.25
    stop_time: float = 0.5
    render_size: tuple[int, int] = (480, 360)
    render_shadows: bool = False

    def __post_init__(self) -> None:
        if not self.render_every > 0 or len(self.render_size) != 2 or min(self.render_size) < 16:
            raise ValueError(f"execution: render_every must be > 0 and render_size (width, height) >= 16 px, got "
                             f"{self.render_every}, {list(self.render_size)}")


__all__ = ["ExecutionConfig", "IKConfig"]
