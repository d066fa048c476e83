"""Batched closing-and-squeeze rollouts of the physics-test scene: how far each grasp moves the object by itself.

The §7 test resets every grasp to its pregrasp, ramps the palm and joint targets pregrasp → grasp → squeeze and only
then pushes. A grasp whose own closing already shoves or twists the object rarely survives the pushes (on planned
grasps of the val split, ranking by this motion alone lifted the passing share of the top 16 from 31 % to 58 %), so
the planner ranks by it (design notes §6: "rank by exact Q1 and physics plausibility").

All grasps run at once through ``mujoco.rollout`` (C threads, no Python loop over grasps or steps); the controls
reproduce ``GraspTester._ramp`` exactly (``ramp_updates`` piecewise-constant updates per ramp, palm pose by slerp),
so the end state matches ``GraspTester.push``'s settle measurement (tested).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import mujoco
import numpy as np
from mujoco import rollout
from scipy.spatial.transform import Rotation

from diffgrasp.geometry.rotations import quaternion_angle_wxyz, wxyz_to_xyzw, xyzw_to_wxyz
from diffgrasp.grasps import Grasp
from diffgrasp.planning.scoring import PushStop
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
from diffgrasp.sim.physics_test.hand_scene import SceneIndex
from diffgrasp.sim.physics_test.trial import DIRECTIONS, GraspTester, Phases

PHASE_KEYS = ("pregrasp_position", "pregrasp_quat_wxyz", "pregrasp_joints", "grasp_position", "grasp_quat_wxyz",
              "grasp_joints", "squeeze_joints")

_CONTROL_SPEC = int(mujoco.mjtState.mjSTATE_CTRL | mujoco.mjtState.mjSTATE_MOCAP_POS
                    | mujoco.mjtState.mjSTATE_MOCAP_QUAT)
_INITIAL_SPEC = int(mujoco.mjtState.mjSTATE_FULLPHYSICS)


def _slerp_wxyz(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Shortest-path slerp of quaternions q0, q1 (N, 4) wxyz at fractions t (T,) → (N, T, 4) wxyz."""
    r0 = Rotation.from_quat(wxyz_to_xyzw(q0))
    delta = (r0.inv() * Rotation.from_quat(wxyz_to_xyzw(q1))).as_rotvec()  # (N, 3), angle ≤ π
    out = np.empty((len(q0), len(t), 4))
    for j, tj in enumerate(t):  # T = ramp_updates (10): a loop over ramp points, each vectorised over grasps
        xyzw = (r0 * Rotation.from_rotvec(tj * delta)).as_quat()
        out[:, j] = xyzw_to_wxyz(xyzw)
    return out


