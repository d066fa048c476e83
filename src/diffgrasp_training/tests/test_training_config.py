"""The reference grasps' planner nests in the dataset config (issue 22): ``dataset.planner`` is a whole PlannerConfig,
written in YAML as a partial ``planner:`` mapping of what training changes; it replaces the flat ``planner_config`` /
``planner_time_budget_s`` keys with the same effective settings."""

from __future__ import annotations

import dataclasses
import os
import types
from pathlib import Path

import pytest

from diffgrasp.config import load_config
from diffgrasp.errors import ConfigError
from diffgrasp.planning import PlannerConfig
from diffgrasp_training.cli import _configs, build_parser
from diffgrasp_training.generate import PlannerGrasps, generate_dataset
from diffgrasp_training.train_config import DatasetConfig, TrainConfig, reference_planner

REPO = Path(__file__).resolve().parents[3]
FILES = (REPO / "config" / "training.yaml", REPO / "src" / "diffgrasp" / "diffgrasp" / "data" / "network" /
         "training.yaml")
# What the flat keys gave (generate.PlannerGrasps before issue 22): planner_config '' → PlannerConfig(init="random"),
# then planner_time_budget_s 60.0 → dataclasses.replace(..., time_budget_s=60.0).
OLD_RULE = dataclasses.replace(PlannerConfig(init="random"), time_budget_s=60.0)


def test_the_nested_planner_equals_the_old_flat_rule():
    assert reference_planner() == OLD_RULE == DatasetConfig().planner == TrainConfig().dataset.planner
    for path in FILES:
        assert load_config(TrainConfig, path).dataset.planner == OLD_RULE, path


def test_a_partial_planner_mapping_updates_the_reference_planner(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("dataset:\n  planner:\n    optim: {iterations: 5}\n")
    planner = load_config(TrainConfig, path).dataset.planner
    assert planner == dataclasses.replace(OLD_RULE, optim=dataclasses.replace(OLD_RULE.optim, iterations=5))
    path.write_text("dataset:\n  planner:\n    time_budget_s: null\n")  # no cap: the planner's own (none)
    assert load_config(TrainConfig, path).dataset.planner.time_budget_s is None


@pytest.mark.parametrize(("text", "key"), [
    ("dataset:\n  planner_time_budget_s: 60.0\n", "dataset.planner_time_budget_s"),
    ("dataset:\n  planner: {time_budget_s: -1}\n", "time_budget_s"),
    ("dataset:\n  planner: {optim: {iters: 3}}\n", "dataset.planner.optim.iters")])
def test_old_keys_and_bad_planner_values_are_refused_by_name(tmp_path, text, key):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(TrainConfig, path)


def test_generate_plans_with_the_dataset_planner(tmp_path, monkeypatch):
    seen = []

    def fake_plan(mesh_path, k, seed, config, device):
        seen.append((config, device))
        return types.SimpleNamespace(grasps=())

    monkeypatch.setattr("diffgrasp_training.generate.plan_grasps", fake_plan)
    planner = dataclasses.replace(OLD_RULE, min_candidates=8)
    assert PlannerGrasps(planner, "cuda")(tmp_path / "m.obj", 2, 0) == []
    assert seen == [(planner, "cuda")]
    seen.clear()
    generate_dataset(tmp_path / "data", DatasetConfig(procedural_shapes=1, planner=planner, table_samples=False),
                     progress=False)
    [(used, device)] = seen
    # the dataset's planner, its threads capped at what the task may use (in this process: every core)
    cores = os.cpu_count()
    assert device == "cpu" and used.torch_threads == min(planner.torch_threads or cores, cores)
    assert used.physics_rank.threads == min(planner.physics_rank.threads or cores, cores)
    assert dataclasses.replace(used, torch_threads=planner.torch_threads, physics_rank=planner.physics_rank) == planner
    capped = PlannerGrasps(planner).capped(1).planner
    assert (capped.torch_threads, capped.physics_rank.threads) == (1, 1)


def test_planner_config_flag_replaces_the_whole_planner(tmp_path):
    planner_file = tmp_path / "p.yaml"
    planner_file.write_text("min_candidates: 8\n")
    args = build_parser().parse_args(["generate", str(tmp_path / "d"), "--planner-config", str(planner_file)])
    assert _configs(args)[0].dataset.planner == PlannerConfig(min_candidates=8)  # the file's budget: none
    args = build_parser().parse_args(["generate", str(tmp_path / "d")])
    assert _configs(args)[0].dataset.planner == OLD_RULE
