"""The pregrasp/squeeze rule (diffgrasp.grasp_phases) against a slow per-grasp reference written from the design notes'
words (§7): "pregrasp = palm backed off 3 mm away from the grasping side (along +y of the rh_palm frame) with the
flexion joints (J3, J2, J1 of each finger; THJ2, THJ1) opened 0.1 rad; squeeze = the same joints closed a further
0.1 rad"; pregrasp joints lie within the limits, squeeze values are motor targets and may pass them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from diffgrasp.grasp_phases import (
    DEFAULT_OPEN_RAD,
    DEFAULT_PALM_BACKOFF_M,
    DEFAULT_SQUEEZE_RAD,
    backed_off_position,
    pregrasp_joints,
    squeeze_joints,
)
from diffgrasp.grasps import Grasp, default_pregrasp, default_squeeze, resolved_phases
from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_LIMITS

# From the words, not from hand.names: J3, J2, J1 of FF MF RF LF, and THJ2, THJ1.
FLEXION = {f"rh_{f}J{j}" for f in ("FF", "MF", "RF", "LF") for j in (3, 2, 1)} | {"rh_THJ2", "rh_THJ1"}
FINGER_OF = {n: n[3:5] for n in FINGER_JOINT_NAMES}
FINGERS = ("FF", "MF", "RF", "LF", "TH")
LOWER = np.array([JOINT_LIMITS[n][0] for n in FINGER_JOINT_NAMES])
UPPER = np.array([JOINT_LIMITS[n][1] for n in FINGER_JOINT_NAMES])
MASK = np.array([n in FLEXION for n in FINGER_JOINT_NAMES], dtype=float)


def reference(position, quat_xyzw, joints: dict[str, float], backoff: float, open_rad: float, squeeze_rad: float,
              touching: set[str] = set(FINGERS)):
    """One grasp, joint by joint: (pregrasp palm position, pregrasp joints, squeeze joints)."""
    x, y, z, w = quat_xyzw
    # +y axis of the palm in the object frame: the second column of the quaternion's rotation matrix
    y_axis = np.array([2 * (x * y - z * w), 1 - 2 * (x * x + z * z), 2 * (y * z + x * w)])
    pre_pos = [float(position[i]) + float(y_axis[i]) * backoff for i in range(3)]
    pre, squeeze = {}, {}
    for name, value in joints.items():
        if name in FLEXION:
            pre[name] = max(JOINT_LIMITS[name][0], value - open_rad)
            squeeze[name] = value + squeeze_rad if FINGER_OF[name] in touching else value
        else:
            pre[name], squeeze[name] = value, value
    return np.array(pre_pos), pre, squeeze


def random_grasps(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    q = LOWER + rng.uniform(size=(n, 22)) * (UPPER - LOWER)
    q[::3, ::4] = LOWER[::4]                      # some at the lower limit
    q[1::3, 3::5] = LOWER[3::5] + 0.03            # some the opening clamps
    return rng.normal(size=(n, 3)) * 0.1, Rotation.random(n, random_state=seed).as_quat(), q


def test_grasp_defaults_follow_the_words():
    pos, quat, q = random_grasps(40)
    for i in range(len(q)):
        joints = dict(zip(FINGER_JOINT_NAMES, q[i].tolist(), strict=True))
        joints["rh_WRJ2"] = -0.2  # wrist joints are not flexion joints
        grasp = Grasp(palm_position=pos[i], palm_quaternion_xyzw=quat[i], joints=joints)
        ref_pos, ref_pre, ref_squeeze = reference(pos[i], quat[i], joints, 0.003, 0.1, 0.1)
        got_pos, got_quat, got_pre = default_pregrasp(grasp)
        np.testing.assert_allclose(got_pos, ref_pos, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(got_quat, quat[i])
        assert got_pre == pytest.approx(ref_pre, abs=1e-15) and list(got_pre) == list(joints)
        assert default_squeeze(grasp) == pytest.approx(ref_squeeze, abs=1e-15)
        assert all(LOWER[k] <= got_pre[n] for k, n in enumerate(FINGER_JOINT_NAMES))
        phases = resolved_phases(grasp)
        assert phases["pregrasp_joints"] == got_pre and phases["squeeze_joints"] == default_squeeze(grasp)
    assert (DEFAULT_PALM_BACKOFF_M, DEFAULT_OPEN_RAD, DEFAULT_SQUEEZE_RAD) == (0.003, 0.1, 0.1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batched_torch_matches_reference(dtype):
    """The planner's form: (B, 22) joints, a flexion mask, touching fingers only; the hand's dtype throughout."""
    pos, quat, q = random_grasps(64, seed=1)
    rng = np.random.default_rng(2)
    touching = rng.uniform(size=(64, 5)) > 0.4
    touching_joint = touching[:, [FINGERS.index(FINGER_OF[n]) for n in FINGER_JOINT_NAMES]]
    t = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
    rot = t(Rotation.from_quat(quat).as_matrix())
    got_pos = backed_off_position(t(pos), rot, 0.01)
    got_pre = pregrasp_joints(t(q), t(MASK), t(LOWER), 0.2)
    got_sq = squeeze_joints(t(q), t(MASK), 0.15, t(touching_joint.astype(float)))
    assert got_pos.dtype == got_pre.dtype == got_sq.dtype == dtype
    tol = 1e-6 if dtype == torch.float32 else 1e-14
    for i in range(64):
        joints = dict(zip(FINGER_JOINT_NAMES, q[i].tolist(), strict=True))
        ref_pos, ref_pre, ref_sq = reference(pos[i], quat[i], joints, 0.01, 0.2, 0.15,
                                             {f for f, on in zip(FINGERS, touching[i], strict=True) if on})
        np.testing.assert_allclose(got_pos[i].numpy(), ref_pos, rtol=0, atol=tol)
        np.testing.assert_allclose(got_pre[i].numpy(), [ref_pre[n] for n in FINGER_JOINT_NAMES], rtol=0, atol=tol)
        np.testing.assert_allclose(got_sq[i].numpy(), [ref_sq[n] for n in FINGER_JOINT_NAMES], rtol=0, atol=tol)


def test_numpy_and_torch_agree_bit_for_bit():
    pos, quat, q = random_grasps(16, seed=3)
    rot = Rotation.from_quat(quat).as_matrix()
    touching = (np.random.default_rng(4).uniform(size=(16, 22)) > 0.5).astype(float)
    pairs = [(backed_off_position(pos, rot, 0.003), backed_off_position(torch.tensor(pos), torch.tensor(rot), 0.003)),
             (pregrasp_joints(q, MASK, LOWER, 0.1), pregrasp_joints(torch.tensor(q), torch.tensor(MASK),
                                                                     torch.tensor(LOWER), 0.1)),
             (squeeze_joints(q, MASK, 0.1, touching), squeeze_joints(torch.tensor(q), torch.tensor(MASK), 0.1,
                                                                     torch.tensor(touching)))]
    for a, b in pairs:
        assert a.tobytes() == b.numpy().tobytes()


def test_squeeze_may_pass_the_limits_and_pregrasp_may_not():
    q = UPPER.copy()
    assert (squeeze_joints(q, MASK, 0.3)[MASK > 0] > UPPER[MASK > 0]).all()
    q = LOWER.copy()
    np.testing.assert_array_equal(pregrasp_joints(q, MASK, LOWER, 0.3), LOWER)
