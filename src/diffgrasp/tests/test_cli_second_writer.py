"""Concurrent writers (issue 25): while one process writes an output, a second command writing the same file or folder
fails at once with one line naming it and the holder's pid (exit 2), before any work, and touches nothing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import trimesh

from diffgrasp import cli
from diffgrasp.grasps import Grasp, GraspSet, save_grasps
from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp.io import output_lock
from diffgrasp_training import cli as train_cli

REPO_ROOT = Path(__file__).resolve().parents[3]

# command → (argv from the prepared files, the output it writes); {tmp} is the test's folder
CASES = {
    "plan": (["plan", "{tmp}/box.obj", "-o", "{tmp}/out.json"], "out.json"),
    "export": (["export", "{tmp}/grasps.json", "-o", "{tmp}/out.npy"], "out.npy"),
    "capture": (["capture", "--simulate", "{tmp}/box.obj", "-o", "{tmp}/cap"], "cap"),
    "fuse": (["fuse", "{tmp}/cap_in", "-o", "{tmp}/fused.obj"], "fused.obj"),
    "demo": (["demo", "--object", "{tmp}/box.obj", "--output-dir", "{tmp}/demo"], "demo"),
    "generate": (["generate", "{tmp}/data", "--procedural", "1"], "data"),
}


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_second_writer_fails_with_one_line(command: str, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("DIFFGRASP_CACHE", str(tmp_path / "cache"))
    trimesh.creation.box(extents=(0.05, 0.05, 0.08)).export(tmp_path / "box.obj")
    grasp = Grasp(np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0]), {n: 0.0 for n in FINGER_JOINT_NAMES})
    save_grasps(tmp_path / "grasps.json", GraspSet("box", "box.obj", [grasp]))
    from diffgrasp.perception.capture import Capture, write_capture

    K = np.array([[4.0, 0, 1.5], [0, 4.0, 1.5], [0, 0, 1]])
    write_capture(tmp_path / "cap_in", Capture(("cam0",), np.full((1, 4, 4), 0.5, np.float32), K[None],
                                               np.eye(4)[None], np.zeros(1)))
    argv_template, written = CASES[command]
    argv = [a.format(tmp=tmp_path) for a in argv_template]
    target = tmp_path / written
    before = sorted(p.name for p in tmp_path.iterdir())
    capsys.readouterr()
    with output_lock(target):                          # the first writer, still at work
        main = train_cli.main if command == "generate" else cli.main
        rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "being written by another process" in err and str(target) in err and f"pid {os.getpid()}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before    # nothing written, the lock file removed
