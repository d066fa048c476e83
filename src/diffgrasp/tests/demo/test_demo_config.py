"""config/demo.yaml mirrors DemoConfig; invalid settings and the bundled objects give clear errors / valid meshes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from diffgrasp.config import load_config, to_dict
from diffgrasp.demo.config import (
    DEFAULT_OBJECT,
    FAST,
    SCAN_COACD,
    DemoConfig,
    default_object_path,
    resolve_config_path,
)
from diffgrasp.geometry import ObjectModel
from diffgrasp.geometry.convex_decomposition import CoacdConfig
from diffgrasp.planning import PlannerConfig

CONFIG = Path(__file__).resolve().parents[4] / "config"


def test_demo_yaml_equals_defaults():
    assert to_dict(load_config(DemoConfig, CONFIG / "demo.yaml")) == to_dict(DemoConfig())


def test_fast_overrides_are_valid_and_coarser():
    fast = load_config(DemoConfig, None, FAST)
    default = DemoConfig()
    assert fast.planner.min_candidates < default.planner.min_candidates
    assert fast.planner.optim.iterations < default.planner.optim.iterations
    assert fast.planner.time_budget_s < default.planner.time_budget_s
    # only those three: the rest of the planner is the demo's
    assert fast.planner == dataclasses.replace(default.planner, min_candidates=16, time_budget_s=30.0,
                                               optim=dataclasses.replace(default.planner.optim, iterations=40))


def test_demo_planner_is_the_old_override_rule():
    """Issue 22: the demo's planner nests in DemoConfig instead of being overwritten in code. The nested default is
    exactly what the old rule (the planner YAML's defaults, then init random, min_candidates = planner_candidates,
    candidates_per_grasp 1, time_budget_s, optim.iterations, physics_rank enabled + the scan's CoACD, reseed.rounds
    from the flat demo keys) gave, value for value."""
    base = PlannerConfig()
    scan_coacd = CoacdConfig(threshold=0.1, max_convex_hull=8, preprocess_resolution=20, resolution=500,
                             mcts_iterations=20, mcts_nodes=10)
    old_rule = dataclasses.replace(
        base, init="random", min_candidates=96, candidates_per_grasp=1, time_budget_s=90.0,
        optim=dataclasses.replace(base.optim, iterations=150),
        physics_rank=dataclasses.replace(base.physics_rank, enabled=True, coacd=scan_coacd),
        reseed=dataclasses.replace(base.reseed, rounds=0, fresh_rounds=0))
    assert DemoConfig().planner == old_rule
    assert to_dict(DemoConfig().planner) == to_dict(old_rule)
    assert to_dict(load_config(DemoConfig, CONFIG / "demo.yaml").planner) == to_dict(old_rule)
    assert to_dict(load_config(PlannerConfig, CONFIG / "planner.yaml")) == to_dict(base)  # the YAML it started from


def test_demo_planner_takes_the_network_stage_grasps_and_fills_with_random_starts(tmp_path):
    """The network stage already passed the predictions from above the table: the planner must not ask the network
    again for the rest (init network would, and keep copies of predictions rejected for the table); a demo YAML sets
    the planner in its planner mapping."""
    default = DemoConfig().planner
    assert default.init == "random" and default.candidates_per_grasp == 1
    assert default.physics_rank.coacd == SCAN_COACD
    assert default.reseed.rounds == 0  # the rehearsal picks the grasp ...
    demo_yaml = tmp_path / "demo.yaml"
    demo_yaml.write_text("planner:\n  min_candidates: 40\n  reseed:\n    rounds: 2\n")
    cfg = load_config(DemoConfig, demo_yaml).planner
    assert cfg.min_candidates == 40 and cfg.reseed.rounds == 2  # ... unless asked


@pytest.mark.parametrize(("override", "match"), [
    ({"noise": "kinect"}, "noise"),
    ({"num_grasps": 0}, "num_grasps"),
    ({"planner": {"time_budget_s": 0.0}}, "planner.time_budget_s"),
    ({"planner": {"reseed": {"rounds": -1}}}, "planner.reseed"),
    ({"planner": {"optim": {"iterations": 0}}}, "planner.optim.iterations"),
    ({"planner": {"bogus": 1}}, "unknown key"),
    ({"planner_candidates": 96}, "unknown key"),  # the flat keys of before issue 22 are gone
    ({"execution": {"render_size": (8, 8)}}, "render_size"),
    ({"render_size": (480, 360)}, "unknown key"),  # moved into execution: (issue 22)
    ({"fusion_config": "x.yaml"}, "unknown key"),  # the fusion settings nest under fusion:
    ({"bogus": 1}, "unknown key"),
])
def test_invalid_demo_config_is_rejected(override, match):
    with pytest.raises(ValueError, match=match):
        load_config(DemoConfig, None, override)


def test_bundled_objects_are_watertight_with_attribution():
    path = default_object_path()
    assert path.is_file() and path.name == DEFAULT_OBJECT[-1]
    for obj in sorted(path.parent.glob("*.obj")):
        model = ObjectModel.from_file(obj)  # validates: watertight, consistent winding, positive volume
        assert 0.01 < max(model.mesh.extents) < 0.15
    readme = (path.parent / "README.md").read_text()
    assert "CC BY 4.0" in readme and "modified" in readme and "Calli" in readme


def test_resolve_config_path_finds_repo_files_and_names_missing_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the repository root: falls back to the repository that holds the package
    assert resolve_config_path("config/cameras_sim.yaml").is_file()
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        resolve_config_path("config/nope.yaml")
