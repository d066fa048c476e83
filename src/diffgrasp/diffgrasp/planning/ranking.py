"""The rank stage: valid candidates ordered by physics plausibility (the injected GraspScorer's rollouts, each
candidate with its best squeeze/opening pair), then exact Q1 at widening contact distances, then loss; and
``postprocess_round``, one round of close/measure → check → exact Q1 → rank, which the first refinement and every
reseeding round go through.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch

from diffgrasp.geometry.rotations import matrix_to_quaternion_xyzw, xyzw_to_wxyz
from diffgrasp.grasps import Grasp
from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp.planning.context import PlanContext
from diffgrasp.planning.deadline import chunks
from diffgrasp.planning.measure import (
    REJECTIONS,
    Checked,
    Measured,
    check_and_q1,
    close_and_measure,
    postprocessor,
    tie_break_q1,
)
from diffgrasp.planning.postprocess import GraspPostprocessor, select_diverse
from diffgrasp.planning.refiner import RefineState
from diffgrasp.planning.scoring import best_phase_variants


@dataclasses.dataclass
class RankedCandidates:
    """Post-processed candidates, best first: grasps (object file frame) and, per grasp, the physics score
    (N,) (lower is better; inf without the physics ranking) and the closed hand in the planning frame: palm position
    (N, 3) m, rotation (N, 3, 3), joints (N, 22) rad."""

    grasps: list[Grasp]
    score: np.ndarray
    position: np.ndarray
    rotation: np.ndarray
    q22: np.ndarray

    def merged(self, other: RankedCandidates, good_score: float) -> RankedCandidates:
        """Both sets in one ranking: ``self``'s grasps scoring below ``good_score`` first, then ``other``'s, then the
        rest by score (a later round fills the places of grasps that do not hold; it never displaces one that does:
        copies of a seed that only seemed to hold would otherwise crowd out the others)."""
        score = np.concatenate([self.score, other.score])
        later = np.arange(len(score)) >= len(self.score)
        bad = score >= good_score
        order = np.lexsort((score, later & ~bad, bad))
        grasps = self.grasps + other.grasps
        cat = lambda a, b: np.concatenate([a, b])[order]  # noqa: E731
        return RankedCandidates([grasps[i] for i in order], score[order],
                                cat(self.position, other.position), cat(self.rotation, other.rotation),
                                cat(self.q22, other.q22))

    @staticmethod
    def empty() -> RankedCandidates:
        return RankedCandidates([], np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3, 3)), np.zeros((0, 22)))

    def pick(self, k: int, post) -> list[int]:
        """Indices of the k best distinct grasps (``select_diverse`` with PostprocessConfig ``post``)."""
        return select_diverse(np.arange(len(self.grasps)), self.position, self.rotation, self.q22, k, post)


def ranking_order(q1_levels: np.ndarray, loss: np.ndarray, valid: np.ndarray,
                  invalid_penetration: np.ndarray | None = None,
                  physics_score: np.ndarray | None = None) -> np.ndarray:
    """Candidate indices best first: valid ones by ``physics_score`` (B,) when given (lower first), then by exact Q1
    at each contact distance in turn (q1_levels (L, B), first level decides first), then by loss (B,); with
    ``invalid_penetration`` (B,) the invalid ones follow, least penetrating first."""
    valid_idx = np.flatnonzero(valid)
    keys = [loss[valid], *(-q[valid] for q in q1_levels[::-1])]
    if physics_score is not None:
        keys.append(physics_score[valid])
    order = valid_idx[np.lexsort(keys)]
    if invalid_penetration is None:
        return order
    invalid = np.flatnonzero(~valid)
    return np.concatenate([order, invalid[np.argsort(invalid_penetration[invalid], kind="stable")]])


@dataclasses.dataclass
class FilePoses:
    """The closed candidates in the object file's frame: palm position (B, 3) m and quaternion (B, 4) xyzw of the
    grasp (the pregrasp's is the same), pregrasp palm position (B, 3), joints (B, 22) of the grasp, the pregrasp
    and the squeeze (rad)."""

    position: np.ndarray
    quat_xyzw: np.ndarray
    pregrasp_position: np.ndarray
    joints: np.ndarray
    pregrasp_joints: np.ndarray
    squeeze_joints: np.ndarray


def file_poses(ctx: PlanContext, post: GraspPostprocessor, measured: Measured) -> FilePoses:
    """The closed candidates and their default pregrasp/squeeze (``config.post``), mapped to the file frame."""
    closed, to_file = measured.closed, ctx.to_file
    phases = post.phases(closed)
    rot_file = torch.as_tensor(to_file[:3, :3], dtype=closed.rotation.dtype) @ closed.rotation.cpu()
    return FilePoses(
        position=closed.position.cpu().numpy() @ to_file[:3, :3].T + to_file[:3, 3],
        quat_xyzw=matrix_to_quaternion_xyzw(rot_file.double()).numpy(),
        pregrasp_position=phases["pregrasp_position"].cpu().numpy() @ to_file[:3, :3].T + to_file[:3, 3],
        joints=closed.q22.cpu().numpy(),
        pregrasp_joints=phases["pregrasp_joints"].cpu().numpy(),
        squeeze_joints=phases["squeeze_joints"].cpu().numpy())


@dataclasses.dataclass
class PhysicsRanking:
    """Per candidate (B,): the physics score (inf: not ranked) and the object's motion (NaN: not simulated)."""

    score: np.ndarray
    displacement_m: np.ndarray
    rotation_deg: np.ndarray


def physics_rank(ctx: PlanContext, post: GraspPostprocessor, measured: Measured, valid: np.ndarray,
                 poses: FilePoses, until: float) -> PhysicsRanking | None:
    """Simulate the valid candidates with the scorer (each with its best squeeze/opening pair, written into
    ``poses``); None when the scorer is not ready by ``until`` (noted). Under a budget in chunks, until ``until``."""
    control, config = ctx.control, ctx.config
    # waiting for the decomposition (CoACD can take a minute) ends on cancel, or under a budget at the stage end
    sim = ctx.scorer.simulator(lambda: control.stop(until), ctx.timings)
    if sim is None:
        control.note("physics ranking skipped (convex decomposition not ready)")
        return None
    n = len(valid)
    ranking = PhysicsRanking(np.full(n, np.inf), np.full(n, np.nan), np.full(n, np.nan))
    quat_wxyz = xyzw_to_wxyz(poses.quat_xyzw)
    seconds, ranked_count, idx_all = 0.0, 0, np.flatnonzero(valid)
    for idx in (chunks(idx_all, config.budget.chunk, ramp=True) if control.budgeted else [idx_all]):
        if control.budgeted and (control.stop(until) or not control.fits("rank", len(idx), until)):
            control.note(f"physics ranking of {len(idx_all) - ranked_count} candidates skipped")
            break
        with control.timed("rank", len(idx)):
            choice = best_phase_variants(post, measured.closed, idx, {
                "pregrasp_position": poses.pregrasp_position[idx], "pregrasp_quat_wxyz": quat_wxyz[idx],
                "grasp_position": poses.position[idx], "grasp_joints": poses.joints[idx]}, config, sim)
        motion = choice.motion
        poses.squeeze_joints[idx], poses.pregrasp_joints[idx] = choice.squeeze_joints, choice.pregrasp_joints
        ranking.displacement_m[idx], ranking.rotation_deg[idx] = motion.displacement_m, motion.rotation_deg
        ranking.score[idx] = motion.score(config.physics_rank)
        seconds += motion.seconds
        ranked_count += len(idx)
    ctx.timings["physics_rank"] = ctx.timings.get("physics_rank", 0.0) + seconds  # summed over the rounds
    return ranking


def postprocess_round(ctx: PlanContext, state: RefineState, keep_invalid: bool, until: tuple[float, float]
                      ) -> tuple[RankedCandidates, dict[str, int]]:
    """Close, measure, check and rank the candidates of ``state``; grasps in the object file's frame, best first,
    not yet de-duplicated (``RankedCandidates.pick``), and the rejection counts.

    With the physics ranking on (and not cancelled) valid candidates are ranked by the object motion their closing
    causes first. Under a budget closing and measuring stop at ``until[0]`` and the physics ranking at ``until[1]``;
    candidates not measured are dropped, candidates not physics-ranked follow the ranked ones (both noted).
    ``keep_invalid`` (the network method): invalid candidates follow the valid ones, least penetrating first."""
    post = postprocessor(ctx)
    t0 = time.perf_counter()
    measured = close_and_measure(ctx, post, state, until[0])
    ctx.add_time("close_measure", t0)
    if measured is None:
        return RankedCandidates.empty(), dict.fromkeys(REJECTIONS, 0)
    t0 = time.perf_counter()
    ranks = ctx.scorer is not None and not ctx.control.cancel_requested()
    # with the physics ranking the wider Q1 levels only break its ties: computed afterwards, where needed
    checked = check_and_q1(ctx, measured, keep_invalid, levels=1 if ranks else None)
    ctx.add_time("exact_q1", t0)
    poses = file_poses(ctx, post, measured)
    physics = None
    if ranks and checked.valid.any():
        physics = physics_rank(ctx, post, measured, checked.valid, poses, until[1])
    if ranks:
        t0 = time.perf_counter()
        tie_break_q1(ctx, measured, checked, None if physics is None else physics.score)
        ctx.add_time("exact_q1", t0)
    return assemble(measured, checked, poses, physics, keep_invalid), checked.rejected


def assemble(measured: Measured, checked: Checked, poses: FilePoses, physics: PhysicsRanking | None,
             keep_invalid: bool) -> RankedCandidates:
    """The candidates as ranked Grasps (file frame) with their metrics: valid ones by the physics score (when
    ranked), then exact Q1 (2 mm, then 3 mm, then 5 mm contacts), then loss; dropped ones left out."""
    loss = measured.state.loss.detach().cpu().numpy()
    order = ranking_order(checked.q1, loss, checked.valid, checked.penetration if keep_invalid else None,
                          None if physics is None else physics.score)
    order = order[~checked.dropped[order]]
    q1 = checked.q1[0]
    grasps = []
    for i in order:
        settle = {} if physics is None or not np.isfinite(physics.displacement_m[i]) else {
            "settle_displacement_m": float(physics.displacement_m[i]),
            "settle_rotation_deg": float(physics.rotation_deg[i])}
        grasps.append(Grasp(
            palm_position=poses.position[i].astype(float), palm_quaternion_xyzw=poses.quat_xyzw[i].astype(float),
            joints=dict(zip(FINGER_JOINT_NAMES, poses.joints[i].astype(float).tolist(), strict=True)),
            pregrasp_joints=dict(zip(FINGER_JOINT_NAMES, poses.pregrasp_joints[i].astype(float).tolist(),
                                     strict=True)),
            squeeze_joints=dict(zip(FINGER_JOINT_NAMES, poses.squeeze_joints[i].astype(float).tolist(), strict=True)),
            pregrasp_palm_position=poses.pregrasp_position[i].astype(float),
            pregrasp_palm_quaternion_xyzw=poses.quat_xyzw[i].astype(float),
            metrics={"q1_exact": float(q1[i]), "penetration_m": float(checked.penetration[i]),
                     "self_penetration_m": float(checked.self_penetration[i]),
                     "contact_count": int(checked.contact_count[i]), "touching_fingers": int(checked.touching[i]),
                     "loss": float(loss[i]), "valid": bool(checked.valid[i]), **settle},
        ))
    score = np.full(len(loss), np.inf) if physics is None else physics.score
    closed = measured.closed
    return RankedCandidates(grasps, score[order], closed.position.cpu().numpy()[order],
                            closed.rotation.cpu().numpy()[order], poses.joints[order])


__all__ = ["FilePoses", "PhysicsRanking", "RankedCandidates", "assemble", "file_poses", "physics_rank",
           "postprocess_round", "ranking_order"]
