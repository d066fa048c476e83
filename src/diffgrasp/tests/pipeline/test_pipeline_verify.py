"""Verification stage (``diffgrasp.pipeline_verify``): the rehearsal on the perceived object in real MuJoCo, and the
order it gives the execution."""

from __future__ import annotations

import dataclasses

import numpy as np
import trimesh

from diffgrasp.execution import ExecutionConfig
from diffgrasp.grasps import Grasp
from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp.pipeline_verify import Rehearsal, rehearse_grasps, verified_order
from diffgrasp.sim.robot_scene import resting_pose


def test_verified_order_puts_rehearsal_lifts_first():
    rehearsal = Rehearsal([{"rank": 0, "reason": "slip", "lift_m": 0.0},
                           {"rank": 1, "reason": "unreachable", "lift_m": 0.0},
                           {"rank": 2, "reason": "ok", "lift_m": 0.1}])
    assert rehearsal.passed == [2]
    assert verified_order(5, rehearsal) == [2, 3, 4, 0, 1]
    assert verified_order(3, Rehearsal([])) == [0, 1, 2]


def test_rehearsal_runs_the_execution_on_the_given_mesh():
    """A grasp whose palm is far from the perceived object cannot lift it: tested, not passed; every grasp is
    tested when none passes (up to max_grasps), and the result says why."""
    box = trimesh.creation.box((0.05, 0.05, 0.05))
    pose = resting_pose(box)
    far = Grasp(palm_position=np.array([0.0, 0.25, 0.25]), palm_quaternion_xyzw=np.array([0.0, 0.0, 0.0, 1.0]),
                joints=dict.fromkeys(FINGER_JOINT_NAMES, 0.0))
    cfg = dataclasses.replace(ExecutionConfig(), hold_time=0.2, render_every=10.0)
    out = rehearse_grasps(box, pose, [far, far, far], cfg, max_grasps=2, max_passes=1)
    assert [r["rank"] for r in out.tested] == [0, 1]
    assert out.passed == []
    assert all(r["reason"] in ("slip", "unreachable", "collision") for r in out.tested)
    assert verified_order(3, out) == [2, 0, 1]
