"""evaluate_grasps, the report, the CLIs (evaluate, export), the config YAML and the convex decomposition cache."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import trimesh
from sim_fixtures import moved

from diffgrasp.config import load_config, to_dict
from diffgrasp.grasps import GraspSet, save_grasps
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig

REPO = Path(__file__).resolve().parents[5]


def test_yaml_equals_dataclass_defaults():
    assert to_dict(load_config(EvaluateConfig, REPO / "config" / "evaluate.yaml")) == to_dict(EvaluateConfig())


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="friction"):
        EvaluateConfig(friction=0.0)
    with pytest.raises(ValueError, match="unknown key"):
        load_config(EvaluateConfig, None, {"frictoin": 0.3})


def _set(grasps) -> GraspSet:
    return GraspSet(object_name="cylinder", mesh="cylinder.obj", grasps=list(grasps))


def test_evaluate_workers_agree_and_report(cylinder_path, power_grasp):
    far = moved(power_grasp, 0.10)
    inside = moved(power_grasp, -0.023)
    grasps = _set([far, inside, copy.deepcopy(power_grasp)])
    from diffgrasp.sim.physics_test.evaluate import evaluate_grasps
    short = EvaluateConfig(push_s=0.4)  # determinism across processes does not need the full 2 s pushes
    one = evaluate_grasps(cylinder_path, grasps, short, workers=1, progress=False, invalid={1: "grasps[1].joints: NaN"})
    two = evaluate_grasps(cylinder_path, grasps, short, workers=2, progress=False, invalid={1: "grasps[1].joints: NaN"})
    assert [r.failed_direction for r in one.results] == ["-x", "invalid", "prefilter", None]
    for a, b in zip(one.results, two.results):
        assert (a.index, a.passed, a.failed_direction, a.per_direction) == (b.index, b.passed, b.failed_direction,
                                                                            b.per_direction)
    assert one.num_submitted == 4 and one.num_passed == 1 and one.success_rate == 0.25
    assert one.results[3].q1_exact is None or one.results[3].q1_exact > 0
    d = json.loads(json.dumps(one.to_dict()))  # strict JSON (no NaN)
    assert d["summary"]["invalid"] == 1 and d["grasps"][1]["error"].startswith("grasps[1]")
    assert d["config"]["friction"] == 0.6 and d["config"]["push_s"] == 0.4
    assert d["grasps"][3]["settle_displacement_m"] < 0.01  # the power grasp's closing does not disturb the object


def _write_cylinder_grasps(path: Path, grasps, corrupt: bool) -> Path:
    save_grasps(path, _set(grasps))
    if corrupt:
        data = json.loads(path.read_text())
        data["grasps"][1]["joints"]["rh_FFJ3"] = "NaN"
        del data["grasps"][2]["joints"]["rh_THJ1"]
        path.write_text(json.dumps(data))
    return path


def test_cli_reports_invalid_grasps_per_grasp(tmp_path, cylinder_path, power_grasp, capsys):
    from diffgrasp.cli import main
    far = moved(power_grasp, 0.10)
    grasps = _write_cylinder_grasps(tmp_path / "g.json", [far, far, far], corrupt=True)
    report_path = tmp_path / "out" / "report.json"
    assert main(["evaluate", cylinder_path, str(grasps), "-o", str(report_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "grasps[1].joints.rh_FFJ3" in out and "grasps[2].joints: missing joint(s) rh_THJ1" in out
    assert "0/3 passed" in out
    report = json.loads(report_path.read_text())
    assert [g["failed_direction"] for g in report["grasps"]] == ["-x", "invalid", "invalid"]
    assert report["summary"]["success_rate"] == 0.0


def test_cli_broken_file_is_one_line_error(tmp_path, cylinder_path, capsys):
    from diffgrasp.cli import main
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "other/9", "grasps": []}))
    assert main(["evaluate", cylinder_path, str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown format" in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as exit_:  # checked by the argument parser, before anything is loaded
        main(["evaluate", str(tmp_path / "missing.obj"), str(bad)])
    assert exit_.value.code == 2 and "no such file: " + str(tmp_path / "missing.obj") in capsys.readouterr().err


def test_export_dexgraspbench(tmp_path, power_grasp, capsys):
    from diffgrasp.cli import main
    from diffgrasp.grasps import to_dexgraspbench_qpos
    grasps = _write_cylinder_grasps(tmp_path / "g.json", [power_grasp, moved(power_grasp, 0.01)], corrupt=False)
    assert main(["export", str(grasps), "--format", "dexgraspbench", "-o", str(tmp_path / "q.npy")]) == 0
    q = np.load(tmp_path / "q.npy")
    assert q.shape == (2, 29)
    assert np.allclose(q[0], to_dexgraspbench_qpos(power_grasp))
    assert main(["export", str(grasps), "-o", str(tmp_path / "q.json")]) == 0
    d = json.loads((tmp_path / "q.json").read_text())
    assert len(d["grasps"]) == 2 and len(d["grasps"][0]["squeeze_qpos"]) == 29
    # pregrasp root backs off 3 mm along palm +y (the §7 default), squeeze closes further
    assert math.isclose(np.linalg.norm(np.subtract(d["grasps"][0]["pregrasp_qpos"][:3], q[0][:3])), 0.003, rel_tol=1e-6)
    assert main(["export", str(grasps), "-o", str(tmp_path / "q.txt")]) == 2


def test_convex_mesh_skips_coacd_and_nonconvex_is_cached(tmp_path, monkeypatch):
    from diffgrasp.geometry import convex_decomposition as cd
    monkeypatch.setenv("DIFFGRASP_CACHE", str(tmp_path / "cache"))
    box = trimesh.creation.box(extents=[0.05, 0.04, 0.03])
    pieces = cd.convex_pieces(box, progress=False)
    assert len(pieces) == 1 and not (tmp_path / "cache").exists()
    # an L shape (two boxes, not convex); fast CoACD settings
    a = trimesh.creation.box(extents=[0.06, 0.02, 0.02])
    b = trimesh.creation.box(extents=[0.02, 0.06, 0.02])
    b.apply_translation([-0.02, 0.02, 0.0])
    shape = trimesh.boolean.union([a, b])
    assert not shape.is_convex
    fast = cd.CoacdConfig(threshold=0.1, preprocess_resolution=20, resolution=500, mcts_iterations=20, mcts_nodes=5)
    pieces = cd.convex_pieces(shape, fast, progress=False)
    assert len(pieces) >= 2
    assert all(trimesh.Trimesh(v, f).is_convex or len(f) >= 4 for v, f in pieces)
    assert np.allclose(np.vstack([v for v, _ in pieces]).min(0), shape.bounds[0], atol=2e-3)
    files = list((tmp_path / "cache" / "coacd").glob("*.npz"))
    assert len(files) == 1 and files[0].stem == cd.mesh_key(shape, fast)
    monkeypatch.setattr("coacd.run_coacd", lambda *a, **k: pytest.fail("cache not used"))
    again = cd.convex_pieces(shape, fast, progress=False)
    assert len(again) == len(pieces) and all(np.array_equal(x[0], y[0]) for x, y in zip(again, pieces))
    assert cd.mesh_key(shape, fast) != cd.mesh_key(shape, cd.CoacdConfig())


def test_cli_render_writes_png_per_grasp(tmp_path, cylinder_path, power_grasp, capsys):
    from PIL import Image

    from diffgrasp.cli import main
    far = moved(power_grasp, 0.10)
    grasps = _write_cylinder_grasps(tmp_path / "g.json", [far, far, far], corrupt=True)
    assert main(["evaluate", cylinder_path, str(grasps), "--render", str(tmp_path / "png"), "--quiet"]) == 0
    files = sorted((tmp_path / "png").glob("*.png"))
    assert [f.name for f in files] == ["grasp_000.png"]  # invalid grasps have nothing to render
    image = np.asarray(Image.open(files[0]).convert("RGB"))
    assert image.shape[1] == 3 * image.shape[0] - 3 * 18 and image.std() > 10  # three views, not blank