class SettleSimulator:
    """Closing + squeeze of many grasps in one compiled §7 scene; reports the object's motion per grasp."""

    def __init__(self, model: mujoco.MjModel, index: SceneIndex, config: EvaluateConfig = EvaluateConfig(),
                 threads: int = 0) -> None:
        """threads: rollout threads (0: every CPU core); results do not depend on it."""
        self.model, self.index, self.config = model, index, config
        threads = threads or os.cpu_count() or 1
        self._data = [mujoco.MjData(model) for _ in range(threads)]
        data = self._data[0]
        mujoco.mj_resetData(model, data)
        size = mujoco.mj_stateSize(model, _INITIAL_SPEC)
        self._template = np.empty(size)
        mujoco.mj_getState(model, data, self._template, _INITIAL_SPEC)
        # Offsets inside the state vectors follow the mjtState bit order (time, qpos, ...; ctrl, ..., mocap).
        self._qpos0 = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_TIME)
        self._nctrl = mujoco.mj_stateSize(model, _CONTROL_SPEC)
        nmocap_pos = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_MOCAP_POS)
        self._mocap_pos0 = model.nu
        self._mocap_quat0 = model.nu + nmocap_pos

    @property
    def prefilter_penetration_m(self) -> float:
        """The physics test's pre-filter: a pregrasp deeper than this in the object (or itself) fails outright."""
        return self.config.prefilter_penetration_m

    @staticmethod
    def phase_arrays(grasps: list[Grasp]) -> dict[str, np.ndarray]:
        """The phases of grasps (pregrasp/squeeze per §7 when unset) as ``settle``'s arrays: positions (N, 3),
        quaternions (N, 4) wxyz, joints (N, 22)."""
        phases = [Phases.from_grasp(g) for g in grasps]  # a few dozen grasps: conversion only, the rollouts batch
        return {name: np.stack([getattr(p, name) for p in phases]) if phases else np.zeros((0, 22))
                for name in PHASE_KEYS}

    def _ramp_controls(self, pos0, quat0, q0, pos1, quat1, q1, duration: float) -> np.ndarray:
        """(N, steps, nctrl) controls of one ramp, as GraspTester._ramp sets them."""
        cfg, ix, m = self.config, self.index, self.model
        updates = cfg.ramp_updates
        inner = max(1, round(duration / m.opt.timestep / updates))
        t = np.arange(1, updates + 1) / updates  # (U,)
        ctrl0, ctrl1 = q0 @ ix.ctrl_matrix.T, q1 @ ix.ctrl_matrix.T  # (N, nu)
        n = len(q0)
        per_update = np.zeros((n, updates, self._nctrl))
        per_update[:, :, :m.nu] = (1 - t)[None, :, None] * ctrl0[:, None] + t[None, :, None] * ctrl1[:, None]
        mp = slice(self._mocap_pos0 + 3 * ix.mocap, self._mocap_pos0 + 3 * ix.mocap + 3)
        mq = slice(self._mocap_quat0 + 4 * ix.mocap, self._mocap_quat0 + 4 * ix.mocap + 4)
        per_update[:, :, mp] = (1 - t)[None, :, None] * pos0[:, None] + t[None, :, None] * pos1[:, None]
        per_update[:, :, mq] = _slerp_wxyz(quat0, quat1, t)
        return np.repeat(per_update, inner, axis=1)

    def settle(self, pregrasp_position: np.ndarray, pregrasp_quat_wxyz: np.ndarray, pregrasp_joints: np.ndarray,
               grasp_position: np.ndarray, grasp_quat_wxyz: np.ndarray, grasp_joints: np.ndarray,
               squeeze_joints: np.ndarray, push_s: float = 0.0,
               push_filter: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
               push_stop: PushStop | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Object displacement (N,) m and rotation (N,) deg, from the identity start, at the end of the squeeze ramp
        (``push_s`` = 0) or, with ``push_s`` > 0, the worst over the settle and six pushes (±x, ±y, ±z, the test's
        force, fixed in the object's start frame) of ``push_s`` seconds each from the squeezed state.
        push_filter(displacement, rotation) → (N,) bool: push only those grasps (the others report the settle
        motion, a lower bound: for grasps already out of the running, the pushes are almost half the steps).
        push_stop: pushes whose outcome is decided end early (see PushStop; the test's failure thresholds are this
        simulator's ``config``'s).

        Positions (N, 3) m and quaternions (N, 4) wxyz in the object frame; joints (N, 22) rad, canonical order.
        An unstable simulation reports inf.
        """
        ix = self.index
        n = len(grasp_joints)
        if n == 0:
            return np.zeros(0), np.zeros(0)
        state = np.repeat(self._template[None], n, axis=0)
        qpos = self._qpos0
        state[:, qpos + ix.hand_qpos:qpos + ix.hand_qpos + 3] = pregrasp_position
        state[:, qpos + ix.hand_qpos + 3:qpos + ix.hand_qpos + 7] = pregrasp_quat_wxyz
        state[:, qpos + np.asarray(ix.finger_qpos)] = pregrasp_joints
        state[:, qpos + ix.object_qpos:qpos + ix.object_qpos + 7] = [0, 0, 0, 1, 0, 0, 0]
        cfg = self.config
        control = np.concatenate([
            self._ramp_controls(pregrasp_position, pregrasp_quat_wxyz, pregrasp_joints,
                                grasp_position, grasp_quat_wxyz, grasp_joints, cfg.ramp_grasp_s),
            self._ramp_controls(grasp_position, grasp_quat_wxyz, grasp_joints,
                                grasp_position, grasp_quat_wxyz, squeeze_joints, cfg.ramp_squeeze_s)], axis=1)
        out, _ = rollout.rollout(self.model, self._data, state, control, control_spec=_CONTROL_SPEC)
        displacement, rotation = self._object_motion(out[:, -1])
        if push_s > 0:
            pushed = np.ones(n, bool) if push_filter is None else np.asarray(push_filter(displacement, rotation), bool)
            if pushed.any():
                push_disp, push_rot = self._push(out[pushed, -1], control[pushed, -1], push_s, push_stop)
                displacement[pushed] = np.maximum(displacement[pushed], push_disp)
                rotation[pushed] = np.maximum(rotation[pushed], push_rot)
        return displacement, rotation

    def _push(self, squeezed: np.ndarray, hold: np.ndarray, push_s: float, stop: PushStop | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Six pushes of ``push_s`` s from the squeezed states (N, nstate) holding the last controls (N, nctrl);
        → worst displacement (N,) m and rotation (N,) deg over the pushes and their steps (with ``stop``, over the
        steps run: decided pushes end early, in whole checks; at rest is judged over the last two checks)."""
        m, ix = self.model, self.index
        n, d = len(squeezed), len(DIRECTIONS)
        spec = _CONTROL_SPEC | int(mujoco.mjtState.mjSTATE_XFRC_APPLIED)
        control = np.zeros((n, d, mujoco.mj_stateSize(m, spec)))
        xfrc = m.nu  # the mjtState order: ctrl, xfrc_applied (nbody × 6), mocap_pos, mocap_quat
        control[:, :, :m.nu] = hold[:, None, :m.nu]
        control[:, :, xfrc + 6 * m.nbody:] = hold[:, None, m.nu:]
        force = self.config.disturbance_force * np.array([v for _, v in DIRECTIONS])  # (6, 3)
        control[:, :, xfrc + 6 * ix.object_body:xfrc + 6 * ix.object_body + 3] = force[None]
        control = control.reshape(n * d, 1, -1)
        state = np.repeat(squeezed, d, axis=0)
        steps = max(1, round(push_s / m.opt.timestep))
        check = steps if stop is None else max(1, round(stop.check_s / m.opt.timestep))
        worst_d, worst_r = np.zeros(n * d), np.zeros(n * d)
        earlier = state.copy()  # each push's state one check before the current one
        active, done = np.arange(n * d), 0
        while done < steps and len(active):
            nstep = min(check, steps - done)
            out, _ = rollout.rollout(self.model, self._data, state[active], control[active], control_spec=spec,
                                     nstep=nstep)
            displacement, rotation = self._object_motion(out)  # (A, nstep)
            worst_d[active] = np.maximum(worst_d[active], displacement.max(1))
            worst_r[active] = np.maximum(worst_r[active], rotation.max(1))
            if stop is not None and done + nstep < steps:
                # at rest: over the last two checks, slow enough that the rest of the push adds < rest_score
                rest = self._move_score(earlier[active], out[:, -1], stop) * (steps - done - nstep) / (nstep + check)
                failed = ((worst_d >= self.config.max_displacement_m) | (worst_r >= self.config.max_rotation_deg)
                          ).reshape(n, d).any(1)  # inf (unstable) fails too
                keep = ~failed[active // d] & ~((done > 0) & (rest < stop.rest_score))
                earlier[active] = state[active]
                state[active] = out[:, -1]
                active = active[keep]
            done += nstep
        return worst_d.reshape(n, d).max(1), worst_r.reshape(n, d).max(1)

    def _move_score(self, before: np.ndarray, after: np.ndarray, stop: PushStop) -> np.ndarray:
        """(A,) the motion score of the object's move between two states (A, nstate): displacement / its scale +
        rotation / its scale (inf when not finite)."""
        at = self._qpos0 + self.index.object_qpos
        p0, p1 = before[:, at:at + 3], after[:, at:at + 3]
        q0, q1 = before[:, at + 3:at + 7], after[:, at + 3:at + 7]
        with np.errstate(invalid="ignore"):
            cos = np.abs((q0 * q1).sum(1)) / (np.linalg.norm(q0, axis=1) * np.linalg.norm(q1, axis=1))
            turn = np.degrees(2.0 * np.arccos(np.clip(cos, 0.0, 1.0)))
            score = np.linalg.norm(p1 - p0, axis=1) / stop.displacement_scale_m + turn / stop.rotation_scale_deg
        return np.where(np.isfinite(score), score, np.inf)

    def pregrasp_penetration(self, pregrasp_position: np.ndarray, pregrasp_quat_wxyz: np.ndarray,
                             pregrasp_joints: np.ndarray) -> np.ndarray:
        """(N,) m: the deepest hand–object or hand–hand penetration at each pregrasp, as the §7 pre-filter measures
        it (on the convex pieces: for concave objects they reach beyond the mesh). Positions (N, 3), quaternions
        (N, 4) wxyz, joints (N, 22) rad."""
        tester = GraspTester(self.model, self.index, self.config)
        # one mj_forward per grasp (µs each; the rollouts that follow take seconds)
        return np.array([max(tester.penetration_at(p, q, j))
                         for p, q, j in zip(pregrasp_position, pregrasp_quat_wxyz, pregrasp_joints, strict=True)])

    def _object_motion(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """States (..., nstate) → object displacement (...) m and rotation (...) deg; non-finite → inf."""
        at = self._qpos0 + self.index.object_qpos
        pose = states[..., at:at + 7]
        with np.errstate(invalid="ignore", divide="ignore"):
            displacement = np.linalg.norm(pose[..., :3], axis=-1)
            quat = pose[..., 3:] / np.linalg.norm(pose[..., 3:], axis=-1, keepdims=True)
            rotation = np.degrees(quaternion_angle_wxyz(quat))
        bad = ~(np.isfinite(displacement) & np.isfinite(rotation))
        displacement[bad] = np.inf
        rotation[bad] = np.inf
        return displacement, rotation


__all__ = ["SettleSimulator"]
