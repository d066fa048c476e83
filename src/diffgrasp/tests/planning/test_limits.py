"""Limits of the planner: k capped by the candidate pool, meshes above the face budget simplified, one deadline for
the whole plan (injected fake clocks, no wall-time assertions), cancellation at safe points."""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
import warnings

import numpy as np
import pytest
import torch
import trimesh

from diffgrasp.errors import DiffgraspError, DiffgraspWarning
from diffgrasp.geometry import ObjectModel
from diffgrasp.geometry import simplify as simplify_module
from diffgrasp.geometry.simplify import simplify_to_budget
from diffgrasp.planning import (
    BudgetConfig,
    Deadline,
    InitConfig,
    OptimConfig,
    PhysicsRankConfig,
    PlannerConfig,
    ReseedConfig,
    plan_grasps,
)
from diffgrasp.planning.deadline import Control, Schedule, chunks
from diffgrasp.planning.planner import pool_size
from diffgrasp.planning.refiner import refine

SMALL = PlannerConfig(init="random", init_config=InitConfig(pinch_fraction=0.0), min_candidates=8,
                      candidates_per_grasp=1, optim=OptimConfig(iterations=15),
                      reseed=ReseedConfig(rounds=0, fresh_rounds=0),
                      physics_rank=PhysicsRankConfig(threads=1))


class FakeClock:
    """Advances by ``step`` seconds at every reading (a plan reads it a bounded number of times per stage)."""

    def __init__(self, step: float = 0.0) -> None:
        self.t, self.step = 100.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


@pytest.fixture(scope="module")
def box_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("mesh") / "box.obj"
    trimesh.creation.box(extents=(0.05, 0.06, 0.09)).apply_translation([0.2, -0.1, 0.045]).export(path)
    return path


# ---------------------------------------------------------------------------------------------------------- -k
def test_pool_size_caps_k_by_the_candidate_pool():
    cfg = PlannerConfig()
    assert pool_size(16, cfg) == (16, 64, "")
    assert pool_size(100, cfg) == (100, 400, "")
    k, n, note = pool_size(100_000, cfg)
    assert (k, n) == (256, 1024)
    assert note == "k = 100000 capped to 256: at most planner.max_candidates = 1024 candidates are refined, 4 per grasp"
    net = dataclasses.replace(cfg, method="network")
    assert pool_size(5000, net)[:2] == (1024, 1024) and "capped to 1024" in pool_size(5000, net)[2]
    assert "initial grasps" in pool_size(4, cfg, num_initial=2000)[2]
    with pytest.raises(ValueError, match="max_candidates"):
        PlannerConfig(max_candidates=16)  # below min_candidates (64)


def test_huge_k_is_capped_and_said(box_path):
    config = dataclasses.replace(SMALL, max_candidates=8, physics_rank=PhysicsRankConfig(enabled=False))
    result = plan_grasps(box_path, k=100_000, seed=3, config=config)
    assert result.num_candidates == 8 and 1 <= len(result.grasps) <= 8
    assert result.status == "succeeded" and "k = 100000 capped to 8" in result.message


# ----------------------------------------------------------------------------------------------------- faces
@pytest.fixture(scope="module")
def fine_sphere(tmp_path_factory):
    path = tmp_path_factory.mktemp("mesh") / "sphere.ply"
    trimesh.creation.icosphere(subdivisions=5, radius=0.03).export(path)  # 20480 faces
    return path


@pytest.mark.parametrize("backend", ["fast_simplification", "open3d"])
def test_mesh_above_the_face_budget_is_simplified_with_a_warning(fine_sphere, backend, monkeypatch):
    if backend == "open3d":
        monkeypatch.setitem(sys.modules, "fast_simplification", None)  # import fails: the Open3D fallback
    else:
        pytest.importorskip("fast_simplification")
    with pytest.warns(DiffgraspWarning) as caught:
        obj = ObjectModel.from_file(fine_sphere, max_faces=2000)
    (warning,) = caught
    message = str(warning.message)
    assert message.startswith(f"{fine_sphere}: simplified from 20480 to {obj.num_faces} faces")
    assert "planner.max_faces" in message and "\n" not in message
    assert 1500 <= obj.num_faces <= 2000 and obj.mesh.is_watertight
    assert abs(obj.mesh.volume - 4 / 3 * math.pi * 0.03 ** 3) < 0.05 * 4 / 3 * math.pi * 0.03 ** 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # within the budget: untouched, no warning
        same = ObjectModel.from_file(fine_sphere, max_faces=20480)
        assert same.num_faces == 20480 and same.simplified(None) is same


def test_decimation_that_opens_the_mesh_is_refused(monkeypatch):
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.03)
    opened = sphere.copy()
    opened.update_faces(np.arange(len(opened.faces)) > 0)
    monkeypatch.setattr(simplify_module, "decimate", lambda mesh, max_faces: opened)
    with pytest.raises(DiffgraspError) as err:
        simplify_to_budget(sphere, 100, "big.obj")
    message = str(err.value)
    assert message.startswith("big.obj: 1280 faces exceed the face budget of 100") and "\n" not in message
    assert "simplify it yourself" in message


