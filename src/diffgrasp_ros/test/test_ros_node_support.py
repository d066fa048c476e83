"""ROS-free pieces the nodes rely on: planner overrides from goals, share files, MoveIt backend waypoints."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_ros_conversions import random_grasp

from diffgrasp.grasps import resolved_phases
from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp_ros.conversions import position_quaternion_to_matrix
from diffgrasp_ros.node_support import apply_overrides, share_file


def test_apply_overrides_on_the_planner_config():
    from diffgrasp.planning.planner_config import PlannerConfig

    base = PlannerConfig(loss=dataclasses.replace(PlannerConfig().loss, w_penetration=50.0))
    out = apply_overrides(base, 50, None, 12.5, 5)
    assert (out.optim.iterations, out.optim.feedback_every, out.time_budget_s) == (50, 5, 12.5)
    assert out.optim.lr_position == base.optim.lr_position and out.loss == base.loss
    assert apply_overrides(base) == base  # zeros mean "the configured value"
    with pytest.raises(ValueError, match="weight_names: unknown loss weight.s. bogus"):
        apply_overrides(base, weights={"bogus": 1.0})
    merged = apply_overrides(base, weights={"w_q1": 2.0})
    assert merged.loss == dataclasses.replace(base.loss, w_q1=2.0) and base.loss.w_q1 == 5.0
    assert merged.loss.w_penetration == 50.0  # the other settings kept


def test_share_file_finds_the_source_tree_and_reports_missing():
    assert share_file("config/ros/pipeline.yaml").endswith("config/ros/pipeline.yaml")
    with pytest.raises(FileNotFoundError, match="config/nope.yaml not found"):
        share_file("config/nope.yaml")


def test_moveit_backend_waypoints_and_hand_targets():
    from diffgrasp_ros.moveit_backend import hand_targets, palm_waypoints

    rng = np.random.default_rng(0)
    grasp = random_grasp(rng, phases=False)
    object_to_world = position_quaternion_to_matrix(np.array([0.6, 0.1, 0.05]), np.array([0, 0, 0.6, 0.8]))
    poses = palm_waypoints(grasp, object_to_world, 0.1)
    phases = resolved_phases(grasp)
    expected_grasp = object_to_world @ position_quaternion_to_matrix(grasp.palm_position, grasp.palm_quaternion_xyzw)
    assert np.allclose(poses["grasp"], expected_grasp)
    # §7 default: the pregrasp palm sits 3 mm back along palm +y; the stand-off adds 0.1 m along the same axis
    backoff = poses["approach"][:3, 3] - poses["grasp"][:3, 3]
    assert np.allclose(backoff, expected_grasp[:3, 1] * 0.003)
    standoff = poses["pregrasp"][:3, 3] - poses["approach"][:3, 3]
    assert np.allclose(standoff, expected_grasp[:3, 1] * 0.1) and np.allclose(poses["pregrasp"][:3, :3],
                                                                             expected_grasp[:3, :3])
    targets = hand_targets(grasp)
    assert targets.shape == (3, 22)
    assert np.array_equal(targets[1], grasp.joint_vector())
    assert np.array_equal(targets[0], [phases["pregrasp_joints"][n] for n in FINGER_JOINT_NAMES])
    flexion = FINGER_JOINT_NAMES.index("rh_FFJ3")
    assert targets[0, flexion] <= targets[1, flexion] < targets[2, flexion]  # opens, then squeezes further
