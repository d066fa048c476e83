"""Phases as data: segment interpolation and result serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from diffgrasp.execution import PHASES, REASONS, CandidateReport, ExecutionResult, Segment, Trajectories
from diffgrasp.hand.names import JOINT_NAMES
from diffgrasp.sim.robot_scene import ARM_JOINT_NAMES


def test_segment_passes_through_waypoints_and_rests_at_the_ends():
    arm = np.array([[0.0] * 6, [1.0] * 6, [3.0] * 6])
    hand = np.stack([np.zeros(24), np.ones(24)])
    seg = Segment("approach", 2.0, arm, hand)
    a0, h0 = seg.targets(0.0)
    a1, h1 = seg.targets(2.0)
    assert np.allclose(a0, 0) and np.allclose(h0, 0) and np.allclose(a1, 3) and np.allclose(h1, 1)
    assert np.allclose(seg.targets(1.0)[0], 1.0)  # the middle waypoint at the middle time (smoothstep(0.5) = 0.5)
    times = np.linspace(0, 2, 41)
    path = np.array([seg.targets(t)[0][0] for t in times])
    assert np.all(np.diff(path) >= 0)  # monotonic along the path
    assert path[1] - path[0] < 0.2 * (path[21] - path[20])  # starts slowly (smoothstep)
    hold = Segment("hold", 1.0, arm[:1], hand)
    assert np.allclose(hold.targets(0.7)[0], 0.0)
    assert np.allclose(seg.targets(5.0)[0], 3.0)  # clamped after the end


def test_result_to_dict_is_json():
    traj = Trajectories(time=np.array([0.0, 0.01]), arm_names=ARM_JOINT_NAMES, arm=np.zeros((2, 6)),
                        hand_names=JOINT_NAMES, hand=np.zeros((2, 24)), object_position=np.zeros((2, 3)),
                        phase=["home", "home"])
    res = ExecutionResult(False, "home", "unreachable", None, "x", timings={"plan": 0.1}, trajectories=traj,
                          candidates=[CandidateReport(0, "unreachable", "IK failed")])
    data = json.loads(json.dumps(res.to_dict()))
    assert data["reason"] == "unreachable" and data["candidates"][0]["message"] == "IK failed"
    assert len(data["trajectories"]["hand"][0]) == 24
    assert PHASES == ("home", "pregrasp", "approach", "close", "lift", "hold")
    assert "slip" in REASONS and "collision" in REASONS


@pytest.mark.parametrize("duration", [0.0, -1.0])
def test_zero_duration_segment_jumps_to_the_end(duration):
    seg = Segment("close", duration, np.array([[0.0] * 6, [1.0] * 6]), np.stack([np.zeros(24), np.ones(24)]))
    assert np.allclose(seg.targets(0.0)[0], 1.0)
