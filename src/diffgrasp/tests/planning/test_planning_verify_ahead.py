"""The holding grasps are verified in a background thread while reseeding runs (issue 23): the same plan as verifying
them afterwards, and the verify stage does not simulate them again."""

from __future__ import annotations

import dataclasses

import pytest
import trimesh

from diffgrasp.planning import InitConfig, OptimConfig, PhysicsRankConfig, PlannerConfig, ReseedConfig, plan_grasps
from diffgrasp.sim.physics_rank.scorer import SettleScorer

# few candidates, few holding after the first round: a reseeding round follows
FAST = PlannerConfig(init="random", init_config=InitConfig(pinch_fraction=0.0), min_candidates=12,
                     candidates_per_grasp=1, optim=OptimConfig(iterations=15),
                     reseed=ReseedConfig(rounds=1, candidates=8, iterations=5),
                     physics_rank=PhysicsRankConfig(threads=1, squeeze_rad=(0.2,), verify_push_s=0.3))


class CountingScorer(SettleScorer):
    """Counts the grasps its simulators verify (pushes of verify_push_s), by thread."""

    verified: list[tuple[str, int]] = []

    def simulator(self, stop=None, timings=None, threads=None):
        import threading

        sim = super().simulator(stop, timings, threads)
        settle = sim.settle

        def counted(*args, push_s=0.0, **kwargs):
            if push_s == self.rank.verify_push_s:
                CountingScorer.verified.append((threading.current_thread().name, len(kwargs["grasp_joints"])))
            return settle(*args, push_s=push_s, **kwargs)

        sim.settle = counted
        return sim


@pytest.fixture(scope="module")
def cylinder_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("mesh") / "cylinder.obj"
    trimesh.creation.cylinder(radius=0.03, height=0.1, sections=48).export(path)
    return path


def test_verifying_ahead_gives_the_same_plan_and_skips_those_grasps(cylinder_path):
    CountingScorer.verified.clear()
    ahead = plan_grasps(cylinder_path, k=8, seed=0, config=FAST, scorer=CountingScorer)
    in_thread = sum(n for name, n in CountingScorer.verified if name == "verify-ahead")
    later = sum(n for name, n in CountingScorer.verified if name != "verify-ahead")
    CountingScorer.verified.clear()
    off = dataclasses.replace(FAST, physics_rank=dataclasses.replace(FAST.physics_rank, verify_ahead=False))
    after = plan_grasps(cylinder_path, k=8, seed=0, config=off, scorer=CountingScorer)
    assert all(name != "verify-ahead" for name, _ in CountingScorer.verified)
    assert "reseed" in ahead.timings_s and "verify_ahead" in ahead.timings_s and in_thread > 0
    assert sum(n for _, n in CountingScorer.verified) == in_thread + later  # nothing verified twice
    assert [g.to_dict() for g in ahead.grasps] == [g.to_dict() for g in after.grasps]


def test_a_cancel_during_reseeding_stops_the_thread_and_returns_cancelled(cylinder_path):
    """Cancelled while reseeding: the plan returns its best so far (cancelled) and leaves no verify-ahead thread."""
    import threading

    reseeding = []

    def progress(info):
        if info.stage == "reseed":
            reseeding.append(info)

    result = plan_grasps(cylinder_path, k=8, seed=0, config=FAST, progress=progress,
                         should_cancel=lambda: bool(reseeding))
    assert reseeding and result.status == "cancelled" and result.grasps
    assert not any(t.name == "verify-ahead" and t.is_alive() for t in threading.enumerate())
