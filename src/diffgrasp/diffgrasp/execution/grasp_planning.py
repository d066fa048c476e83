"""Reachability and collision filter: ranked grasps → the best feasible grasp as timed segments (:class:`GraspPlan`).

Flange targets: T_world_flange = T_world_obj · T_obj_palm · inv(T_forearm_palm(wrist joints)), with the mount
rh_forearm = flange. IK is batched over all candidates (standoff: multi-seed; Cartesian waypoints: continuation
from the previous waypoint). Collision checks run MuJoCo's collision detection on a scratch ``MjData``.
"""

from __future__ import annotations

from collections.abc import Sequence

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from diffgrasp.execution.backend import CandidateReport, GraspPlan, Segment
from diffgrasp.execution.execution_config import ExecutionConfig
from diffgrasp.execution.ik import SerialChain, solve_dls, solve_ik
from diffgrasp.grasp_phases import backoff_offset, pregrasp_joints, squeeze_joints
from diffgrasp.grasps import Grasp, resolved_phases
from diffgrasp.hand.names import COUPLED_FINGERS, FLEXION_JOINT_NAMES, JOINT_LIMITS, JOINT_NAMES, WRIST_JOINT_NAMES
from diffgrasp.sim.robot_scene import ARM_JOINT_NAMES, FLANGE_SITE, RobotScene

OTHER, ARM, HAND, TABLE, OBJECT = range(5)
_FLEX = np.array([JOINT_NAMES.index(n) for n in FLEXION_JOINT_NAMES])
_LOWER = np.array([JOINT_LIMITS[n][0] for n in JOINT_NAMES])
_J12 = np.array([[JOINT_NAMES.index(f"rh_{f}J1"), JOINT_NAMES.index(f"rh_{f}J2")] for f in COUPLED_FINGERS])