def test_planner_simplifies_a_given_object_above_the_budget(box_path, fine_sphere):
    obj = ObjectModel.from_file(fine_sphere)
    config = dataclasses.replace(SMALL, max_faces=3000, physics_rank=PhysicsRankConfig(enabled=False))
    with pytest.warns(DiffgraspWarning, match="simplified from 20480"):
        result = plan_grasps(obj, k=2, seed=0, config=config)
    assert result.status == "succeeded"


# -------------------------------------------------------------------------------------------------- deadline
def test_deadline_and_schedule_on_a_fake_clock():
    clock = FakeClock()
    d = Deadline(10.0, clock=clock)
    assert d.enabled and d.at(0.5) == 105.0 and not d.passed()
    clock.t = 104.0
    s = Schedule.split(d, 0.9, 0.25, 0.5, 0.75)  # 5 s left until 109
    assert (s.refine, s.close, s.rank, s.end) == (105.25, 106.5, 107.75, 109.0)
    clock.t = 200.0
    assert d.passed() and d.remaining() < 0
    off = Deadline(None, clock=clock)
    assert not off.passed() and off.remaining() == math.inf and Schedule.split(off, 1, 0, 0, 0) == Schedule.unbounded()
    with pytest.raises(ValueError, match="budget"):
        Deadline(0.0)


def test_chunks_and_pace():
    assert [len(c) for c in chunks(np.arange(40), 16, ramp=True)] == [4, 8, 16, 12]
    assert [len(c) for c in chunks(np.arange(40), 16)] == [16, 16, 8]
    clock = FakeClock()
    control = Control(Deadline(10.0, clock=clock))
    assert control.fits("close", 100, until=101.0)  # nothing measured yet
    with control.timed("close", 4):
        clock.t += 2.0  # 0.5 s per item
    assert control.fits("close", 1, until=clock.t + 0.6) and not control.fits("close", 2, until=clock.t + 0.6)


def test_refinement_stops_at_its_deadline_on_the_clock_it_is_given():
    clock = FakeClock(step=1.0)  # every reading is one second later
    energy = lambda p, r, u: ((p ** 2).sum(1) + (u ** 2).sum(1), {})  # noqa: E731
    lo, hi = -torch.ones(18), torch.ones(18)
    out = refine(torch.ones(3, 3), torch.eye(3).expand(3, 3, 3), torch.zeros(3, 18), energy, (lo, hi),
                 OptimConfig(iterations=50), deadline=clock() + 5.5, clock=clock)
    assert out.status == "time_budget" and 0 < out.iterations < 10


def test_budget_spent_in_preprocessing_skips_every_later_stage(box_path, monkeypatch):
    """The SDF grid takes the rest of the budget: no refinement step, nothing closed (the budget wins over having
    a result), no physics ranking or verification, status time_budget and a message saying what was cut."""
    import diffgrasp.planning.context as context_module

    clock = FakeClock()
    real_grid = context_module.GridObject

    def slow_grid(*args, **kwargs):
        clock.t += 100.0
        return real_grid(*args, **kwargs)

    monkeypatch.setattr(context_module, "GridObject", slow_grid)
    result = plan_grasps(box_path, k=4, seed=3, config=SMALL, deadline=Deadline(5.0, clock=clock))
    assert result.status == "time_budget" and result.iterations == 0 and result.grasps == []
    assert result.message == ("time budget 5 s: spent on preprocessing, refinement stopped after 0 of 15 iterations, "
                              "0 of 8 candidates post-processed")
    assert "verify" not in result.timings_s and "physics_rank" not in result.timings_s


def test_budget_that_is_never_reached_changes_nothing_but_the_order_of_work(box_path):
    """A budget far beyond the run (a frozen fake clock) keeps every stage: status succeeded, no message, and the
    same grasps as without a budget (post-processing in chunks of the same candidates)."""
    config = dataclasses.replace(SMALL, physics_rank=PhysicsRankConfig(threads=1, verify_per_grasp=0.0),
                                 budget=BudgetConfig(short_s=0.0))
    free = plan_grasps(box_path, k=4, seed=3, config=config)
    budgeted = plan_grasps(box_path, k=4, seed=3, config=config, deadline=Deadline(1.0, clock=FakeClock()))
    assert budgeted.status == "succeeded" and budgeted.message == ""
    key = lambda g: (tuple(np.round(g.palm_position, 6)), round(g.metrics["q1_exact"], 6))  # noqa: E731
    assert sorted(map(key, budgeted.grasps)) == sorted(map(key, free.grasps))


def test_clock_running_out_during_postprocessing_keeps_the_best_so_far(box_path):
    """Each clock reading costs 0.05 s of a 3 s budget: refinement and post-processing are cut, some grasps
    still come back, ranked, and the message says so."""
    config = dataclasses.replace(SMALL, min_candidates=32, optim=OptimConfig(iterations=80))
    result = plan_grasps(box_path, k=4, seed=3, config=config, deadline=Deadline(3.0, clock=FakeClock(0.05)))
    assert result.status == "time_budget" and result.iterations < 80
    assert "candidates post-processed" in result.message or "refinement stopped" in result.message


