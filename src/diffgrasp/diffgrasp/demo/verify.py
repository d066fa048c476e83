"""Verification stage of the embedded pipeline: rehearse the ranked grasps on the PERCEIVED object before executing.

The robot knows its own model (arm, hand, table) and what it perceived (the fused mesh at the perceived pose), never
the true object. ``rehearse_grasps`` builds the execution scene with the fused mesh (its convex hull: CoACD of a
fused mesh takes 20-80 s on the development CPU) at the perceived pose and runs the whole execution (plan, approach,
close, squeeze, lift, hold) of each ranked grasp in rank order with the same ``ExecutionConfig``, stopping after
``max_passes`` grasps lifted. ``verified_order`` puts the lifting grasps first (in rank order), then the untested
ones, then those that failed the rehearsal, so the execution's reachability filter still sees every grasp.

Why not the hand-only physics test of the design notes (§7) here: on the demo's grasps of slipping val objects (seed
0: 072-d toy airplane, 057 racquetball, 038 padlock, 073-f lego duplo; 16 grasps each) it passed 0/64 on the fused
mesh and 1/64 on the true mesh, while 4 of those grasps lift on the arm (3 of them fail the test: the free,
weightless object is pushed away while closing), so it cannot pick among them (issue 10). The rehearsal's first
lifting grasp lifted the true object in every sweep run where the rehearsal found one (5/5, val split, seed 0).

Why a shrunk scan: TSDF fusion of noisy depth puts 10 % of the scan's surface 1.5-6 mm outside the true one, so a
fingertip pinch that holds the scan can close on air around the true object (072-d toy airplane, seeds 0 and 1:
the rehearsal's first lifting grasp slipped on the arm). Rehearsed on the scan shrunk by 1.5 mm, the first lifting
grasp lifted the true object in each of 5 analysed sweep runs (airplane-d seeds 0 and 1, padlock, wood blocks,
racquetball), vs 3 of 5 on the scan as fused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from diffgrasp.execution import MujocoExecutionBackend

__all__ = ["Rehearsal", "rehearse_grasps", "verified_order"]


@dataclasses.dataclass
class Rehearsal:
    """Outcome of the rehearsal: per tested grasp (rank order) its rank, reason (``ok`` = lifted and held, else the
    execution's reason) and height gain (m); ``passed``: ranks that lifted."""

    tested: list[dict[str, Any]]

    @property
    def passed(self) -> list[int]:
        return [r["rank"] for r in self.tested if r["reason"] == "ok"]

    def to_dict(self) -> dict[str, Any]:
        return {"tested": self.tested, "passed": self.passed}


def rehearse_grasps(fused_mesh, perceived_pose: np.ndarray, grasps: Sequence, exec_cfg, max_grasps: int,
                    max_passes: int, seed: int = 0, shrink_m: float = 0.0) -> Rehearsal:
    """Run the execution of ``grasps`` (fused object frame, best first) on the fused mesh (trimesh, fused object
    frame) resting at ``perceived_pose`` (4, 4), at most ``max_grasps`` of them, stopping after ``max_passes`` lifts.
    Unreachable/colliding grasps count as tested (reason ``unreachable``/``collision``). ``shrink_m``: the mesh's
    vertices first move this far inward along their normals, so a grasp must hold an object thinner than perceived."""
    if shrink_m < 0:
        raise ValueError(f"rehearsal shrink_m: must be >= 0 (m), got {shrink_m}")
    if shrink_m > 0:
        fused_mesh = fused_mesh.copy()
        fused_mesh.vertices = fused_mesh.vertices - shrink_m * fused_mesh.vertex_normals
    cfg = dataclasses.replace(exec_cfg, convex_decomposition=False)
    backend = MujocoExecutionBackend(fused_mesh, object_pose_world=np.asarray(perceived_pose, float), config=cfg)
    tested: list[dict[str, Any]] = []
    passes = 0
    for rank, grasp in enumerate(list(grasps)[:max_grasps]):
        plan, reports = backend.planner.plan([grasp], perceived_pose, seed=seed)
        if plan is None:
            tested.append({"rank": rank, "reason": reports[0].reason if reports else "unreachable", "lift_m": 0.0})
            continue
        result = backend.run(plan)
        tested.append({"rank": rank, "reason": result.reason, "lift_m": float(result.lift_height)})
        passes += result.success
        if passes >= max_passes:
            break
    return Rehearsal(tested)


def verified_order(num_grasps: int, rehearsal: Rehearsal) -> list[int]:
    """Ranks reordered: rehearsal passes, then untested grasps, then the rest, each in rank order."""
    passed = rehearsal.passed
    tested = {r["rank"] for r in rehearsal.tested}
    untested = [i for i in range(num_grasps) if i not in tested]
    failed = [i for i in range(num_grasps) if i in tested and i not in passed]
    return passed + untested + failed
