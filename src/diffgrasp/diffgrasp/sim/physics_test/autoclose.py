"""Kinematic "close until contact" for the Shadow hand in the physics-test scene (used to build test grasps).

Each finger is a chain of closing joints (FF/MF/RF/LF: J3, J2, J1; thumb: THJ4, THJ2, THJ1). All active joints move
toward their targets by at most ``step`` rad per iteration; when a link of a chain touches the object (signed contact
distance < 0 in MuJoCo's collision of the convex pieces), that joint and the ones before it in the chain stop (the
last increment is undone), the joints after it keep closing. A link touching another link of the hand stops the same
way. Pure kinematics (mj_forward), deterministic.
"""

from __future__ import annotations

import numpy as np

from diffgrasp.geometry.rotations import wxyz_to_xyzw
from diffgrasp.grasps import Grasp
from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_LIMITS
from diffgrasp.sim.physics_test.trial import GraspTester, Phases

CHAINS: tuple[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]], ...] = tuple(
    ((f"rh_{f}J3", f"rh_{f}J2", f"rh_{f}J1"),
     ((f"rh_{f.lower()}proximal",), (f"rh_{f.lower()}middle",), (f"rh_{f.lower()}distal",)))
    for f in ("FF", "MF", "RF", "LF")
) + ((("rh_THJ4", "rh_THJ2", "rh_THJ1"), (("rh_thproximal", "rh_thhub"), ("rh_thmiddle",), ("rh_thdistal",))),)
"""(joints, links per joint) of each closing chain, base to tip."""


def close_until_contact(tester: GraspTester, palm_position: np.ndarray, palm_quat_wxyz: np.ndarray,
                        q_start: np.ndarray, q_target: np.ndarray, step: float = 0.01,
                        max_iterations: int = 400) -> np.ndarray:
    """Close the chain joints from q_start (22,) toward q_target (22,) rad until their links touch the object.

    Joints outside the chains keep their q_start values. Returns the final (22,) joint vector.
    """
    model = tester.model
    names = list(FINGER_JOINT_NAMES)
    q = np.asarray(q_start, dtype=float).copy()
    target = np.asarray(q_target, dtype=float)
    active = np.zeros(22, dtype=bool)
    chains = []
    for joints, links in CHAINS:
        cols = [names.index(j) for j in joints]
        active[cols] = True
        chains.append((cols, [[model.body(b).id for b in group] for group in links]))
    for _ in range(max_iterations):
        delta = np.clip(target - q, -step, step) * active
        if not np.any(np.abs(delta) > 1e-9):
            break
        q_new = q + delta
        tester.set_state(palm_position, palm_quat_wxyz, q_new)
        c = tester.contacts()
        touching = set(c["hand_body"][c["ho"] & (c["dist"] < 0)].tolist())
        hh = c["hh"] & (c["dist"] < 0)  # links also stop on other links of the hand (e.g. the thumb on the palm)
        if hh.any():
            geom = np.asarray(tester.data.contact.geom[:tester.data.ncon]).reshape(-1, 2)[hh]
            touching |= set(model.geom_bodyid[geom].ravel().tolist())
        for cols, links in chains:
            last = max((k for k, group in enumerate(links) if touching & set(group)), default=-1)
            if last >= 0:
                stop = cols[:last + 1]
                q_new[stop] = q[stop]
                active[stop] = False
        q = q_new
    return q


def autoclose_grasp(tester: GraspTester, palm_position: np.ndarray, palm_quat_wxyz: np.ndarray,
                    q_open: np.ndarray, squeeze: float = 0.15,
                    fingers: tuple[str, ...] = ("FF", "MF", "RF", "LF", "TH"),
                    step: float = 0.01) -> Grasp:
    """A Grasp made by closing the chains of ``fingers`` onto the object from ``q_open`` (22,) until contact.

    joints = the closed configuration (within limits); squeeze_joints = joints + ``squeeze`` rad on the joints of the
    closed chains that touch the object (flexion J3/J2/J1, THJ4/THJ2/THJ1); pregrasp: the §7 default (left unset).
    """
    names = list(FINGER_JOINT_NAMES)
    upper = np.array([JOINT_LIMITS[n][1] for n in names])
    lower = np.array([JOINT_LIMITS[n][0] for n in names])
    q_open = np.clip(np.asarray(q_open, dtype=float), lower, upper)
    target = q_open.copy()
    for joints, _ in CHAINS:
        if joints[0][3:5] in fingers:
            cols = [names.index(j) for j in joints]
            target[cols] = upper[cols]
    q = np.clip(close_until_contact(tester, palm_position, palm_quat_wxyz, q_open, target, step=step), lower, upper)
    touching = set(tester.grasp_metrics(Phases(palm_position, palm_quat_wxyz, q, palm_position, palm_quat_wxyz, q,
                                               q))["contact_bodies"])
    squeeze_q = q.copy()
    for joints, links in CHAINS:
        if joints[0][3:5] in fingers and touching & {b for group in links for b in group}:
            squeeze_q[[names.index(j) for j in joints]] += squeeze
    return Grasp(palm_position=np.asarray(palm_position, float),
                 palm_quaternion_xyzw=np.asarray(wxyz_to_xyzw(np.asarray(palm_quat_wxyz, float))),
                 joints={n: float(v) for n, v in zip(names, q)},
                 squeeze_joints={n: float(v) for n, v in zip(names, squeeze_q)})


__all__ = ["CHAINS", "autoclose_grasp", "close_until_contact"]
