"""Rotation helpers against scipy (the reference for quaternion order and matrices)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from diffgrasp.geometry import rotations as R


def test_quaternion_matrix_round_trip_against_scipy():
    rots = Rotation.random(500, random_state=0)
    q = torch.tensor(rots.as_quat(), dtype=torch.float64)
    m = R.quaternion_xyzw_to_matrix(q)
    assert torch.allclose(m, torch.tensor(rots.as_matrix()), atol=1e-12)
    q2 = R.matrix_to_quaternion_xyzw(m)
    sign = torch.sign((q2 * q).sum(-1, keepdim=True))
    assert torch.allclose(q2 * sign, q, atol=1e-10)
    assert (q2[:, 3] >= 0).all()


def test_order_conversion_and_6d():
    q = np.array([0.1, 0.2, 0.3, 0.9])
    assert np.allclose(R.xyzw_to_wxyz(q), [0.9, 0.1, 0.2, 0.3])
    assert np.allclose(R.wxyz_to_xyzw(R.xyzw_to_wxyz(q)), q)
    m = torch.tensor(Rotation.random(10, random_state=1).as_matrix())
    assert torch.allclose(R.rotation6d_to_matrix(R.matrix_to_rotation6d(m)), m, atol=1e-12)


def test_quaternion_angle_uses_abs_w():
    q = np.array([np.cos(0.05), np.sin(0.05), 0, 0])  # 0.1 rad about x
    assert np.isclose(R.quaternion_angle_wxyz(q), 0.1)
    assert np.isclose(R.quaternion_angle_wxyz(-q), 0.1)  # same rotation, not 2π − 0.1