def test_cancel_stops_at_the_next_safe_point_and_skips_the_optional_stages(box_path):
    polls = {"n": 0}

    def cancel() -> bool:
        polls["n"] += 1
        return polls["n"] > 3

    result = plan_grasps(box_path, k=4, seed=3, config=SMALL, should_cancel=cancel)
    assert result.status == "cancelled" and result.iterations == 3 and result.grasps
    assert "physics_rank" not in result.timings_s and "verify" not in result.timings_s


# ------------------------------------------------------------------------------------------------- CoACD job
def test_decomposition_job_waits_interruptibly_and_reraises(monkeypatch):
    from diffgrasp.geometry import convex_decomposition as cd

    release = threading.Event()

    def slow(mesh, config, use_cache=True, progress=True, name=""):
        release.wait(30)
        if name == "bad":
            raise RuntimeError("CoACD returned no convex pieces for mesh bad")
        return [(np.zeros((4, 3)), np.zeros((4, 3), int))]

    monkeypatch.setattr(cd, "convex_pieces", slow)
    box = trimesh.creation.box()
    job = cd.DecompositionJob(box, name="ok")
    assert job.result(stop=lambda: True) is None and not job.done  # a stop request ends the wait, not the job
    bad = cd.DecompositionJob(box, name="bad")
    release.set()
    assert len(job.result()) == 1 and job.done
    with pytest.raises(RuntimeError, match="no convex pieces"):
        bad.result()


def test_refiner_adam_equals_torch_adam():
    """The refiner steps torch's own Adam kernel (no torch._dynamo import, ~1.3 s of a short budget): the same
    parameters as torch.optim.Adam, bit for bit, with per-group learning rates changed every step."""
    from diffgrasp.planning.refiner import Adam

    gen = torch.Generator().manual_seed(0)
    ours = [torch.randn(8, 3, generator=gen, requires_grad=True), torch.randn(8, 6, generator=gen, requires_grad=True)]
    ref = [p.detach().clone().requires_grad_(True) for p in ours]
    lrs = [2e-3, 1e-2]
    opt = Adam([[ours[0]], [ours[1]]], lrs)
    ref_opt = torch.optim.Adam([{"params": [ref[0]], "lr": lrs[0]}, {"params": [ref[1]], "lr": lrs[1]}])
    for step in range(25):
        scale = 0.3 + 0.7 * (step % 4) / 3
        opt.lrs = [lr * scale for lr in lrs]
        for g, lr in zip(ref_opt.param_groups, lrs, strict=True):
            g["lr"] = lr * scale
        for params in (ours, ref):
            for p in params:
                p.grad = None
            sum((torch.sin(3 * p) ** 2).sum() for p in params).backward()
        opt.step()
        ref_opt.step()
    assert all(torch.equal(a, b) for a, b in zip(ours, ref, strict=True))


def test_budget_spent_before_planning_returns_at_once(box_path):
    """Loading took the whole budget: nothing else runs (no SDF grid, no refinement), and the message says why."""
    clock = FakeClock()
    result = plan_grasps(box_path, k=4, seed=3, config=SMALL, deadline=Deadline(2.0, start=clock() - 10, clock=clock))
    assert result.status == "time_budget" and result.grasps == [] and "sdf_grid" not in result.timings_s
    assert result.message == "time budget 2 s: spent before planning started (10.0 s)"


def test_a_budget_that_cannot_pay_for_decimation_stops_before_it(tmp_path):
    """Decimating a huge mesh takes seconds and cannot be interrupted: plan checks the estimate first (fake clock)."""
    from diffgrasp.cli.plan import _BudgetSpent, _simplifying_fits
    from diffgrasp.geometry.simplify import decimation_seconds
    from diffgrasp.planning.deadline import Deadline

    now = [4.0]
    check = _simplifying_fits(Deadline(5.0, start=0.0, clock=lambda: now[0]), end_fraction=0.93)
    with pytest.raises(_BudgetSpent, match=r"2000000-face mesh .*larger --time-budget"):
        check(2_000_000)                        # ~5 s of decimation, 0.65 s left
    check(1_000)                                # a few milliseconds: fits
    now[0] = 0.0
    check(int(4.0 / decimation_seconds(1)))     # 4 s of decimation with 4.65 s left: fits
    _simplifying_fits(Deadline(None), 0.93)(10**9)  # no budget: never stops

    path = tmp_path / "ball.obj"
    trimesh.creation.icosphere(subdivisions=3, radius=0.03).export(path)   # 1280 faces
    seen: list[int] = []
    ObjectModel.from_file(path, max_faces=5000, before_simplify=seen.append)
    assert seen == []                           # under the face budget: no decimation, no check
    with pytest.warns(DiffgraspWarning, match="simplified from 1280"):
        ObjectModel.from_file(path, max_faces=500, before_simplify=seen.append)
    assert seen == [1280]
