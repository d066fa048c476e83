"""The planner's default ``GraspScorer`` (diffgrasp.planning.scoring): the physics test's MuJoCo scene of the object,
rolled out by ``SettleSimulator`` (diffgrasp.sim.physics_rank.settle).

``SettleScorer`` starts the object's convex decomposition (CoACD, cached by mesh hash and settings like the physics
test's) in the background when the plan starts, so that it is usually ready when the ranking needs it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import trimesh

from diffgrasp.geometry import ObjectModel
from diffgrasp.geometry.convex_decomposition import DecompositionJob, is_cached
from diffgrasp.planning.planner_config import PhysicsRankConfig, PlannerConfig
from diffgrasp.sim.physics_rank.settle import SettleSimulator
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
from diffgrasp.sim.physics_test.hand_scene import build_scene
from diffgrasp.sim.physics_test.prepared_object import prepare_mesh


def settle_simulator(mesh: trimesh.Trimesh, name: str, config: PhysicsRankConfig, pieces: list | None = None,
                     test: EvaluateConfig | None = None, threads: int | None = None) -> tuple[SettleSimulator, float]:
    """The physics test's scene of ``mesh`` (its own frame, m) as a batched SettleSimulator → (simulator, seconds
    spent on the convex decomposition). ``pieces``: the decomposition when known (else ``config.coacd``'s, cached).
    The scene and its ramps are the physics test's (``test``; default ``EvaluateConfig()``, equal to
    config/evaluate.yaml) with the ranking's decomposition settings; ``threads`` rollout threads (None:
    ``config.threads``)."""
    test = dataclasses.replace(test or EvaluateConfig(), coacd=config.coacd)
    prepared = prepare_mesh(mesh, test, name=name, progress=False, pieces=pieces)
    model, index = build_scene(prepared.pieces, prepared.com, prepared.inertia, test.scene_params())
    threads = config.threads if threads is None else threads
    return SettleSimulator(model, index, test, threads=threads), prepared.decomposition_seconds


class SettleScorer:
    """``GraspScorer`` of one object (the mesh in its file's frame) for every ranking and verification of a plan.

    ``coarse``: when the ranking's own decomposition (``physics_rank.coacd``) is not cached, compute the budget's
    cheaper one (``budget.coacd``) instead. ``test``: the physics test's settings to mirror (default: its defaults =
    config/evaluate.yaml); a plan judged with another ``evaluate --config`` can be ranked alike with
    ``plan_grasps(scorer=functools.partial(SettleScorer, test=that_config))``."""

    def __init__(self, file_object: ObjectModel, config: PlannerConfig, coarse: bool = False,
                 test: EvaluateConfig | None = None) -> None:
        self.mesh, self.name, self.rank = file_object.mesh, file_object.name or "object", config.physics_rank
        self.test = test
        coacd = self.rank.coacd
        if coarse and not is_cached(self.mesh, coacd):
            coacd = config.budget.coacd
        self.coarse = coacd != self.rank.coacd
        self.job = DecompositionJob(self.mesh, coacd, self.name)

    def simulator(self, stop: Callable[[], bool] | None = None, timings: dict[str, float] | None = None,
                  threads: int | None = None) -> SettleSimulator | None:
        """A fresh SettleSimulator of the scene with ``threads`` rollout threads (None: ``physics_rank.threads``),
        or None when ``stop()`` turned True while waiting for the decomposition (``timings["decomposition"]``
        accumulates the wait)."""
        t0 = time.perf_counter()
        pieces = self.job.result(stop)
        if timings is not None:
            timings["decomposition"] = timings.get("decomposition", 0.0) + time.perf_counter() - t0
        if pieces is None:
            return None
        return settle_simulator(self.mesh, self.name, self.rank, pieces=pieces, test=self.test, threads=threads)[0]


__all__ = ["SettleScorer", "settle_simulator"]
