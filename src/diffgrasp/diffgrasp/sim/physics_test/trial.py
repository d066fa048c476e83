"""The physics test of one grasp (design notes §7) on a compiled hand–object scene.

Sequence (object frame = world frame, object starts at the identity pose):
1. pre-filter: at the pregrasp (palm pose and joints), any hand–object or hand–hand penetration deeper than
   ``prefilter_penetration_m`` fails the grasp ("prefilter").
2. static metrics at the grasp: deepest hand–object and hand–hand penetration, hand bodies within
   ``contact_distance_m`` of the object, exact Q1 of those contacts (``diffgrasp.losses.q1_exact``).
3. for each direction −x, +x, −y, +y, −z, +z (DexGraspBench's order): reset to the pregrasp; ramp the palm pose
   (mocap) pregrasp → grasp and the joint targets pregrasp → grasp over ``ramp_grasp_s``, then the targets
   grasp → squeeze over ``ramp_squeeze_s``; push the object with ``disturbance_force`` N along the direction (fixed in
   the object's initial frame, at its centre of mass) for ``push_s``. The object must stay within
   ``max_displacement_m`` (its frame origin) and ``max_rotation_deg`` (angle of its quaternion, using |w|) of its start.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

from diffgrasp.geometry.rotations import quaternion_angle_wxyz, xyzw_to_wxyz
from diffgrasp.grasps import Grasp, resolved_phases
from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp.losses.q1_exact import exact_q1
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
from diffgrasp.sim.physics_test.hand_scene import SceneIndex

DIRECTIONS: tuple[tuple[str, np.ndarray], ...] = tuple(
    (f"{s}{a}", v * np.eye(3)[i]) for i, a in enumerate("xyz") for s, v in (("-", -1.0), ("+", 1.0)))


@dataclasses.dataclass(frozen=True)
class Phases:
    """Palm poses (object frame; position m, quaternion wxyz) and 22 finger joints (rad, canonical order)."""

    pregrasp_position: np.ndarray
    pregrasp_quat_wxyz: np.ndarray
    pregrasp_joints: np.ndarray
    grasp_position: np.ndarray
    grasp_quat_wxyz: np.ndarray
    grasp_joints: np.ndarray
    squeeze_joints: np.ndarray

    @classmethod
    def from_grasp(cls, grasp: Grasp) -> Phases:
        """Phases of a grasp; missing pregrasp/squeeze follow the §7 default (diffgrasp.grasps.resolved_phases)."""
        ph = resolved_phases(grasp)
        vec = lambda m: np.array([m[n] for n in FINGER_JOINT_NAMES], dtype=float)  # noqa: E731
        return cls(
            pregrasp_position=np.asarray(ph["pregrasp_palm_position"], float),
            pregrasp_quat_wxyz=np.asarray(xyzw_to_wxyz(np.asarray(ph["pregrasp_palm_quaternion_xyzw"], float))),
            pregrasp_joints=vec(ph["pregrasp_joints"]),
            grasp_position=np.asarray(grasp.palm_position, float),
            grasp_quat_wxyz=np.asarray(xyzw_to_wxyz(np.asarray(grasp.palm_quaternion_xyzw, float))),
            grasp_joints=vec(ph["joints"]), squeeze_joints=vec(ph["squeeze_joints"]))


@dataclasses.dataclass
class GraspTestResult:
    """Outcome of one grasp. failed_direction: None (passed), "prefilter" or the first failing push ("-x", ...).

    displacement_m / rotation_deg: the largest over the pushes run; per_direction: direction → (m, deg).
    settle_*: the object's motion at the end of the squeeze ramp, before any force (large: the closing ejects it).
    Penetrations are depths ≥ 0 in m; contact_bodies: hand bodies within contact_distance_m at the grasp.
    """

    passed: bool
    failed_direction: str | None
    displacement_m: float
    rotation_deg: float
    per_direction: dict[str, tuple[float, float]]
    penetration_m: float
    self_penetration_m: float
    pregrasp_penetration_m: float
    pregrasp_self_penetration_m: float
    contact_count: int
    contact_bodies: list[str]
    q1_exact: float | None
    settle_displacement_m: float = math.nan   # object motion caused by closing + squeezing alone (max over runs)
    settle_rotation_deg: float = math.nan


def slerp_wxyz(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation of unit quaternions (4,) wxyz, shortest path, t in [0, 1]."""
    q0, q1 = np.asarray(q0, float), np.asarray(q1, float)
    dot = float(q0 @ q1)
    if dot < 0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = q0 + t * (q1 - q0)
    else:
        theta = math.acos(dot)
        q = (math.sin((1 - t) * theta) * q0 + math.sin(t * theta) * q1) / math.sin(theta)
    return q / np.linalg.norm(q)


