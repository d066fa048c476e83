"""ShadowHand argument handling: dict and (B, 22) inputs, and clear errors for bad input."""

from __future__ import annotations

import pytest
import torch

from diffgrasp._checks import ShapeError
from diffgrasp.hand import FINGER_JOINT_NAMES, JOINT_NAMES, ShadowHand


@pytest.fixture(scope="module")
def hand() -> ShadowHand:
    return ShadowHand()


def _pose(b: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.zeros(b, 3), torch.eye(3).expand(b, 3, 3)


def test_dict_and_22_inputs_equal_tensor(hand: ShadowHand) -> None:
    q = hand.lower + torch.rand(3, 24) * (hand.upper - hand.lower)
    q[:, :2] = 0.0
    ref = hand.forward_kinematics(q)
    by_dict = hand.forward_kinematics({n: q[:, i] for i, n in enumerate(JOINT_NAMES)})
    by_22 = hand.forward_kinematics(q[:, 2:])
    no_wrist = hand.forward_kinematics({n: q[:, i + 2] for i, n in enumerate(FINGER_JOINT_NAMES)})
    for name in ref:
        assert torch.equal(ref[name], by_dict[name])
        assert torch.equal(ref[name], by_22[name])
        assert torch.equal(ref[name], no_wrist[name])
    single = hand.forward_kinematics({n: 0.1 for n in FINGER_JOINT_NAMES})
    assert single["rh_ffdistal"].shape == (1, 4, 4)
    pts_dict = hand.contact_candidates(*_pose(3), {n: q[:, i + 2] for i, n in enumerate(FINGER_JOINT_NAMES)})[0]
    assert torch.equal(pts_dict, hand.contact_candidates(*_pose(3), q[:, 2:])[0])


def test_wrong_joint_count(hand: ShadowHand) -> None:
    with pytest.raises(ShapeError, match=r"q: expected shape \(B, 24\), got \(2, 23\)"):
        hand.forward_kinematics(torch.zeros(2, 23))
    with pytest.raises(ShapeError, match=r"q22: expected shape \(B, 22\), got \(2, 24\)"):
        hand.links_in_palm(torch.zeros(2, 24))
    with pytest.raises(ShapeError, match="q: expected shape"):
        hand.forward_kinematics(torch.zeros(24))


def test_unknown_and_missing_names(hand: ShadowHand) -> None:
    joints = {n: 0.0 for n in FINGER_JOINT_NAMES}
    with pytest.raises(ValueError, match=r"unknown joint name\(s\) \['rh_FFJ5'\]"):
        hand.forward_kinematics({**joints, "rh_FFJ5": 0.0})
    del joints["rh_THJ1"]
    with pytest.raises(ValueError, match=r"missing joint\(s\) \['rh_THJ1'\]"):
        hand.forward_kinematics(joints)
    with pytest.raises(ValueError, match="unknown joint name"):
        hand.links_in_palm({**{n: 0.0 for n in FINGER_JOINT_NAMES}, "FFJ1": 0.0})


def test_nan_and_dtype(hand: ShadowHand) -> None:
    q = torch.zeros(2, 24)
    q[1, 5] = float("nan")
    with pytest.raises(ValueError, match="q: contains NaN or inf"):
        hand.forward_kinematics(q)
    with pytest.raises(ValueError, match="does not match the hand's torch.float32"):
        hand.forward_kinematics(torch.zeros(2, 24, dtype=torch.float64))
    pos, rot = _pose()
    with pytest.raises(ValueError, match="palm_pos: contains NaN"):
        hand.contact_candidates(pos * float("nan"), rot, torch.zeros(2, 22))


def test_palm_pose_errors(hand: ShadowHand) -> None:
    pos, rot = _pose()
    with pytest.raises(ValueError, match="palm_rot: not a rotation matrix"):
        hand.surface_points(pos, rot * 1.1, torch.zeros(2, 22))
    with pytest.raises(ShapeError, match=r"palm_pos: expected shape \(2, 3\)"):
        hand.collision_capsules(pos[:1], rot, torch.zeros(2, 22))
    with pytest.raises(ValueError, match=r"palm_quaternion_xyzw\[1\]: not a unit quaternion \(norm 2.000000\)"):
        hand.palm_rotation_from_quaternion(torch.tensor([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 2.0]]))
    almost = hand.palm_rotation_from_quaternion(torch.tensor([[0.0, 0.0, 0.0, 1.0005]]))
    assert torch.allclose(almost[0], torch.eye(3))


def test_to_moves_everything() -> None:
    hand = ShadowHand().to(dtype=torch.float64)
    assert hand.lower.dtype == torch.float64 and hand.capsule_radius.dtype == torch.float64
    pts, nrm = hand.contact_candidates(torch.zeros(1, 3, dtype=torch.float64),
                                       torch.eye(3, dtype=torch.float64)[None], torch.zeros(1, 22, dtype=torch.float64))
    assert pts.dtype == torch.float64 and nrm.shape == (1, hand.num_contacts, 3)
    with pytest.raises(ValueError, match="dtype must be floating point"):
        ShadowHand(dtype=torch.int64)
