"""``diffgrasp plan`` end to end (small settings), the render, and the DexGraspNet-style baseline."""

from __future__ import annotations

import yaml
from PIL import Image

from diffgrasp.cli import main
from diffgrasp.config import to_dict
from diffgrasp.grasps import load_grasps
from diffgrasp.planning import OptimConfig, PlannerConfig, plan_grasps


def _small_config(tmp_path, **kw):
    cfg = PlannerConfig(min_candidates=8, candidates_per_grasp=1, optim=OptimConfig(iterations=10), **kw)
    path = tmp_path / "planner.yaml"
    path.write_text(yaml.safe_dump(to_dict(cfg)))
    return path


def test_plan_cli_writes_grasps_and_png(tmp_path, capsys):
    import trimesh

    mesh = tmp_path / "cyl.obj"
    trimesh.creation.cylinder(radius=0.03, height=0.1, sections=32).export(mesh)
    out, png = tmp_path / "g.json", tmp_path / "g.png"
    rc = main(["plan", str(mesh), "-k", "2", "--config", str(_small_config(tmp_path)), "-o", str(out),
               "--render", str(png)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    grasps = load_grasps(out)
    assert 1 <= len(grasps.grasps) <= 2 and grasps.object_name == "cyl"
    assert "wrote" in printed and Image.open(png).size[0] > 300


def test_plan_cli_bad_mesh_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.obj"
    bad.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    assert main(["plan", str(bad), "-k", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.obj" in err[0]


def test_dexgraspnet_baseline_runs_on_the_same_parts(tmp_path):
    import trimesh

    mesh = tmp_path / "box.obj"
    trimesh.creation.box(extents=(0.05, 0.05, 0.08)).export(mesh)
    cfg = PlannerConfig(method="dexgraspnet", min_candidates=8, candidates_per_grasp=1,
                        optim=OptimConfig(iterations=10))
    result = plan_grasps(mesh, k=3, seed=1, config=cfg)
    assert result.iterations == 9 and result.num_candidates == 8
    assert {"fc", "distance", "penetration", "self_penetration", "joint_limits"} <= set(result.loss_terms)
    for g in result.grasps:
        assert g.metrics["penetration_m"] <= cfg.post.max_penetration_m