class GraspTester:
    """Runs the §7 test on one compiled scene (immutable model, one mutable MjData reused across grasps)."""

    def __init__(self, model: mujoco.MjModel, index: SceneIndex, config: EvaluateConfig = EvaluateConfig(),
                 torque_scale: float = 0.1):
        """torque_scale: m, the length dividing torques in exact Q1 (evaluate: the object's radius about its COM)."""
        self.model, self.index, self.config = model, index, config
        self.torque_scale = float(torque_scale)
        self.data = mujoco.MjData(model)
        self.is_hand = np.zeros(model.nbody, dtype=bool)
        self.is_hand[index.hand_bodies] = True
        self.object_geom_margin = model.geom_margin[index.object_geoms].copy()

    # --- state ---------------------------------------------------------------------------------------------
    def set_state(self, position: np.ndarray, quat_wxyz: np.ndarray, joints: np.ndarray) -> None:
        """Reset the data: palm (and its mocap) at position (3,) m / quat_wxyz (4,), fingers at joints (22,) rad,
        controls holding them, object at the identity pose at rest; runs mj_forward (contacts up to date)."""
        m, d, ix = self.model, self.data, self.index
        mujoco.mj_resetData(m, d)
        d.qpos[ix.hand_qpos:ix.hand_qpos + 3] = position
        d.qpos[ix.hand_qpos + 3:ix.hand_qpos + 7] = quat_wxyz
        d.qpos[ix.finger_qpos] = joints
        d.qpos[ix.object_qpos:ix.object_qpos + 7] = [0, 0, 0, 1, 0, 0, 0]
        d.mocap_pos[ix.mocap] = position
        d.mocap_quat[ix.mocap] = quat_wxyz
        d.ctrl[:] = ix.ctrl_matrix @ joints
        mujoco.mj_forward(m, d)

    def contacts(self) -> dict[str, np.ndarray]:
        """Contacts of the current state (C of them), vectorised: masks ``ho`` (hand–object), ``hh`` (hand–hand) (C,),
        ``dist`` (C,) m (< 0: penetration), ``pos`` (C, 3), ``inward`` (C, 3) unit normal from hand into object,
        ``hand_body`` (C,) the hand body of the contact (for hand–hand: the first geom's)."""
        m, d = self.model, self.data
        n = d.ncon
        geom = np.asarray(d.contact.geom[:n]).reshape(n, 2)
        body = m.geom_bodyid[geom]
        hand = self.is_hand[body]
        obj = body == self.index.object_body
        ho = (hand[:, 0] & obj[:, 1]) | (hand[:, 1] & obj[:, 0])
        hh = hand[:, 0] & hand[:, 1]
        dist = np.asarray(d.contact.dist[:n])
        normal = np.asarray(d.contact.frame[:n]).reshape(n, 9)[:, :3]
        inward = np.where(hand[:, :1], normal, -normal)  # frame normal points geom1 → geom2; make it hand → object
        hand_body = np.where(hand[:, 0], body[:, 0], body[:, 1])
        return {"ho": ho, "hh": hh, "dist": dist, "pos": np.asarray(d.contact.pos[:n]).reshape(n, 3),
                "inward": inward, "hand_body": hand_body}

    @staticmethod
    def _depth(c: dict[str, np.ndarray], mask: np.ndarray) -> float:
        return float(max(0.0, -c["dist"][mask].min())) if mask.any() else 0.0

    # --- phases --------------------------------------------------------------------------------------------
    def penetration_at(self, position: np.ndarray, quat_wxyz: np.ndarray, joints: np.ndarray) -> tuple[float, float]:
        """(hand–object, hand–hand) penetration depths in m with the palm at position (3,) / quat_wxyz (4,) and the
        fingers at joints (22,) rad (collision detection only, no stepping)."""
        self.set_state(position, quat_wxyz, joints)
        c = self.contacts()
        return self._depth(c, c["ho"]), self._depth(c, c["hh"])

    def prefilter(self, ph: Phases) -> tuple[float, float]:
        """(hand–object, hand–hand) penetration depths in m at the pregrasp."""
        return self.penetration_at(ph.pregrasp_position, ph.pregrasp_quat_wxyz, ph.pregrasp_joints)

    def grasp_metrics(self, ph: Phases) -> dict[str, object]:
        """Penetrations, contact bodies and exact Q1 at the grasp configuration (no simulation)."""
        m, cfg = self.model, self.config
        m.geom_margin[self.index.object_geoms] = cfg.contact_distance_m
        try:
            self.set_state(ph.grasp_position, ph.grasp_quat_wxyz, ph.grasp_joints)
            c = self.contacts()
        finally:
            m.geom_margin[self.index.object_geoms] = self.object_geom_margin
        near = c["ho"] & (c["dist"] < cfg.contact_distance_m)
        bodies = sorted({m.body(int(b)).name for b in np.unique(c["hand_body"][near])})
        # One contact per hand body (its closest), so the hull stays small: ≤ ~18 contacts × 8 cone edges.
        order = np.lexsort((c["dist"][near], c["hand_body"][near]))
        bodies_sorted = c["hand_body"][near][order]
        first = order[np.r_[True, bodies_sorted[1:] != bodies_sorted[:-1]]] if len(order) else order
        q1 = float(exact_q1(c["pos"][near][first], c["inward"][near][first], mu=cfg.friction,
                            torque_scale=self.torque_scale, center=self.index.object_com))
        return {"penetration_m": self._depth(c, c["ho"] & (c["dist"] < 0)),
                "self_penetration_m": self._depth(c, c["hh"]), "contact_bodies": bodies, "q1_exact": q1}

    def _ramp(self, pos0, quat0, q0, pos1, quat1, q1, duration: float) -> None:
        m, d, ix, cfg = self.model, self.data, self.index, self.config
        inner = max(1, round(duration / m.opt.timestep / cfg.ramp_updates))
        c0, c1 = ix.ctrl_matrix @ q0, ix.ctrl_matrix @ q1
        for j in range(1, cfg.ramp_updates + 1):
            t = j / cfg.ramp_updates
            d.mocap_pos[ix.mocap] = (1 - t) * pos0 + t * pos1
            d.mocap_quat[ix.mocap] = slerp_wxyz(quat0, quat1, t)
            d.ctrl[:] = (1 - t) * c0 + t * c1
            mujoco.mj_step(m, d, nstep=inner)

    def object_motion(self) -> tuple[float, float]:
        """(displacement m of the object frame origin, rotation deg) from the identity start; angle uses |w|."""
        q = self.data.qpos[self.index.object_qpos:self.index.object_qpos + 7]
        return float(np.linalg.norm(q[:3])), float(np.degrees(quaternion_angle_wxyz(q[3:])))

    def push(self, ph: Phases, force: np.ndarray) -> tuple[float, float, float, float]:
        """One disturbance run from a reset; returns the final (displacement m, rotation deg), early-stopped, and the
        (displacement m, rotation deg) at the end of the squeeze ramp, before the force (the grasp's own settling)."""
        m, d, ix, cfg = self.model, self.data, self.index, self.config
        self.set_state(ph.pregrasp_position, ph.pregrasp_quat_wxyz, ph.pregrasp_joints)
        self._ramp(ph.pregrasp_position, ph.pregrasp_quat_wxyz, ph.pregrasp_joints,
                   ph.grasp_position, ph.grasp_quat_wxyz, ph.grasp_joints, cfg.ramp_grasp_s)
        self._ramp(ph.grasp_position, ph.grasp_quat_wxyz, ph.grasp_joints,
                   ph.grasp_position, ph.grasp_quat_wxyz, ph.squeeze_joints, cfg.ramp_squeeze_s)
        settle = self.object_motion()
        d.xfrc_applied[ix.object_body, :3] = force
        chunk = max(1, round(cfg.check_interval_s / m.opt.timestep))
        steps = max(1, round(cfg.push_s / m.opt.timestep))
        done = 0
        disp, rot = self.object_motion()
        while done < steps:
            n = min(chunk, steps - done)
            mujoco.mj_step(m, d, nstep=n)
            done += n
            disp, rot = self.object_motion()
            if not np.isfinite(disp) or disp >= cfg.max_displacement_m or rot >= cfg.max_rotation_deg:
                break
        d.xfrc_applied[ix.object_body] = 0.0
        finite = lambda x: x if np.isfinite(x) else math.inf  # noqa: E731
        return finite(disp), finite(rot), finite(settle[0]), finite(settle[1])

    def run(self, ph: Phases) -> GraspTestResult:
        """The whole §7 test of one grasp."""
        cfg = self.config
        pre_ho, pre_hh = self.prefilter(ph)
        metrics = self.grasp_metrics(ph)
        common = dict(pregrasp_penetration_m=pre_ho, pregrasp_self_penetration_m=pre_hh,
                      penetration_m=metrics["penetration_m"], self_penetration_m=metrics["self_penetration_m"],
                      contact_count=len(metrics["contact_bodies"]), contact_bodies=metrics["contact_bodies"],
                      q1_exact=metrics["q1_exact"])
        if max(pre_ho, pre_hh) > cfg.prefilter_penetration_m:
            return GraspTestResult(passed=False, failed_direction="prefilter", displacement_m=math.nan,
                                   rotation_deg=math.nan, per_direction={}, **common)
        per_direction: dict[str, tuple[float, float]] = {}
        settle = [0.0, 0.0]
        failed = None
        for name, unit in DIRECTIONS:
            disp, rot, settle_disp, settle_rot = self.push(ph, cfg.disturbance_force * unit)
            per_direction[name] = (disp, rot)
            settle = [max(settle[0], settle_disp), max(settle[1], settle_rot)]
            if not (disp < cfg.max_displacement_m and rot < cfg.max_rotation_deg) and failed is None:
                failed = name
                if cfg.stop_at_first_failure:
                    break
        return GraspTestResult(passed=failed is None, failed_direction=failed,
                               displacement_m=max(v[0] for v in per_direction.values()),
                               rotation_deg=max(v[1] for v in per_direction.values()),
                               per_direction=per_direction, settle_displacement_m=settle[0],
                               settle_rotation_deg=settle[1], **common)


__all__ = ["DIRECTIONS", "GraspTestResult", "GraspTester", "Phases", "slerp_wxyz"]