def _pose(position: np.ndarray, quat_xyzw: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = Rotation.from_quat(quat_xyzw).as_matrix()
    out[:3, 3] = position
    return out


def _hand_vector(joints: dict[str, float]) -> np.ndarray:
    """(24,) canonical-order vector; missing wrist joints are 0."""
    return np.array([joints.get(n, 0.0) if n in WRIST_JOINT_NAMES else joints[n] for n in JOINT_NAMES])


def grasp_arrays(grasps: Sequence[Grasp], object_pose_world: np.ndarray, open_rad: float,
                 extra_squeeze_rad: float = 0.0) -> dict[str, np.ndarray]:
    """World palm poses (N, 4, 4) ``palm`` and ``pre_palm`` and hand vectors (N, 24) ``approach``, ``pregrasp``,
    ``grasp``, ``squeeze`` (flexion joints closed a further ``extra_squeeze_rad``). ``approach`` = pregrasp with
    the flexion joints opened ``open_rad`` more, within limits; ``approach_wide`` = flexion joints straight (0, or
    their lower limit if above); in both, J1 = J2 = their mean for the tendon-coupled fingers, as the free hand
    realises a commanded sum."""
    phases = [resolved_phases(g) for g in grasps]
    obj = np.asarray(object_pose_world, dtype=float)
    palm = np.stack([obj @ _pose(g.palm_position, g.palm_quaternion_xyzw) for g in grasps])
    pre = np.stack([obj @ _pose(p["pregrasp_palm_position"], p["pregrasp_palm_quaternion_xyzw"]) for p in phases])
    grasp = np.stack([_hand_vector(g.joints) for g in grasps])
    pairs = list(zip(grasps, phases, strict=True))
    pregrasp = np.stack([_hand_vector({**g.joints, **p["pregrasp_joints"]}) for g, p in pairs])
    squeeze = np.stack([_hand_vector({**g.joints, **p["squeeze_joints"]}) for g, p in pairs])
    squeeze[:, _FLEX] = squeeze_joints(squeeze[:, _FLEX], 1.0, extra_squeeze_rad)
    approach = pregrasp.copy()
    approach[:, _FLEX] = pregrasp_joints(approach[:, _FLEX], 1.0, _LOWER[_FLEX], open_rad)
    wide = pregrasp.copy()
    wide[:, _FLEX] = np.minimum(wide[:, _FLEX], np.maximum(_LOWER[_FLEX], 0.0))
    for shape in (approach, wide):  # free motion: the J1+J2 tendon splits its sum about equally (as simulated)
        shape[:, _J12] = shape[:, _J12].mean(axis=2, keepdims=True)
    return {"palm": palm, "pre_palm": pre, "approach": approach, "approach_wide": wide, "pregrasp": pregrasp,
            "grasp": grasp,
            "squeeze": squeeze}


def interpolate_poses(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """(N, 4, 4) × 2 → (N, 4, 4): position lerp, rotation along the geodesic (``alpha`` ∈ [0, 1])."""
    out = a.copy()
    out[:, :3, 3] = (1 - alpha) * a[:, :3, 3] + alpha * b[:, :3, 3]
    rel = Rotation.from_matrix(np.einsum("nji,njk->nik", a[:, :3, :3], b[:, :3, :3])).as_rotvec()
    out[:, :3, :3] = a[:, :3, :3] @ Rotation.from_rotvec(alpha * rel).as_matrix()
    return out


class GraspPlanner:
    """Chooses the best-ranked feasible grasp in a :class:`RobotScene` and turns it into timed segments."""

    def __init__(self, scene: RobotScene, config: ExecutionConfig = ExecutionConfig()) -> None:
        self.scene, self.config = scene, config
        model = scene.model
        self.arm_chain = SerialChain.from_model(model, ARM_JOINT_NAMES, FLANGE_SITE)
        wrist = SerialChain.from_model(model, WRIST_JOINT_NAMES, None)
        self._wrist = wrist
        self._forearm_inv = np.linalg.inv(wrist.base)
        self._data = mujoco.MjData(model)
        self.home = np.asarray(config.scene.home, dtype=float)
        forearm = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "rh_forearm")
        cls = np.full(model.ngeom, OTHER)
        for g in range(model.ngeom):
            body = int(model.geom_bodyid[g])
            chain = body
            while chain not in (0, forearm):
                chain = int(model.body_parentid[chain])
            if g == scene.table_geom:
                cls[g] = TABLE
            elif body == scene.object_body:
                cls[g] = OBJECT
            elif chain == forearm:
                cls[g] = HAND
            elif body != 0:
                cls[g] = ARM
        self.geom_class = cls

    def forearm_to_palm(self, wrist_q: np.ndarray) -> np.ndarray:
        """wrist_q (N, 2) rad (rh_WRJ2, rh_WRJ1) → T_forearm_palm (N, 4, 4) (= T_flange_palm by the mount)."""
        return self._forearm_inv @ self._wrist.forward(np.asarray(wrist_q, dtype=float))[0]

    def penetration(self, arm_q: np.ndarray, hand_q: np.ndarray) -> dict[str, float]:
        """Deepest penetration (m, ≥ 0) per pair class at one configuration, object at its initial pose:
        keys ``hand_object``, ``hand_table``, ``arm_table``, ``arm_object``, ``arm_hand``."""
        m, d = self.scene.model, self._data
        d.qpos[:] = m.qpos0
        d.qpos[self.scene.arm_qpos] = arm_q
        d.qpos[self.scene.hand_qpos] = hand_q
        mujoco.mj_fwdPosition(m, d)
        out = dict.fromkeys(("hand_object", "hand_table", "arm_table", "arm_object", "arm_hand"), 0.0)
        if d.ncon == 0:
            return out
        geom = d.contact.geom[: d.ncon]
        depth = -d.contact.dist[: d.ncon]
        c1, c2 = self.geom_class[geom[:, 0]], self.geom_class[geom[:, 1]]
        for key, (a, b) in {"hand_object": (HAND, OBJECT), "hand_table": (HAND, TABLE), "arm_table": (ARM, TABLE),
                            "arm_object": (ARM, OBJECT), "arm_hand": (ARM, HAND)}.items():
            mask = ((c1 == a) & (c2 == b)) | ((c1 == b) & (c2 == a))
            if mask.any():
                out[key] = max(0.0, float(depth[mask].max()))
        return out

    def _collides(self, arm_q: np.ndarray, hand_q: np.ndarray, hand_object_tol: float | None) -> str:
        """'' when free, else the offending pair classes with their depths, deepest first."""
        pen = self.penetration(arm_q, hand_q)
        tol = self.config.collision_tolerance
        limits = {"hand_table": tol, "arm_table": tol, "arm_object": tol, "arm_hand": tol,
                  "hand_object": tol if hand_object_tol is None else hand_object_tol}
        bad = sorted(((pen[k], k) for k in limits if pen[k] > limits[k]), reverse=True)
        return ", ".join(f"{key.replace('_', '–')} penetration {1000 * depth:.1f} mm" for depth, key in bad)

    def _cartesian(self, start_q: np.ndarray, start: np.ndarray, goal: np.ndarray, steps: int,
                   active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Continuation IK along straight lines start → goal (N, 4, 4) for the ``active`` (N,) rows: solutions
        (N, steps, 6) and ok (N,) (IK converged and no joint jumped more than ``max_joint_jump``). Rows drop out
        as soon as they fail, so unreachable candidates cost little."""
        cfg = self.config
        q, ok = start_q.copy(), active.copy()
        out = np.repeat(start_q[:, None], steps, axis=1)
        for k in range(1, steps + 1):  # loop over waypoints; each step is batched over the live candidates
            rows = np.flatnonzero(ok)
            if rows.size == 0:
                break
            res = solve_dls(self.arm_chain, interpolate_poses(start[rows], goal[rows], k / steps), q[rows], cfg.ik)
            ok[rows] = res.success & (np.abs(res.q - q[rows]).max(axis=1) <= cfg.max_joint_jump)
            q[rows] = res.q
            out[rows, k - 1] = res.q
        return out, ok

    def plan(self, grasps: Sequence[Grasp], object_pose_world: np.ndarray, seed: int = 0
             ) -> tuple[GraspPlan | None, list[CandidateReport]]:
        """The best-ranked feasible grasp as a plan (None if none) and a report for every grasp examined."""
        cfg = self.config
        grasps = list(grasps)[: cfg.max_candidates]
        if not grasps:
            return None, []
        arr = grasp_arrays(grasps, object_pose_world, cfg.approach_open_rad, cfg.extra_squeeze_rad)
        inv_fp = np.linalg.inv(self.forearm_to_palm(arr["grasp"][:, :2]))
        flange_grasp = arr["palm"] @ inv_fp
        flange_pre = arr["pre_palm"] @ inv_fp
        flange_standoff = flange_pre.copy()
        flange_standoff[:, :3, 3] += (backoff_offset(arr["pre_palm"][:, :3, :3], cfg.pregrasp_distance)
                                      + [0.0, 0.0, cfg.pregrasp_lift])
        flange_lift = flange_grasp.copy()
        flange_lift[:, 2, 3] += cfg.lift_height

        standoff = solve_ik(self.arm_chain, flange_standoff, self.home, cfg.ik, seed=seed)
        approach_q, approach_ok = self._cartesian(standoff.q, flange_standoff, flange_pre, cfg.approach_steps,
                                                  standoff.success)
        grasp_q, grasp_ok = self._cartesian(approach_q[:, -1], flange_pre, flange_grasp, 1, approach_ok)
        lift_q, lift_ok = self._cartesian(grasp_q[:, -1], flange_grasp, flange_lift, 5, grasp_ok)
        flange_via = flange_standoff.copy()
        flange_via[:, 2, 3] += cfg.via_height
        rise_q, rise_ok = self._cartesian(standoff.q, flange_standoff, flange_via, 6, lift_ok)  # standoff → via

        reports: list[CandidateReport] = []
        for i in range(len(grasps)):  # collision checks in rank order, stopping at the first feasible grasp
            stage = ("pregrasp standoff" if not standoff.success[i] else "approach" if not approach_ok[i]
                     else "grasp pose" if not grasp_ok[i] else "lift" if not lift_ok[i] else "")
            if stage:
                err = (f" (flange {1000 * standoff.position_error[i]:.0f} mm / "
                       f"{np.degrees(standoff.rotation_error[i]):.1f}° off)" if not standoff.success[i] else "")
                reports.append(CandidateReport(i, "unreachable", f"IK failed at the {stage}{err}"))
                continue
            # Most telling configurations first: the grasp itself and the pregrasp; then the path (standoff,
            # approach waypoints, arm move) with the approach shape, or else with the hand fully open; the arm move
            # goes straight to the standoff in joint space, or else to a via point above it and straight down.
            problem = self._first_collision([
                ("grasp", grasp_q[i, -1], arr["grasp"][i], cfg.grasp_penetration_tolerance),
                ("pregrasp", approach_q[i, -1], arr["pregrasp"][i], cfg.grasp_penetration_tolerance)])
            chosen = None
            transfers = [[standoff.q[i]]] + ([list(rise_q[i, ::-1]) + [standoff.q[i]]] if rise_ok[i] else [])
            for key in ("approach", "approach_wide") if not problem else ():
                near = [("pregrasp standoff", standoff.q[i])]
                near += [(f"approach waypoint {k + 1}", approach_q[i, k]) for k in range(cfg.approach_steps - 1)]
                problem = self._first_collision([(w, q, arr[key][i], None) for w, q in near])
                for transfer in transfers if not problem else ():
                    path = [("joint move to the pregrasp", q) for q in self._joint_samples(self.home, transfer[0])]
                    path += [("descent to the standoff", q) for q in transfer[1:]]
                    problem = self._first_collision([(w, q, arr[key][i], None) for w, q in path])
                    if not problem:
                        chosen = (arr[key][i], transfer)
                        break
                if chosen is not None:
                    break
            if chosen is None:
                reports.append(CandidateReport(i, "collision", problem))
                continue
            reports.append(CandidateReport(i, "ok", ""))
            plan = self._segments(i, arr, chosen[0], chosen[1], approach_q[i], grasp_q[i, -1], lift_q[i])
            plan.flange_poses.update(standoff=flange_standoff[i], pregrasp=flange_pre[i], grasp=flange_grasp[i],
                                     lift=flange_lift[i])
            return plan, reports
        return None, reports

    def _joint_samples(self, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
        """Configurations on the joint-space segment a → b (b included), at most ``path_check_step`` apart."""
        n = int(np.ceil(np.abs(b - a).max() / self.config.path_check_step))
        return [a + t * (b - a) for t in np.linspace(0.0, 1.0, max(n, 1) + 1)[1:]]

    def _first_collision(self, checks: list[tuple[str, np.ndarray, np.ndarray, float | None]]) -> str:
        """'' if no configuration of ``checks`` (where, arm q, hand q, hand–object tolerance) collides."""
        for where, qa, qh, tol in checks:
            problem = self._collides(qa, qh, tol)
            if problem:
                return f"collision at the {where}: {problem}"
        return ""

    def _segments(self, i: int, arr: dict[str, np.ndarray], approach: np.ndarray, transfer: list[np.ndarray],
                  q_approach: np.ndarray, q_grasp: np.ndarray, q_lift: np.ndarray) -> GraspPlan:
        """Timed segments; ``transfer`` = [joint-move target, descent waypoints…, standoff] (a single entry: the
        joint move ends at the standoff)."""
        cfg = self.config
        pre, grasp, squeeze = (arr[k][i] for k in ("pregrasp", "grasp", "squeeze"))
        zeros = np.zeros(len(JOINT_NAMES))
        q_standoff, q_pre = transfer[-1], q_approach[-1]
        move = max(cfg.move_time, 1.5 * float(np.abs(transfer[0] - self.home).max()) / cfg.max_joint_speed)
        hold_shape = np.stack([approach, approach])
        segs = [
            Segment("home", cfg.settle_time, self.home[None], np.stack([zeros, approach])),
            Segment("pregrasp", move, np.stack([self.home, transfer[0]]), hold_shape),
        ]
        if len(transfer) > 1:
            segs.append(Segment("pregrasp", cfg.approach_time, np.stack(transfer), hold_shape))
        segs += [
            Segment("approach", cfg.approach_time, np.vstack([q_standoff[None], q_approach]), hold_shape),
            Segment("close", cfg.preshape_time, q_pre[None], np.stack([approach, pre])),
            Segment("close", cfg.grasp_time, np.stack([q_pre, q_grasp]), np.stack([pre, grasp])),
            Segment("close", cfg.squeeze_time, q_grasp[None], np.stack([grasp, squeeze])),
            Segment("lift", cfg.lift_time, np.vstack([q_grasp[None], q_lift]), np.stack([squeeze, squeeze])),
            Segment("hold", cfg.hold_time, q_lift[-1:], np.stack([squeeze, squeeze])),
        ]
        return GraspPlan(grasp_index=i, segments=segs, flange_poses={},
                         arm_solutions={"standoff": q_standoff, "pregrasp": q_pre, "grasp": q_grasp,
                                        "lift": q_lift[-1], "via": transfer[0]})


__all__ = ["GraspPlanner", "grasp_arrays", "interpolate_poses"]
