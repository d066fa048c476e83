"""config/demo.yaml mirrors DemoConfig; invalid settings and the bundled objects give clear errors / valid meshes."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffgrasp.config import load_config, to_dict
from diffgrasp.demo.config import FAST, DemoConfig
from diffgrasp.demo.pipeline import DEFAULT_OBJECT, default_object_path, resolve_config_path

CONFIG = Path(__file__).resolve().parents[4] / "config"


def test_demo_yaml_equals_defaults():
    assert to_dict(load_config(DemoConfig, CONFIG / "demo.yaml")) == to_dict(DemoConfig())


def test_fast_overrides_are_valid_and_coarser():
    fast = load_config(DemoConfig, None, FAST)
    default = DemoConfig()
    assert fast.planner_candidates < default.planner_candidates
    assert fast.planner_iterations < default.planner_iterations
    assert fast.planner_time_budget_s < default.planner_time_budget_s


def test_demo_planner_takes_the_network_stage_grasps_and_fills_with_random_starts(tmp_path):
    """The network stage already passed the predictions from above the table: the planner must not ask the network
    again for the rest (init network would, and keep copies of predictions rejected for the table), even when the
    user's planner YAML says init network; the demo's own settings override the YAML's."""
    from diffgrasp.demo.pipeline import demo_planner_config

    planner_yaml = tmp_path / "planner.yaml"
    planner_yaml.write_text("init: network\nmin_candidates: 7\n")
    cfg = demo_planner_config(DemoConfig(planner_config=str(planner_yaml), planner_candidates=40))
    assert cfg.init == "random" and cfg.min_candidates == 40 and cfg.candidates_per_grasp == 1
    assert cfg.physics_rank.coacd == DemoConfig().scan_coacd
    assert cfg.reseed.rounds == 0  # the demo's own default (the rehearsal picks the grasp) ...
    assert demo_planner_config(DemoConfig(planner_reseed_rounds=2)).reseed.rounds == 2  # ... unless asked


@pytest.mark.parametrize(("override", "match"), [
    ({"noise": "kinect"}, "noise"),
    ({"num_grasps": 0}, "num_grasps"),
    ({"planner_time_budget_s": 0.0}, "planner_time_budget_s"),
    ({"planner_reseed_rounds": -1}, "planner_reseed_rounds"),
    ({"render_size": (8, 8)}, "render_size"),
    ({"bogus": 1}, "unknown key"),
])
def test_invalid_demo_config_is_rejected(override, match):
    with pytest.raises(ValueError, match=match):
        load_config(DemoConfig, None, override)


def test_bundled_objects_are_watertight_with_attribution():
    from diffgrasp.geometry import ObjectModel

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
