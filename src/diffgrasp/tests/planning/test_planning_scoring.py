"""The physics ranking is injected (issue 22): plan_grasps uses the scorer it is given, else the one
``physics_rank.scorer`` names; the default scorer mirrors the physics test it is given."""

from __future__ import annotations

import dataclasses

import pytest
import trimesh

from diffgrasp.errors import ConfigError
from diffgrasp.planning import (
    InitConfig,
    OptimConfig,
    PhysicsRankConfig,
    PlannerConfig,
    ReseedConfig,
    plan_grasps,
)
from diffgrasp.planning.scoring import load_scorer
from diffgrasp.sim.physics_rank.scorer import SettleScorer
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig

SMALL = PlannerConfig(init="random", init_config=InitConfig(pinch_fraction=0.0), min_candidates=8,
                      candidates_per_grasp=1, optim=OptimConfig(iterations=10),
                      reseed=ReseedConfig(rounds=0, fresh_rounds=0),
                      physics_rank=PhysicsRankConfig(threads=1, verify_per_grasp=0.0))


@pytest.fixture(scope="module")
def box_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("mesh") / "box.obj"
    trimesh.creation.box(extents=(0.05, 0.06, 0.09)).export(path)
    return path


class CountingScorer(SettleScorer):
    """The default scorer, counting the simulators it hands out (instances made per plan: ``made``)."""

    made: list[CountingScorer] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.handed_out = 0
        CountingScorer.made.append(self)

    def simulator(self, stop=None, timings=None, threads=None):
        self.handed_out += 1
        return super().simulator(stop, timings, threads)


def test_the_injected_scorer_ranks_and_gives_the_default_result(box_path):
    CountingScorer.made.clear()
    injected = plan_grasps(box_path, k=2, seed=0, config=SMALL, scorer=CountingScorer)
    default = plan_grasps(box_path, k=2, seed=0, config=SMALL)
    assert len(CountingScorer.made) == 1 and CountingScorer.made[0].handed_out == 1  # one ranking, no verification
    assert [g.palm_position.tolist() for g in injected.grasps] == [g.palm_position.tolist() for g in default.grasps]
    assert all("settle_displacement_m" in g.metrics for g in injected.grasps)


def test_no_scorer_is_built_without_the_physics_ranking(box_path):
    CountingScorer.made.clear()
    config = dataclasses.replace(SMALL, physics_rank=PhysicsRankConfig(enabled=False))
    result = plan_grasps(box_path, k=2, seed=0, config=config, scorer=CountingScorer)
    assert CountingScorer.made == [] and result.grasps
    assert not any("settle_displacement_m" in g.metrics for g in result.grasps)


def test_scorer_named_in_the_config_is_loaded_and_a_bad_name_is_one_line():
    assert load_scorer(PhysicsRankConfig().scorer) is SettleScorer
    with pytest.raises(ConfigError, match=r"physics_rank.scorer: cannot load 'nowhere.at_all:Thing'"):
        load_scorer("nowhere.at_all:Thing")
    with pytest.raises(ConfigError, match="physics_rank.scorer"):
        plan_grasps("unused.obj", config=dataclasses.replace(SMALL, physics_rank=PhysicsRankConfig(
            scorer="diffgrasp.sim.physics_rank.scorer:NoSuchScorer")))


def test_default_scorer_mirrors_the_physics_test_it_is_given(box_path):
    """Another physics test (here: slippery fingers) gives another scene: the object moves more under the same
    closing; the default mirrors EvaluateConfig()."""
    from diffgrasp.geometry import ObjectModel

    obj = ObjectModel.from_file(box_path)
    default = SettleScorer(obj, SMALL).simulator()
    slippery = SettleScorer(obj, SMALL, test=dataclasses.replace(EvaluateConfig(), friction=0.05)).simulator()
    assert default.config.friction == EvaluateConfig().friction and slippery.config.friction == 0.05
    assert 0.05 not in default.model.geom_friction[:, 0] and 0.05 in slippery.model.geom_friction[:, 0]
