"""Physics plausibility of planned grasps: how far each grasp's own closing and squeeze move the object in the
physics test's MuJoCo scene (diffgrasp.sim.settle), turned into a ranking score (lower is better)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import trimesh

from diffgrasp.planning.planner_config import PhysicsRankConfig


@dataclasses.dataclass
class SettleMotion:
    """Per grasp (N,): worst object displacement m and rotation deg during the settle and short pushes; seconds
    spent (decomposition included, also reported alone)."""

    displacement_m: np.ndarray
    rotation_deg: np.ndarray
    seconds: float
    decomposition_seconds: float

    def score(self, config: PhysicsRankConfig) -> np.ndarray:
        """(N,) rotation / rotation_scale + displacement / displacement_scale (inf: unstable simulation)."""
        return self.rotation_deg / config.rotation_scale_deg + self.displacement_m / config.displacement_scale_m


def settle_simulator(mesh: trimesh.Trimesh, name: str, config: PhysicsRankConfig, pieces: list | None = None):
    """The physics test's scene of ``mesh`` (its own frame, m) as a batched SettleSimulator → (simulator, seconds
    spent on the convex decomposition). ``pieces``: the decomposition when known (else ``config.coacd``'s, cached)."""
    from diffgrasp.sim.evaluate import prepare_mesh
    from diffgrasp.sim.evaluate_config import EvaluateConfig
    from diffgrasp.sim.hand_scene import build_scene
    from diffgrasp.sim.settle import SettleSimulator

    test = dataclasses.replace(EvaluateConfig(), coacd=config.coacd)  # the physics test's own scene and ramps
    prepared = prepare_mesh(mesh, test, name=name, progress=False, pieces=pieces)
    model, index = build_scene(prepared.pieces, prepared.com, prepared.inertia, test.scene_params())
    return SettleSimulator(model, index, test, threads=config.threads), prepared.decomposition_seconds


def _push_filter(config: PhysicsRankConfig):
    """Push only grasps whose settle score is below ``config.push_below_score`` (None: push all)."""
    if not np.isfinite(config.push_below_score):
        return None
    return lambda d, r: r / config.rotation_scale_deg + d / config.displacement_scale_m < config.push_below_score


def settle_motion(mesh: trimesh.Trimesh, name: str, phases: dict[str, np.ndarray],
                  config: PhysicsRankConfig) -> SettleMotion:
    """Simulate the grasps' pregrasp → grasp → squeeze (and short pushes, ``config.push_s``) on ``mesh`` (its own
    frame, m).

    phases: pregrasp_position (N, 3), pregrasp_quat_wxyz (N, 4), pregrasp_joints (N, 22), grasp_position,
    grasp_quat_wxyz, grasp_joints, squeeze_joints — in the mesh's frame, as in the grasp file.
    """
    t0 = time.perf_counter()
    sim, decomposition_s = settle_simulator(mesh, name, config)
    displacement, rotation = sim.settle(**phases, push_s=config.push_s, push_filter=_push_filter(config))
    return SettleMotion(displacement, rotation, time.perf_counter() - t0, decomposition_s)


def grasp_phase_arrays(grasps: list) -> dict[str, np.ndarray]:
    """The phases of grasps (diffgrasp.grasps.Grasp, pregrasp/squeeze per §7 when unset) as SettleSimulator.settle
    arrays: positions (N, 3), quaternions (N, 4) wxyz, joints (N, 22)."""
    from diffgrasp.sim.grasp_test import Phases

    phases = [Phases.from_grasp(g) for g in grasps]  # a few dozen grasps: conversion only, the rollouts batch
    return {name: np.stack([getattr(p, name) for p in phases]) if phases else np.zeros((0, 22))
            for name in ("pregrasp_position", "pregrasp_quat_wxyz", "pregrasp_joints", "grasp_position",
                         "grasp_quat_wxyz", "grasp_joints", "squeeze_joints")}


def verification_motion(grasps: list, sim, config: PhysicsRankConfig) -> SettleMotion:
    """Each grasp's own phases (file frame) through the physics test's closing and squeeze in ``sim`` (a
    SettleSimulator of the object, see settle_simulator), then six pushes of ``config.verify_push_s`` (every grasp
    pushed): the worst object motion, as SettleMotion (a pregrasp failing the test's pre-filter: inf)."""
    t0 = time.perf_counter()
    phases = grasp_phase_arrays(grasps)
    displacement, rotation = sim.settle(**phases, push_s=config.verify_push_s)
    _fail_prefilter(sim, phases["pregrasp_position"], phases["pregrasp_quat_wxyz"], phases["pregrasp_joints"],
                    displacement)
    return SettleMotion(displacement, rotation, time.perf_counter() - t0, 0.0)


def _fail_prefilter(sim, position: np.ndarray, quat_wxyz: np.ndarray, joints: np.ndarray,
                    displacement: np.ndarray) -> None:
    """Set ``displacement`` (N,) to inf, in place, where the pregrasp penetrates deeper than the physics test's
    pre-filter allows (such a grasp fails the test whatever it does next)."""
    deep = sim.pregrasp_penetration(position, quat_wxyz, joints) > sim.config.prefilter_penetration_m
    displacement[deep] = np.inf


@dataclasses.dataclass
class PhaseChoice:
    """Per candidate (N,): the chosen squeeze (N, 22) and pregrasp joints (N, 22) and the motion they cause."""

    squeeze_joints: np.ndarray
    pregrasp_joints: np.ndarray
    motion: SettleMotion


def best_phase_variants(post, closed, index: np.ndarray, poses: dict[str, np.ndarray], file_object,
                        config, sim=None) -> PhaseChoice:
    """Simulate candidates ``index`` (N,) of ``closed`` (ClosedGrasps, via GraspPostprocessor ``post``) with the
    squeeze amount × pregrasp opening pairs of ``config.physics_rank`` and keep each candidate's least-moving pair.

    The first pair runs for every candidate; the other pairs only for those whose first score lies in
    ``retry_band`` [lo, hi) (empty: every candidate): below lo the grasp already holds, at hi or above another
    squeeze almost never rescues it (val split: 7 of 375 holding grasps; the retries then cost ~40 % of the runs).
    A candidate whose chosen pregrasp fails the physics test's pre-filter gets displacement inf.
    poses (file frame): pregrasp_position (N, 3), pregrasp_quat_wxyz (N, 4) (= the grasp's), grasp_position (N, 3),
    grasp_joints (N, 22). file_object: ObjectModel of the mesh in that frame. config: PlannerConfig. sim: its
    SettleSimulator when the caller has one (else built here, see settle_simulator).
    """
    rank = config.physics_rank
    pairs = [(s, o) for s in (rank.squeeze_rad or (config.post.squeeze_rad,))
             for o in (rank.pregrasp_open_rad or (config.post.pregrasp_open_rad,))]
    variants = [post.phases(closed, s, o) for s, o in pairs]
    squeezes = np.stack([ph["squeeze_joints"].cpu().numpy()[index] for ph in variants])  # (V, N, 22)
    openings = np.stack([ph["pregrasp_joints"].cpu().numpy()[index] for ph in variants])
    v, n = len(pairs), len(index)
    t0 = time.perf_counter()
    decomposition_s = 0.0
    if sim is None:
        sim, decomposition_s = settle_simulator(file_object.mesh, file_object.name or "object", rank)
    displacement, rotation = np.full((v, n), np.inf), np.full((v, n), np.inf)

    def run(which: np.ndarray, cand: np.ndarray) -> None:  # (M,) variant and candidate indices, one batch
        if len(cand):
            displacement[which, cand], rotation[which, cand] = sim.settle(
                pregrasp_position=poses["pregrasp_position"][cand],
                pregrasp_quat_wxyz=poses["pregrasp_quat_wxyz"][cand],
                pregrasp_joints=openings[which, cand], grasp_position=poses["grasp_position"][cand],
                grasp_quat_wxyz=poses["pregrasp_quat_wxyz"][cand], grasp_joints=poses["grasp_joints"][cand],
                squeeze_joints=squeezes[which, cand], push_s=rank.push_s, push_filter=_push_filter(rank))

    run(np.zeros(n, int), np.arange(n))
    first = rotation[0] / rank.rotation_scale_deg + displacement[0] / rank.displacement_scale_m
    retry = np.arange(n) if not rank.retry_band else np.flatnonzero(
        (first >= rank.retry_band[0]) & (first < rank.retry_band[1]))
    run(np.repeat(np.arange(1, v), len(retry)), np.tile(retry, v - 1))
    motion = SettleMotion(displacement, rotation, 0.0, decomposition_s)
    best = motion.score(rank).argmin(0)  # (N,) each candidate's best variant (the first on ties and untried ones)
    chosen = SettleMotion(displacement[best, np.arange(n)], rotation[best, np.arange(n)], 0.0, decomposition_s)
    _fail_prefilter(sim, poses["pregrasp_position"], poses["pregrasp_quat_wxyz"], openings[best, np.arange(n)],
                    chosen.displacement_m)
    chosen.seconds = time.perf_counter() - t0
    return PhaseChoice(squeezes[best, np.arange(n)], openings[best, np.arange(n)], chosen)


class PhysicsScene:
    """The physics ranking's scene of one object (the mesh in its file's frame), for every ranking and verification
    of a plan. Its convex decomposition starts at construction, in the background (``DecompositionJob``), so that it
    is usually ready when the ranking needs it. ``coarse``: when the ranking's own decomposition
    (``physics_rank.coacd``) is not cached, compute the budget's cheaper one (``budget.coacd``) instead."""

    def __init__(self, file_object, config, coarse: bool = False) -> None:
        from diffgrasp.geometry.convex_decomposition import DecompositionJob, is_cached

        self.mesh, self.name, self.rank = file_object.mesh, file_object.name or "object", config.physics_rank
        coacd = self.rank.coacd
        if coarse and not is_cached(self.mesh, coacd):
            coacd = config.budget.coacd
        self.coarse = coacd != self.rank.coacd
        self.job = DecompositionJob(self.mesh, coacd, self.name)

    def simulator(self, stop=None, timings: dict[str, float] | None = None):
        """A fresh SettleSimulator of the scene, or None when ``stop()`` turned True while waiting for the
        decomposition (``timings["decomposition"]`` accumulates the wait)."""
        t0 = time.perf_counter()
        pieces = self.job.result(stop)
        if timings is not None:
            timings["decomposition"] = timings.get("decomposition", 0.0) + time.perf_counter() - t0
        if pieces is None:
            return None
        return settle_simulator(self.mesh, self.name, self.rank, pieces=pieces)[0]


__all__ = ["PhaseChoice", "PhysicsScene", "SettleMotion", "best_phase_variants", "grasp_phase_arrays", "settle_motion",
           "settle_simulator", "verification_motion"]
