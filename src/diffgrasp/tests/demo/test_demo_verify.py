"""Verification stage (``diffgrasp.demo.verify``): the rehearsal on the perceived object in real MuJoCo, and the
order it gives the execution."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import trimesh

from diffgrasp.config import load_config
from diffgrasp.data import data_path
from diffgrasp.demo import FAST, NO_LIFTABLE_GRASP, DemoConfig, run_pipeline
from diffgrasp.demo import pipeline as demo_pipeline
from diffgrasp.demo.pipeline import _enough_fingers
from diffgrasp.demo.verify import Rehearsal, rehearse_grasps, verified_order
from diffgrasp.execution import ExecutionConfig
from diffgrasp.grasps import Grasp
from diffgrasp.hand.names import FINGER_JOINT_NAMES
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


def test_nothing_is_executed_when_no_rehearsal_lifts(tmp_path, monkeypatch):
    """Issue 21: the demo executed grasp 0 (0 contacts) after 0 of 16 lifted in the rehearsal. Now the arm is not
    moved, the run ends no_liftable_grasp with the reason in report.json, and re-planning stops at the time limit."""
    def nothing_lifts(mesh, pose, grasps, exec_cfg, max_grasps, max_passes, seed=0, shrink_m=0.0):
        return Rehearsal([{"rank": i, "reason": "slip", "lift_m": 0.0} for i in range(min(len(grasps), max_grasps))])

    monkeypatch.setattr(demo_pipeline, "rehearse_grasps", nothing_lifts)
    config = dataclasses.replace(load_config(DemoConfig, None, FAST), verify_replans=2, time_limit_s=1.0)
    report = run_pipeline(data_path("objects", "070-b_colored_wood_blocks.obj"), tmp_path, seed=0, config=config,
                          progress=False)
    assert not report.success and report.reason == NO_LIFTABLE_GRASP and "not moved" in report.message
    stages = {s.name: s.status for s in report.stages}
    assert stages["verify"] == "failed" and stages["execute"] == "skipped" and "outputs" in stages
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["reason"] == NO_LIFTABLE_GRASP and saved["execution"]["grasp_index"] is None
    rounds = saved["verification"]["rounds"]
    assert len(rounds) == 2 and "limit" in rounds[-1]["skipped"]  # the re-plan would have passed 1 s
    assert not (tmp_path / "execution.png").exists() and (tmp_path / "scene.png").is_file()


def test_grasps_with_too_few_touching_fingers_are_not_offered():
    def grasp(fingers):
        return Grasp(palm_position=np.zeros(3), palm_quaternion_xyzw=np.array([0.0, 0.0, 0.0, 1.0]),
                     joints=dict.fromkeys(FINGER_JOINT_NAMES, 0.0), metrics={"touching_fingers": fingers})

    grasps = [grasp(0), grasp(3), grasp(1), grasp(2)]
    assert [g.metrics["touching_fingers"] for g in _enough_fingers(grasps, 2)] == [3, 2]
    assert _enough_fingers(grasps[:1], 2) == grasps[:1]  # none has enough: all stay (verification decides)
