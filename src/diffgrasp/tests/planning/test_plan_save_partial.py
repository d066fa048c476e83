"""``diffgrasp plan`` as a real process: --save-partial on SIGINT/SIGTERM, a plain Ctrl-C, the output lock and the
time budget's status in the written file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import trimesh
import yaml

from diffgrasp.config import to_dict
from diffgrasp.grasps import load_grasps
from diffgrasp.io import output_lock
from diffgrasp.planning import InitConfig, OptimConfig, PhysicsRankConfig, PlannerConfig, ReseedConfig

# Long enough to be interrupted during refinement (thousands of iterations), small otherwise.
SLOW = PlannerConfig(init_config=InitConfig(pinch_fraction=0.0), min_candidates=8, candidates_per_grasp=1,
                     optim=OptimConfig(iterations=100_000, feedback_every=1),
                     reseed=ReseedConfig(rounds=0, fresh_rounds=0),
                     physics_rank=PhysicsRankConfig(threads=1))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan")
    mesh = folder / "box.obj"
    trimesh.creation.box(extents=(0.05, 0.06, 0.09)).export(mesh)
    config = folder / "slow.yaml"
    config.write_text(yaml.safe_dump(to_dict(SLOW)))
    return mesh, config


def _start(mesh, config, out, *flags) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Ctrl-C as a terminal delivers it: a suite started as a background job of a non-interactive shell has SIGINT
    # ignored, which the child would inherit (Python then installs no KeyboardInterrupt handler)
    return subprocess.Popen([sys.executable, "-m", "diffgrasp.cli", "plan", str(mesh), "-k", "4", "--config",
                             str(config), "-o", str(out), *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _interrupt_during_refinement(proc: subprocess.Popen, signum: int) -> tuple[str, str]:
    """Wait for the progress bar to pass a few iterations, send ``signum``, return (stdout, stderr)."""
    seen = ""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        seen += os.read(proc.stderr.fileno(), 4096).decode(errors="replace")
        if "it/s" in seen or "s/it" in seen:  # the bar has a rate once a few iterations ran
            break
    assert proc.poll() is None, seen
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=240)
    return out, seen + err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_save_partial_writes_the_best_grasps_so_far(tmp_path, inputs, signum):
    mesh, config = inputs
    out = tmp_path / "g.json"
    proc = _start(mesh, config, out, "--save-partial")
    _, err = _interrupt_during_refinement(proc, signum)
    assert proc.returncode == 130, err
    data = json.loads(out.read_text())
    assert data["planning"]["status"] == "interrupted"
    assert len(load_grasps(out).grasps) >= 1  # a valid grasp file
    assert "best" in err and "grasps so far" in err and "Traceback" not in err
    assert not (tmp_path / ".g.json.lock").exists()


def test_plain_interrupt_writes_nothing(tmp_path, inputs):
    mesh, config = inputs
    out = tmp_path / "g.json"
    out.write_text("previous")
    proc = _start(mesh, config, out)
    _, err = _interrupt_during_refinement(proc, signal.SIGINT)
    assert proc.returncode == 130 and "interrupted" in err.splitlines()[-1] and "Traceback" not in err
    assert out.read_text() == "previous"


def test_second_plan_on_the_same_output_fails_before_work(tmp_path, inputs):
    from diffgrasp.cli import main

    mesh, config = inputs
    out = tmp_path / "g.json"
    with output_lock(out):
        started = time.monotonic()
        assert main(["plan", str(mesh), "-o", str(out), "--config", str(config)]) == 2
    assert time.monotonic() - started < 60 and not out.exists()


def test_time_budget_status_is_written_and_said(tmp_path, inputs, capsys):
    from diffgrasp.cli import main

    mesh, config = inputs
    out = tmp_path / "g.json"
    rc = main(["plan", str(mesh), "-k", "2", "-o", str(out), "--config", str(config), "--time-budget", "8"])
    err = capsys.readouterr().err
    assert "diffgrasp plan: note: time budget 8 s: refinement stopped after" in err
    if rc == 0:  # a loaded machine may have no grasp ready in 8 s: then nothing is written (exit 1)
        assert json.loads(out.read_text())["planning"]["status"] == "time_budget"
    else:
        assert rc == 1 and "no grasp ready within the time budget" in err and not out.exists()


def test_time_budget_counts_from_the_process_start_only_for_the_console_script(tmp_path, inputs, capsys,
                                                                               monkeypatch):
    """A process that started long ago: the console script (whole_process) counts its start-up in the budget;
    ``main`` called inside a longer-lived process (a library caller, this test) counts from the command line."""
    import time

    from diffgrasp.cli import main
    from diffgrasp.planning import deadline

    monkeypatch.setattr(deadline, "process_start", lambda clock=time.perf_counter: clock() - 100.0)
    mesh, config = inputs
    out = tmp_path / "g.json"
    args = ["plan", str(mesh), "-k", "2", "-o", str(out), "--config", str(config), "--time-budget", "8"]
    assert main(args, whole_process=True) == 1
    assert "spent starting up (100." in capsys.readouterr().err and not out.exists()
    main(args)
    assert "spent starting up" not in capsys.readouterr().err
