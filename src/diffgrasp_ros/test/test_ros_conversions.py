"""Round trips core types → messages → CDR → core types against our real .msg/.action definitions (rosbags)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffgrasp.grasps import Grasp, GraspFormatError, GraspSet
from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_LIMITS, JOINT_NAMES
from diffgrasp_ros import conversions as cv


def random_quaternion(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    return q / np.linalg.norm(q)


def random_grasp(rng: np.random.Generator, *, wrist: bool = False, phases: bool = True) -> Grasp:
    names = JOINT_NAMES if wrist else FINGER_JOINT_NAMES
    lo = np.array([JOINT_LIMITS[n][0] for n in names])
    hi = np.array([JOINT_LIMITS[n][1] for n in names])
    q = lo + rng.random(len(names)) * (hi - lo)
    pre = lo + rng.random(len(names)) * (hi - lo)
    grasp = Grasp(palm_position=rng.normal(size=3) * 0.1, palm_quaternion_xyzw=random_quaternion(rng),
                  joints=dict(zip(names, q.tolist())),
                  metrics={"q1_exact": float(rng.random()), "q1_generalized": float(rng.random()),
                           "penetration_m": 1e-4, "contact_count": int(rng.integers(0, 10)), "loss": 0.25})
    if phases:
        grasp.pregrasp_joints = dict(zip(names, pre.tolist()))
        grasp.squeeze_joints = {n: v + 0.1 for n, v in grasp.joints.items()}
        grasp.pregrasp_palm_position = grasp.palm_position + 0.003
        grasp.pregrasp_palm_quaternion_xyzw = grasp.palm_quaternion_xyzw.copy()
    return grasp


def assert_grasps_equal(a: Grasp, b: Grasp) -> None:
    """Bit-exact equality of every field (float64 all the way), except that quaternions are renormalised by the
    reader (design notes §4), which may move them by an ulp."""
    assert np.array_equal(a.palm_position, b.palm_position)
    np.testing.assert_array_max_ulp(a.palm_quaternion_xyzw, b.palm_quaternion_xyzw, maxulp=2)
    assert a.joints == b.joints
    assert a.pregrasp_joints == b.pregrasp_joints
    assert a.squeeze_joints == b.squeeze_joints
    for key in ("pregrasp_palm_position", "pregrasp_palm_quaternion_xyzw"):
        va, vb = getattr(a, key), getattr(b, key)
        assert (va is None) == (vb is None)
        if va is not None:
            np.testing.assert_array_max_ulp(va, vb, maxulp=0 if key.endswith("position") else 2)
    assert a.metrics == b.metrics
    assert all(type(a.metrics[k]) is type(b.metrics[k]) for k in a.metrics)


@pytest.mark.parametrize("wrist,phases", [(False, True), (True, True), (False, False)])
def test_grasp_round_trip_is_bit_exact(factory, cdr, wrist, phases):
    rng = np.random.default_rng(3)
    for _ in range(20):
        grasp = random_grasp(rng, wrist=wrist, phases=phases)
        msg = cdr(cv.grasp_to_ros(factory, grasp, frame_id="object", stamp_ns=123, grasp_id="g7", source="planner",
                                  loss_terms={"q1": -0.5, "penetration": 0.01}))
        assert msg.joint_names[0] == ("rh_WRJ2" if wrist else "rh_FFJ4")
        assert msg.quality == grasp.metrics["q1_exact"] and msg.source == "planner" and msg.id == "g7"
        assert cv.loss_terms_from_ros(msg.loss_terms) == (0.25, {"q1": -0.5, "penetration": 0.01})
        assert_grasps_equal(cv.grasp_from_ros(msg), grasp)


def test_grasp_set_round_trip(factory, cdr):
    rng = np.random.default_rng(4)
    grasp_set = GraspSet("mug", "/data/mug.obj", [random_grasp(rng) for _ in range(5)], scale=0.9)
    msg = cdr(cv.grasp_set_to_ros(factory, grasp_set, object_id="obj1", stamp_ns=5_000_000_001, source="refined"))
    assert [g.id for g in msg.grasps] == [f"g{i:04d}" for i in range(5)]
    assert cv.time_from_ros(msg.header.stamp) == 5_000_000_001
    back = cv.grasp_set_from_ros(msg)
    assert (back.object_name, back.mesh, back.scale) == ("mug", "/data/mug.obj", 0.9)
    for a, b in zip(grasp_set.grasps, back.grasps, strict=True):
        assert_grasps_equal(a, b)


def test_grasp_from_ros_rejects_bad_input_naming_the_field(factory):
    rng = np.random.default_rng(5)
    good = cv.grasp_to_ros(factory, random_grasp(rng))
    bad = cv.grasp_to_ros(factory, random_grasp(rng))
    bad.grasp_positions = bad.grasp_positions[:-1]
    with pytest.raises(ValueError, match=r"grasps\[2\]\.grasp_positions: expected 22 values"):
        cv.grasp_from_ros(bad, 2)
    bad = cv.grasp_to_ros(factory, random_grasp(rng))
    bad.grasp_positions[3] = math.nan
    with pytest.raises(GraspFormatError, match=r"grasps\[0\]\.joints\.rh_FFJ1"):
        cv.grasp_from_ros(bad)
    bad = cv.grasp_to_ros(factory, random_grasp(rng))
    bad.palm_pose.orientation.w = 5.0
    with pytest.raises(ValueError, match="palm_pose.orientation: not a unit quaternion"):
        cv.grasp_from_ros(bad)
    odd = random_grasp(rng)
    odd.metrics["method"] = "planner"
    with pytest.raises(ValueError, match="metric 'method' is not a number"):
        cv.grasp_to_ros(factory, odd)
    bad = cv.grasp_to_ros(factory, random_grasp(rng))
    bad.hand_root_link = "rh_forearm"
    with pytest.raises(ValueError, match="hand_root_link"):
        cv.grasp_from_ros(bad)
    cv.grasp_from_ros(good)  # the untouched one still converts


def test_pose_and_transform_round_trip(factory, cdr):
    rng = np.random.default_rng(6)
    for _ in range(50):
        q = random_quaternion(rng)
        p = rng.normal(size=3)
        pos, quat = cv.pose_from_ros(cdr(cv.pose_to_ros(factory, p, q)))
        assert np.array_equal(pos, p)
        np.testing.assert_array_max_ulp(quat, q, maxulp=2)  # renormalised by the reader
        matrix = cv.position_quaternion_to_matrix(p, q)
        assert np.allclose(matrix[:3, :3] @ matrix[:3, :3].T, np.eye(3), atol=1e-12)
        back, parent, child = cv.transform_from_ros(cdr(cv.transform_to_ros(factory, matrix, "world", "cam", 7)))
        assert (parent, child) == ("world", "cam")
        assert np.allclose(back, matrix, atol=1e-12)
    # the xyzw order is ROS's: a rotation of +90° about z maps x to y
    quarter = np.array([0.0, 0.0, math.sin(math.pi / 4), math.cos(math.pi / 4)])
    m = cv.pose_matrix_from_ros(cv.pose_to_ros(factory, np.zeros(3), quarter))
    assert np.allclose(m[:3, :3] @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_time_and_duration(factory, cdr):
    for ns in (0, 1, 999_999_999, 1_000_000_000, 1_732_600_000_123_456_789):
        assert cv.time_from_ros(cdr(cv.time_to_ros(factory, ns))) == ns
    d = cdr(cv.duration_to_ros(factory, 1.25))
    assert (d.sec, d.nanosec) == (1, 250_000_000) and cv.duration_from_ros(d) == 1.25
    with pytest.raises(ValueError, match="stamp_ns"):
        cv.time_to_ros(factory, -1)


def test_joint_trajectory_and_follow_joint_trajectory_goal(factory, cdr):
    rng = np.random.default_rng(7)
    names = list(FINGER_JOINT_NAMES)
    times = np.array([0.0, 0.4, 0.8])
    positions = rng.random((3, 22))
    traj = cv.joint_trajectory_to_ros(factory, names, times, positions)
    goal = cdr(cv.follow_joint_trajectory_goal(factory, traj, goal_time_tolerance_s=0.5))
    assert goal.__msgtype__ == "control_msgs/action/FollowJointTrajectory_Goal"
    back_names, back_times, back_positions = cv.joint_trajectory_from_ros(goal.trajectory)
    assert back_names == names and np.array_equal(back_times, times) and np.array_equal(back_positions, positions)
    assert cv.duration_from_ros(goal.goal_time_tolerance) == 0.5
    with pytest.raises(ValueError, match="strictly increasing"):
        cv.joint_trajectory_to_ros(factory, names, [0.0, 0.0, 1.0], positions)
    with pytest.raises(ValueError, match=r"expected shape \(3, 21\)"):
        cv.joint_trajectory_to_ros(factory, names[:-1], times, positions)


def test_collision_objects(factory, cdr):
    import trimesh

    box = trimesh.creation.box((0.1, 0.2, 0.3))
    pose = cv.position_quaternion_to_matrix(np.array([0.5, 0.0, 0.1]), np.array([0.0, 0.0, 0.0, 1.0]))
    obj = cdr(cv.mesh_collision_object_to_ros(factory, "object", "world", pose, box.vertices, box.faces))
    from diffgrasp_ros.sensor_conversions import mesh_from_ros

    v, f = mesh_from_ros(obj.meshes[0])
    assert obj.operation == 0 and obj.id == "object" and obj.header.frame_id == "world"
    assert np.array_equal(v, box.vertices) and np.array_equal(f, box.faces)
    assert np.allclose(cv.pose_matrix_from_ros(obj.pose), pose)
    table = cdr(cv.box_collision_object_to_ros(factory, "table", "world", np.eye(4), (1.2, 0.8, 0.05)))
    assert table.primitives[0].type == 1 and np.array_equal(table.primitives[0].dimensions, [1.2, 0.8, 0.05])
    with pytest.raises(ValueError, match="box size"):
        cv.box_collision_object_to_ros(factory, "table", "world", np.eye(4), (1.0, -1.0, 1.0))
