"""Configuration of the physics test (design notes §7); mirrored by ``config/evaluate.yaml``."""

from __future__ import annotations

import dataclasses

from diffgrasp.geometry.convex_decomposition import CoacdConfig
from diffgrasp.sim.physics_test.scene_params import SceneParams


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    """Numbers of the DexGraspBench "fc" test (§7). Units: s, m, N, kg, deg.

    timestep: simulation step (implicitfast integrator, elliptic cones). impratio: friction/normal impedance ratio.
    noslip_iterations: MuJoCo no-slip solver passes (DexGraspBench uses 2). friction / torsional_friction: every
    colliding geom (condim 4). object_mass: the object's mass, uniform density. kp / force_limit: every hand actuator.
    disturbance_force: the push on the object (object frame, at its centre of mass), one run per ±x, ±y, ±z.
    ramp_grasp_s / ramp_squeeze_s: linear ramps of the joint targets (and of the palm pose, pregrasp → grasp) in
    ``ramp_updates`` control updates each. push_s: push duration, checked every ``check_interval_s``.
    max_displacement_m / max_rotation_deg: pass thresholds (object frame origin, rotation angle with |w|).
    prefilter_penetration_m: hand–object or hand–hand penetration at the pregrasp that rejects a grasp outright.
    contact_distance_m: a hand body within this distance of the object counts as a contact (and feeds exact Q1).
    stop_at_first_failure: skip the remaining directions once one fails (the verdict is the same; faster).
    """

    timestep: float = 0.004
    impratio: float = 10.0
    noslip_iterations: int = 2
    friction: float = 0.6
    torsional_friction: float = 0.02
    object_mass: float = 0.1
    kp: float = 5.0
    force_limit: float = 3.0
    disturbance_force: float = 1.0
    ramp_grasp_s: float = 0.4
    ramp_squeeze_s: float = 0.4
    ramp_updates: int = 10
    push_s: float = 2.0
    check_interval_s: float = 0.2
    max_displacement_m: float = 0.05
    max_rotation_deg: float = 15.0
    prefilter_penetration_m: float = 0.01
    contact_distance_m: float = 0.002
    stop_at_first_failure: bool = True
    coacd: CoacdConfig = dataclasses.field(default_factory=CoacdConfig)

    def __post_init__(self) -> None:
        for name in ("timestep", "friction", "object_mass", "kp", "force_limit", "ramp_grasp_s", "ramp_squeeze_s",
                     "push_s", "check_interval_s", "max_displacement_m", "max_rotation_deg"):
            if not getattr(self, name) > 0:
                raise ValueError(f"EvaluateConfig.{name}: must be positive, got {getattr(self, name)!r}")
        if self.ramp_updates < 1:
            raise ValueError(f"EvaluateConfig.ramp_updates: must be ≥ 1, got {self.ramp_updates}")

    def scene_params(self) -> SceneParams:
        return SceneParams(**{f.name: getattr(self, f.name) for f in dataclasses.fields(SceneParams)})


__all__ = ["EvaluateConfig"]
