"""The whole embedded pipeline (``diffgrasp demo --fast``) on the small bundled block: it completes, the exit code
matches the report, and the report, grasp files, capture and pictures are written and consistent.

One ``--fast`` run for the module: 14-27 s on the 2 shared development cores (not marked slow)."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffgrasp import cli
from diffgrasp.data import data_path
from diffgrasp.demo import NO_CHECKPOINT_NOTE, NO_LIFTABLE_GRASP
from diffgrasp.demo.grasps import map_grasps as _map_grasps
from diffgrasp.execution import REASONS
from diffgrasp.grasps import load_grasps
from diffgrasp.network import default_checkpoint_path
from diffgrasp.perception import read_capture

STAGES = ["load", "capture", "fusion", "network", "refine", "verify", "execute", "outputs"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    obj = data_path("objects", "070-b_colored_wood_blocks.obj")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))  # the CLI sets it; restore afterwards
        rc = cli.main(["demo", "--object", str(obj), "--output-dir", str(out), "--seed", "1", "--fast", "--quiet"])
    return rc, out, json.loads((out / "report.json").read_text()), stdout.getvalue()


def test_exit_code_matches_report(demo_run):
    rc, _, report, stdout = demo_run
    assert report["format"] == "diffgrasp.demo_report/1"
    assert rc == (0 if report["success"] else 1)
    assert report["reason"] in (*REASONS, NO_LIFTABLE_GRASP)
    assert (report["reason"] == "ok") == report["success"]
    assert report["message"]
    assert [s["name"] for s in report["stages"]] == STAGES
    assert report["total_seconds"] == pytest.approx(sum(s["seconds"] for s in report["stages"]))
    for name in STAGES:  # the stage table is printed
        assert name in stdout
    assert ("LIFTED" if report["success"] else "FAILED") in stdout


def test_network_stage_says_what_it_did(demo_run):
    _, _, report, stdout = demo_run
    stage = report["stages"][STAGES.index("network")]
    if not default_checkpoint_path().is_file():
        assert stage["status"] == "skipped" and NO_CHECKPOINT_NOTE in stage["note"]
        assert report["network"]["used"] is False and report["network"]["note"] == NO_CHECKPOINT_NOTE
        assert NO_CHECKPOINT_NOTE in stdout
    else:
        assert stage["status"] == "ok" and report["network"]["used"] is True


def test_fusion_perceives_the_true_object(demo_run):
    _, out, report, _ = demo_run
    p = report["perception"]
    assert p["watertight"] and p["fused_faces"] > 100
    assert p["chamfer_mean_mm"] < 3.0
    assert p["centre_error_mm"] < 5.0
    perceived, true = np.array(p["perceived_pose_world"]), np.array(p["true_pose_world"])
    assert abs(true[2, 3]) < 0.01  # the block rests on the table (its file frame is z-up on z ~ 0)
    assert perceived[:3, 2] @ [0.0, 0.0, 1.0] > 0.999  # fused frame z = table normal
    capture = read_capture(out / "capture")
    assert len(capture.names) == 4 and capture.metadata["object_pose_world"]


def test_grasp_files_are_consistent(demo_run):
    _, out, report, _ = demo_run
    fused = load_grasps(out / "grasps.json")
    in_true = load_grasps(out / "grasps_true_frame.json")
    assert len(fused.grasps) == len(in_true.grasps) == report["planning"]["num_grasps"] >= 1
    assert fused.mesh == "fused_mesh.obj" and (out / "fused_mesh.obj").is_file()
    p = report["perception"]
    to_true = np.linalg.inv(np.array(p["true_pose_world"])) @ np.array(p["perceived_pose_world"])
    (expected,) = _map_grasps(fused.grasps[:1], to_true)
    np.testing.assert_allclose(in_true.grasps[0].palm_position, expected.palm_position, atol=1e-6)
    planning = report["planning"]
    assert planning["status"] in ("succeeded", "time_budget") and planning["iterations"] >= 1


def test_execution_outcome_is_explained(demo_run):
    _, out, report, _ = demo_run
    ex = report["execution"]
    if report["reason"] == NO_LIFTABLE_GRASP:  # nothing lifted in the rehearsal: the arm was not moved
        assert "not moved" in ex["skipped"] and not report["verification"]["passed"]
        assert not (out / "execution.png").exists() and not (out / "trajectory.json").exists()
        return
    assert ex["reason"] == report["reason"]
    if ex["grasp_index"] is None:  # nothing executed: every candidate says why
        assert ex["candidates"] and all(c["reason"] != "ok" and c["message"] for c in ex["candidates"])
        assert not (out / "execution.png").exists()
    else:
        assert ex["phase_reached"] in ("pregrasp", "approach", "close", "lift", "hold")
        assert (out / "trajectory.json").is_file() and (out / "execution.png").is_file()


def test_verification_orders_the_executed_grasps(demo_run):
    _, _, report, _ = demo_run
    ver, ex = report["verification"], report["execution"]
    n = report["planning"]["num_grasps"]
    assert sorted(ver["order"]) == list(range(n))
    assert ver["order"][: len(ver["passed"])] == ver["passed"]
    assert 1 <= len(ver["tested"]) <= report["config"]["demo"]["verify_grasps"]
    assert ex["planner_rank"] == (None if ex["grasp_index"] is None else ver["order"][ex["grasp_index"]])


@pytest.mark.parametrize("name", ["cameras.png", "fusion.png", "scene.png", "grasp_00.png"])
def test_pictures_are_real_images(demo_run, name):
    _, out, report, _ = demo_run
    assert name in report["files"]
    with Image.open(out / name) as im:
        img = np.asarray(im.convert("RGB"))
    assert img.shape[0] >= 200 and img.shape[1] >= 300
    assert img.std() > 10  # not a blank buffer


def test_outputs_written_atomically(demo_run):
    _, out, report, _ = demo_run
    assert not list(Path(out).rglob("*.tmp*"))  # no temp files left behind
    for f in report["files"]:
        assert (out / f).is_file(), f
