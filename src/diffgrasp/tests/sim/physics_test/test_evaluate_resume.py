"""evaluate_grasps keeps its work: partial reports while running and when interrupted, resume from them, refuse a
report of another run, and a lock against a second writer of the same report."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
from sim_fixtures import moved

from diffgrasp.errors import DiffgraspError
from diffgrasp.grasps import GraspSet, save_grasps
from diffgrasp.io import OutputLockedError
from diffgrasp.sim.physics_test.evaluate import evaluate_grasps
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig

SHORT = EvaluateConfig(push_s=0.4)  # the verdicts do not matter here, only that they are the same
TIMINGS = ("seconds", "decomposition_seconds")


def _set(grasps) -> GraspSet:
    return GraspSet(object_name="cylinder", mesh="cylinder.obj", grasps=list(grasps))


@pytest.fixture(scope="module")
def five(power_grasp):
    return _set([moved(power_grasp, d) for d in (0.0, 0.1, 0.002, -0.023, 0.004)])


def _strip(report: dict) -> dict:
    """The report without wall-clock timings."""
    out = copy.deepcopy(report)
    for key in TIMINGS:
        out["summary"].pop(key, None)
    for g in out["grasps"]:
        g.pop("seconds")
    return out


class Stop(KeyboardInterrupt):
    pass


def test_interrupted_run_leaves_a_partial_report_and_resume_completes_it(tmp_path, cylinder_path, five):
    out = tmp_path / "report.json"
    invalid = {2: "grasps[2].joints: NaN"}
    whole = evaluate_grasps(cylinder_path, five, SHORT, progress=False, invalid=invalid,
                            report_path=tmp_path / "whole.json")
    seen = []

    def interrupt_after_three(result) -> None:
        seen.append(result.index)
        if len(seen) == 3:
            raise Stop

    with pytest.raises(Stop):
        evaluate_grasps(cylinder_path, five, SHORT, progress=False, invalid=invalid, report_path=out,
                        on_result=interrupt_after_three, checkpoint_every=100)  # the interrupt writes it
    partial = json.loads(out.read_text())
    assert partial["partial"] == {"done": 4, "total": 6}  # three evaluated + the invalid one
    assert [g["index"] for g in partial["grasps"]] == [0, 1, 2, 3] and partial["summary"]["submitted"] == 4
    assert partial["inputs"]["grasps_sha256"] and partial["inputs"]["config"]["push_s"] == 0.4

    resumed_indices = []
    final = evaluate_grasps(cylinder_path, five, SHORT, progress=False, invalid=invalid, report_path=out, resume=True,
                            on_result=lambda r: resumed_indices.append(r.index))
    assert resumed_indices == [4, 5]  # only the missing ones ran
    written = json.loads(out.read_text())
    assert "partial" not in written
    assert _strip(written) == _strip(whole.to_dict()) == _strip(json.loads((tmp_path / "whole.json").read_text()))
    assert _strip(final.to_dict()) == _strip(written)


def test_checkpoints_are_written_while_running(tmp_path, cylinder_path, five):
    out = tmp_path / "report.json"
    sizes = []
    evaluate_grasps(cylinder_path, five, SHORT, progress=False, report_path=out, checkpoint_every=1,
                    on_result=lambda r: sizes.append(json.loads(out.read_text()).get("partial")))
    assert sizes[0] == {"done": 1, "total": 5} and sizes[3] == {"done": 4, "total": 5}


def test_resume_refuses_a_report_of_another_run(tmp_path, cylinder_path, five, power_grasp):
    out = tmp_path / "report.json"
    evaluate_grasps(cylinder_path, five, SHORT, progress=False, report_path=out)
    other = _set(list(five.grasps)[:4])
    for kwargs, what in (({"grasp_set": other, "config": SHORT}, "another grasp set"),
                         ({"grasp_set": five, "config": EvaluateConfig(push_s=0.5)}, "another configuration")):
        with pytest.raises(DiffgraspError) as err:
            evaluate_grasps(cylinder_path, progress=False, report_path=out, resume=True, **kwargs)
        assert str(err.value) == (f"{out}: cannot resume: the report is of {what}; remove it or write to another "
                                  "report")
    out.write_text("{not json")
    with pytest.raises(DiffgraspError, match="not a readable evaluation report"):
        evaluate_grasps(cylinder_path, five, SHORT, progress=False, report_path=out, resume=True)
    fresh = tmp_path / "none.json"  # nothing to resume from: a normal run
    report = evaluate_grasps(cylinder_path, five, SHORT, progress=False, report_path=fresh, resume=True)
    assert report.num_submitted == 5 and "partial" not in json.loads(fresh.read_text())


def test_second_writer_of_a_report_is_refused(tmp_path, cylinder_path, five):
    out = tmp_path / "report.json"
    holder = subprocess.Popen([sys.executable, "-c", "import sys\nfrom diffgrasp.io import output_lock\n"
                               "with output_lock(sys.argv[1]):\n    print('locked', flush=True)\n"
                               "    sys.stdin.readline()", str(out)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputLockedError, match=f"pid {holder.pid}"):
            evaluate_grasps(cylinder_path, five, SHORT, progress=False, report_path=out)
    finally:
        holder.communicate("\n", timeout=30)
    assert not out.exists()


def test_cli_resume_flag(tmp_path, cylinder_path, power_grasp, capsys):
    from diffgrasp.cli import main

    grasps = tmp_path / "g.json"
    save_grasps(grasps, _set([power_grasp, moved(power_grasp, 0.1)]))
    out = tmp_path / "r.json"
    assert main(["evaluate", cylinder_path, str(grasps), "-o", str(out), "--quiet"]) == 0
    first = json.loads(out.read_text())
    assert main(["evaluate", cylinder_path, str(grasps), "-o", str(out), "--quiet", "--resume"]) == 0
    assert _strip(json.loads(out.read_text())) == _strip(first)  # nothing left to do: the same report
    save_grasps(grasps, _set([power_grasp]))
    capsys.readouterr()
    assert main(["evaluate", cylinder_path, str(grasps), "-o", str(out), "--quiet", "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot resume: the report is of another grasp set" in err[0]
