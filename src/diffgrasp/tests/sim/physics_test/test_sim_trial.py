"""The §7 physics test on constructed grasps around a cylinder: pass, miss, pre-filter, one finger, determinism."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from sim_fixtures import PALM_QUAT_WXYZ, PALM_ROT, moved, q_open

from diffgrasp.geometry.rotations import quaternion_angle_wxyz
from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp.sim.physics_test.trial import DIRECTIONS, Phases


def test_palm_quaternion_matches_rotation():
    from scipy.spatial.transform import Rotation
    assert np.allclose(Rotation.from_quat(PALM_QUAT_WXYZ, scalar_first=True).as_matrix(), PALM_ROT)


def test_power_grasp_is_firm_and_passes(cylinder_tester, power_grasp):
    q = power_grasp.joint_vector()
    names = list(FINGER_JOINT_NAMES)
    # the constructed grasp really wraps: proximal flexion of the four fingers well closed, thumb in contact
    assert all(q[names.index(f"rh_{f}J3")] > 0.3 for f in ("FF", "MF", "RF", "LF"))
    result = cylinder_tester.run(Phases.from_grasp(power_grasp))
    assert result.pregrasp_penetration_m < 0.002
    assert result.penetration_m < 0.002
    assert result.contact_count >= 8 and any(b.startswith("rh_th") for b in result.contact_bodies)
    assert result.passed, result
    assert result.failed_direction is None
    assert set(result.per_direction) == {name for name, _ in DIRECTIONS}
    assert result.displacement_m < 0.05 and result.rotation_deg < 15
    assert result.q1_exact is None or result.q1_exact > 0


def test_same_hand_10cm_away_fails(cylinder_tester, power_grasp):
    far = moved(power_grasp, 0.10)
    result = cylinder_tester.run(Phases.from_grasp(far))
    assert result.contact_count == 0 and result.penetration_m == 0.0
    assert not result.passed
    assert result.failed_direction == DIRECTIONS[0][0]  # the very first push carries the free object away
    assert result.displacement_m >= 0.05


def test_grasp_2cm_inside_is_rejected_by_prefilter(cylinder_tester, power_grasp):
    inside = moved(power_grasp, -0.02 - 0.003)  # the pregrasp backs off 3 mm: put the pregrasp itself 2 cm in
    result = cylinder_tester.run(Phases.from_grasp(inside))
    assert result.failed_direction == "prefilter"
    assert not result.passed and result.per_direction == {}
    assert result.pregrasp_penetration_m > 0.01


def test_one_finger_grasp_fails(cylinder_tester):
    from sim_fixtures import PALM_POS

    from diffgrasp.sim.physics_test.autoclose import autoclose_grasp
    palm = PALM_POS + PALM_ROT[:, 1] * 0.015  # palm off the surface; only the index finger closes
    grasp = autoclose_grasp(cylinder_tester, palm, PALM_QUAT_WXYZ, q_open(), squeeze=0.15, fingers=("FF",))
    result = cylinder_tester.run(Phases.from_grasp(grasp))
    assert result.contact_bodies and all(b.startswith("rh_ff") for b in result.contact_bodies)
    assert not result.passed and result.failed_direction not in (None, "prefilter")


def test_results_are_deterministic(cylinder_tester, power_grasp):
    g = copy.deepcopy(power_grasp)
    ph = Phases.from_grasp(g)
    a = cylinder_tester.push(ph, np.array([0.0, 0.0, 1.0]))
    cylinder_tester.push(ph, np.array([1.0, 0.0, 0.0]))  # a different run in between must not leak state
    b = cylinder_tester.push(ph, np.array([0.0, 0.0, 1.0]))
    assert a == b


def test_quaternion_angle_uses_abs_w(cylinder_tester):
    q = np.array([math.cos(0.05), math.sin(0.05), 0.0, 0.0])  # 0.1 rad about x
    assert np.isclose(quaternion_angle_wxyz(q), 0.1)
    assert np.isclose(quaternion_angle_wxyz(-q), 0.1)  # without |w|: 2π − 0.1
    # the tester measures the object's rotation through the same function: a negative-w quaternion is small
    t = cylinder_tester
    t.data.qpos[t.index.object_qpos:t.index.object_qpos + 7] = [0, 0, 0, *(-q)]
    disp, rot = t.object_motion()
    assert disp == 0.0 and np.isclose(rot, math.degrees(0.1))


@pytest.mark.parametrize("t", [0.0, 0.3, 1.0])
def test_slerp_endpoints_and_unit_norm(t):
    from diffgrasp.sim.physics_test.trial import slerp_wxyz
    a = np.array([1.0, 0.0, 0.0, 0.0])
    b = -PALM_QUAT_WXYZ  # the same rotation with the other sign: slerp takes the short way
    q = slerp_wxyz(a, b, t)
    assert np.isclose(np.linalg.norm(q), 1.0)
    expected_angle = t * quaternion_angle_wxyz(PALM_QUAT_WXYZ)
    assert np.isclose(quaternion_angle_wxyz(q), expected_angle, atol=1e-9)
