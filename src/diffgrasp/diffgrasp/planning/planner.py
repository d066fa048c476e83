"""``plan_grasps``: K ranked, diverse grasps for a watertight mesh (design notes §6, Refinement).

Pipeline: initial candidates (around the convex hull, or the network's predictions and jittered copies of them, or
given grasps) → batched refinement on ``GraspLoss`` (or the DexGraspNet-style baseline energy) → closing onto the
surface, pregrasp/squeeze → rejection (penetration, self-collision, too few touching fingers) → ranking by the
physics rollouts, then exact Q1 → (too few holding: refine jittered copies of the holding ones and rank again) →
de-duplication → verification of the best (up to 2k) with longer pushes, the k moving least first. Everything is in
the object file's own frame. Deterministic for a seed on CPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Callable

import numpy as np
import torch

from diffgrasp.geometry import ObjectModel
from diffgrasp.geometry.rotations import matrix_to_quaternion_xyzw, quaternion_xyzw_to_matrix
from diffgrasp.grasps import Grasp
from diffgrasp.hand import JointCoupling, ShadowHand
from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp.planning.canonical_frame import canonical_transform
from diffgrasp.planning.deadline import Control, Deadline, Schedule, chunks
from diffgrasp.planning.fast_object import GridObject, SurfaceSubsetHand
from diffgrasp.planning.initialization import initial_candidates, jittered_copies
from diffgrasp.planning.physics_rank import PhysicsScene
from diffgrasp.planning.plan_result import PlanResult, ProgressInfo
from diffgrasp.planning.planner_config import PlannerConfig
from diffgrasp.planning.postprocess import GraspPostprocessor, select_diverse
from diffgrasp.planning.refiner import refine

CONTACT_METRIC_DISTANCE_M = 0.002  # candidates within this of the surface count as contacts (as the physics test)
RANKING_DISTANCES_M = (CONTACT_METRIC_DISTANCE_M, 0.003, 0.005)  # contact distances of the ranking's Q1 keys


def face_budget(config: PlannerConfig, deadline: Deadline) -> int | None:
    """The largest mesh (faces) planned as given: ``config.max_faces``, or under a short time budget (see
    BudgetConfig) ``config.budget.max_faces`` when smaller."""
    if deadline.enabled and deadline.budget_s < config.budget.short_s:
        return min(config.budget.max_faces, config.max_faces or config.budget.max_faces)
    return config.max_faces


def _as_object(obj: ObjectModel | str | os.PathLike, max_faces: int | None) -> ObjectModel:
    """A mesh path loaded, or an ObjectModel as given; either simplified when above ``max_faces`` (with a warning)."""
    if isinstance(obj, ObjectModel):
        return obj.simplified(max_faces)
    return ObjectModel.from_file(obj, max_faces=max_faces)


def pool_size(k: int, config: PlannerConfig, num_initial: int = 0) -> tuple[int, int, str]:
    """(k, number of candidates, note) within ``config.max_candidates``: k × candidates_per_grasp candidates (at
    least min_candidates; the network method: k), k capped so that every grasp keeps its candidates; the note says
    what was capped (empty when nothing). ``num_initial`` given grasps beyond the pool are dropped (noted too)."""
    limit = config.max_candidates
    per_grasp = 1 if config.method == "network" else config.candidates_per_grasp
    notes = []
    if k > limit // per_grasp:
        notes.append(f"k = {k} capped to {limit // per_grasp}: at most planner.max_candidates = {limit} candidates "
                     f"are refined" + (f", {per_grasp} per grasp" if per_grasp > 1 else ""))
        k = limit // per_grasp
    n = k if config.method == "network" else min(limit, max(config.min_candidates, k * per_grasp))
    if num_initial > limit:
        notes.append(f"only the first {limit} of {num_initial} initial grasps are refined (planner.max_candidates)")
    return k, n, "; ".join(notes)


def _grasps_to_tensors(grasps: list[Grasp], coupling: JointCoupling, dtype: torch.dtype, device: torch.device,
                       transform: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grasps (object file frame) → palm position (B, 3), rotation (B, 3, 3) in the frame ``transform`` maps to, u."""
    pos = np.array([g.palm_position for g in grasps]) @ transform[:3, :3].T + transform[:3, 3]
    quat = torch.tensor(np.array([g.palm_quaternion_xyzw for g in grasps]), dtype=torch.float64)
    rot = torch.as_tensor(transform[:3, :3]) @ quaternion_xyzw_to_matrix(quat)
    q22 = torch.tensor(np.array([g.joint_vector() for g in grasps]), dtype=dtype, device=device)
    return (torch.as_tensor(pos, dtype=dtype, device=device), rot.to(device, dtype), coupling.reduce(q22))


def plan_grasps(obj: ObjectModel | str | os.PathLike, k: int = 16, seed: int = 0,
                config: PlannerConfig | None = None, device: str | torch.device = "cpu",
                progress: Callable[[ProgressInfo], None] | None = None,
                should_cancel: Callable[[], bool] | None = None,
                initial_grasps: list[Grasp] | None = None, deadline: Deadline | None = None) -> PlanResult:
    """Plan ``k`` grasps for ``obj`` (an ObjectModel or a mesh path, metres, object frame).

    progress: called with ProgressInfo every ``optim.feedback_every`` iterations. should_cancel: polled between
    iterations and chunks of work; when it returns True the best grasps so far are post-processed (closing and
    checks; no physics ranking, reseeding or verification) and returned with status "cancelled".
    deadline: the time budget, already running (the CLI starts it before loading the mesh); default: one of
    ``config.time_budget_s`` started now. It covers everything from mesh loading to verification (see
    BudgetConfig): stages that would overrun stop early or are skipped, the best grasps so far are returned with
    status "time_budget" and the message says what was cut. k beyond the candidate pool is capped (see
    ``pool_size``; message), meshes above ``config.max_faces`` faces are simplified (a DiffgraspWarning).
    """
    config = config or PlannerConfig()
    if k < 1:
        raise ValueError(f"k: must be >= 1, got {k}")
    deadline = deadline if deadline is not None else Deadline(config.time_budget_s)
    threads = torch.get_num_threads()
    if config.torch_threads and torch.device(device).type == "cpu":
        torch.set_num_threads(config.torch_threads)
    try:
        return _plan(obj, k, seed, config, device, progress, Control(deadline, should_cancel), initial_grasps)
    finally:
        torch.set_num_threads(threads)


def _plan(obj, k: int, seed: int, config: PlannerConfig, device, progress, control: Control,
          initial_grasps) -> PlanResult:
    start = time.perf_counter()
    deadline, budget = control.deadline, config.budget
    clock_start = deadline.now()
    short = deadline.enabled and deadline.budget_s < budget.short_s
    timings: dict[str, float] = {}
    loaded = isinstance(obj, ObjectModel)
    obj = _as_object(obj, face_budget(config, deadline))
    if not loaded:
        timings["load"] = time.perf_counter() - start
    k, n, pool_note = pool_size(k, config, len(initial_grasps or ()))
    if deadline.passed(budget.end_fraction):  # nothing can be planned in what is left: say so at once
        timings.update(refine=0.0, total=time.perf_counter() - start)
        return PlanResult([], status="time_budget", timings_s=timings,
                          message="; ".join(filter(None, [pool_note, f"time budget {deadline.budget_s:g} s: spent "
                                                          f"before planning started ({deadline.elapsed():.1f} s)"])))
    initial_grasps = initial_grasps[:config.max_candidates] if initial_grasps else initial_grasps
    file_object = obj  # the physics ranking simulates the mesh as given (shares the physics test's CoACD cache)
    # Its convex decomposition starts now, in the background: CoACD runs beside the SDF grid and the refinement.
    physics = PhysicsScene(file_object, config, coarse=short) if config.physics_rank.enabled else None
    # Plan in a frame defined by the mesh itself (same result for a moved copy), map the grasps back at the end.
    to_canonical = canonical_transform(obj.mesh)
    plane = _plane_in_frame(config.support_plane, to_canonical)
    obj = ObjectModel(obj.mesh.copy().apply_transform(to_canonical), name=obj.name, source=obj.source)
    device = torch.device(device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    hand = ShadowHand(device=device, dtype=torch.float32)
    coupling = JointCoupling(config.coupling_ratio)
    u_limits = coupling.limits(device, torch.float32)

    t0 = time.perf_counter()
    pos, rot, u = _initial(obj, n, hand, coupling, config, rng, initial_grasps, to_canonical, plane)
    n = pos.shape[0]
    timings["init"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # one grid per plan: refinement and closing share it (a short budget builds it from fewer samples)
    grid = GridObject(obj, config.sdf_voxel_m, budget.sdf_surface_samples if short else None)
    timings["sdf_grid"] = time.perf_counter() - t0
    if deadline.passed(budget.end_fraction):
        control.note("spent on preprocessing")

    # The object is ready: share what is left of the budget among the stages.
    control.schedule = Schedule.split(deadline, budget.end_fraction, budget.refine_share, budget.close_share,
                                      budget.rank_share)
    refine_until = control.schedule.refine if deadline.enabled else None
    t0 = time.perf_counter()
    if config.method == "network":
        from diffgrasp.planning.refiner import RefineOutcome, RefineState
        zeros = torch.zeros(pos.shape[0], device=device)
        outcome = RefineOutcome(RefineState(pos, rot, u, zeros, {}), 0, "succeeded")
    elif config.method == "dexgraspnet":
        from diffgrasp.planning.dexgraspnet import refine_dexgraspnet
        outcome = refine_dexgraspnet(hand, grid, coupling, pos, rot, u, config, rng, progress,
                                     control.cancel_requested, refine_until, clock_start, clock=deadline.clock)
    else:
        energy = _diffgrasp_energy(hand, obj, grid, coupling, config, plane)
        outcome = refine(pos, rot, u, energy, u_limits, config.optim, progress, control.cancel_requested,
                         refine_until, clock_start, clock=deadline.clock)
    timings["refine"] = time.perf_counter() - t0
    if outcome.status == "time_budget":
        control.note(f"refinement stopped after {outcome.iterations} of {config.optim.iterations} iterations")

    t0 = time.perf_counter()
    to_file = np.linalg.inv(to_canonical)
    ranked, rejected = _postprocess(hand, obj, grid, coupling, outcome.state, config, to_file, plane, file_object,
                                    timings, control, physics, (control.schedule.close, control.schedule.rank))
    timings["postprocess"] = time.perf_counter() - t0
    if config.method == "diffgrasp" and outcome.status == "succeeded" and not control.cancelled:
        t0 = time.perf_counter()
        it_s = timings["refine"] / max(1, n * max(1, outcome.iterations))  # this machine's pace, for the budget
        post_s = timings["postprocess"] / max(1, n)
        ranked, added, rejected = _reseed(ranked, rejected, k, hand, obj, grid, coupling, energy, u_limits, config,
                                          to_file, plane, file_object, rng, progress, control, physics,
                                          lambda count, its: count * (its * it_s + post_s), start, timings)
        n += added
        if added:
            timings["reseed"] = time.perf_counter() - t0
    picked = ranked.pick(k, config.post)
    if (config.physics_rank.enabled and config.physics_rank.verify_per_grasp > 0 and picked
            and not control.stop(control.schedule.end)):
        t0 = time.perf_counter()
        picked = _verified_pick(ranked, k, config, file_object, physics, control, timings)
        timings["verify"] = time.perf_counter() - t0
    grasps = [ranked.grasps[i] for i in picked]
    timings["total"] = time.perf_counter() - start
    state = outcome.state
    best = int(state.loss.argmin()) if state.loss.numel() else 0
    if progress is not None:
        progress(ProgressInfo("postprocess", outcome.iterations, config.optim.iterations,
                              float(state.loss[best]), {kk: float(v[best]) for kk, v in state.terms.items()},
                              timings["total"]))
    status = "cancelled" if control.cancelled else "time_budget" if control.notes else outcome.status
    cut = f"time budget {deadline.budget_s:g} s: " if status == "time_budget" and control.notes else ""
    message = "; ".join(filter(None, [pool_note, cut + ", ".join(control.notes) if control.notes else ""]))
    return PlanResult(grasps=grasps, status=status, iterations=outcome.iterations,
                      best_loss=float(state.loss[best]),
                      loss_terms={kk: float(v[best]) for kk, v in state.terms.items()},
                      num_candidates=n, num_rejected=rejected, timings_s=timings, message=message)


def _reseed(ranked: RankedCandidates, rejected: dict[str, int], k: int, hand: ShadowHand, obj: ObjectModel,
            grid: GridObject, coupling: JointCoupling, energy, u_limits: tuple[torch.Tensor, torch.Tensor],
            config: PlannerConfig, to_file: np.ndarray, plane: np.ndarray | None, file_object: ObjectModel,
            rng: np.random.Generator, progress, control: Control, physics: PhysicsScene | None,
            round_seconds: Callable[[int, int], float], start: float,
            timings: dict[str, float]) -> tuple[RankedCandidates, int, dict[str, int]]:
    """Rounds of ``config.reseed``: while fewer than k distinct grasps hold in the physics ranking (score below
    ``good_score``) but some do, refine jittered copies of the holding ones (on the first round's ``energy``,
    reduced joints within ``u_limits``) and rank all rounds together.

    Returns the merged ranking, the number of candidates added and the summed rejection counts. The loop stops
    when cancelled or past the schedule's end; under a budget a round starts only if ``round_seconds(count,
    iterations)`` (the first round's pace) says it ends in time, and a round cut short is dropped (the earlier
    rounds are the best so far)."""
    rs = config.reseed
    if not config.physics_rank.enabled or rs.rounds == 0:
        return ranked, 0, rejected
    optim = dataclasses.replace(config.optim, iterations=rs.iterations)
    end = control.schedule.end
    added = 0
    for _ in range(rs.rounds):
        picked = ranked.pick(k, config.post)
        good = [i for i in picked if ranked.score[i] < rs.good_score]
        if not good or len(good) >= k:
            break
        count = min(rs.candidates, rs.per_missing * (k - len(good))) if rs.per_missing else rs.candidates
        if control.stop(end):
            break
        if control.budgeted and control.deadline.now() + round_seconds(count, rs.iterations) > end:
            control.note("reseeding skipped")
            break
        if progress is not None:  # a stage change: the refinement's counters stay full, the loss is the best kept
            best_loss = min((g.metrics["loss"] for g in ranked.grasps), default=float("nan"))
            progress(ProgressInfo("reseed", config.optim.iterations, config.optim.iterations, best_loss, {},
                                  time.perf_counter() - start))
        as_t = lambda a: torch.as_tensor(a, dtype=hand.dtype, device=hand.device)  # noqa: E731
        seeds = (as_t(ranked.position[good]), as_t(ranked.rotation[good]), coupling.reduce(as_t(ranked.q22[good])))
        pos, rot, u = jittered_copies(*seeds, count, rs.jitter_position_m, rs.jitter_rotation_rad,
                                      rs.jitter_joints_rad, u_limits, rng)
        outcome = refine(pos, rot, u, energy, u_limits, optim, None, control.cancel_requested,
                         end if control.budgeted else None, clock=control.deadline.clock)
        if outcome.status != "succeeded":
            if outcome.status == "time_budget":
                control.note("a reseeding round cut short was dropped")
            break
        round_timings: dict[str, float] = {}
        more, more_rejected = _postprocess(hand, obj, grid, coupling, outcome.state, config, to_file, plane,
                                           file_object, round_timings, control, physics, (end, end))
        for key in ("physics_rank", "decomposition"):
            if key in round_timings:
                timings[key] = timings.get(key, 0.0) + round_timings[key]
        ranked = ranked.merged(more, rs.good_score)
        rejected = {key: rejected[key] + more_rejected[key] for key in rejected}
        added += count
    return ranked, added, rejected


def _verified_pick(ranked: RankedCandidates, k: int, config: PlannerConfig, file_object: ObjectModel,
                   physics: PhysicsScene | None = None, control: Control | None = None,
                   timings: dict[str, float] | None = None) -> list[int]:
    """Indices of the k grasps to return, least moving under pushes of ``verify_push_s`` first (ties: the ranking's
    order). The best distinct physics-ranked candidates are re-simulated in ranking order: the first k, then twice
    as many as are still missing to k holding grasps (score below ``verify_holding_score``), and so on, at most
    ceil(verify_per_grasp · k) in all. Each verified grasp gets metrics ``push_displacement_m`` and
    ``push_rotation_deg``. Under a budget grasps are verified ``budget.chunk`` at a time until the schedule's end;
    when cut short the order is: verified and holding, not verified (ranking order), verified and failing."""
    from diffgrasp.planning.physics_rank import settle_simulator, verification_motion

    rank = config.physics_rank
    budgeted = control is not None and control.budgeted
    picked = ranked.pick(math.ceil(rank.verify_per_grasp * k), config.post)
    pool = [i for i in picked if np.isfinite(ranked.score[i])]  # the rest never passed the physics ranking's checks
    rest = [i for i in picked if not np.isfinite(ranked.score[i])]
    if not pool:
        return picked[:k]
    if physics is None:
        sim, _ = settle_simulator(file_object.mesh, file_object.name or "object", rank)
    else:
        sim = physics.simulator(None if control is None else lambda: control.stop(control.schedule.end), timings)
    if sim is None:
        control.note("verification skipped")
        return picked[:k]
    verified: list[int] = []
    scores = np.zeros(0)
    batch, cut = pool[:k], False
    while batch and not cut:
        for part in (chunks(np.asarray(batch), config.budget.chunk, ramp=True) if budgeted else [np.asarray(batch)]):
            end = control.schedule.end if budgeted else math.inf
            if budgeted and (control.stop(end) or not control.fits("verify", len(part), end)):
                cut = True
                break
            part = part.tolist()
            with contextlib.nullcontext() if control is None else control.timed("verify", len(part)):
                motion = verification_motion([ranked.grasps[i] for i in part], sim, rank)
            for i, d, r in zip(part, motion.displacement_m, motion.rotation_deg, strict=True):
                ranked.grasps[i].metrics.update(push_displacement_m=float(d), push_rotation_deg=float(r))
            verified += part
            scores = np.concatenate([scores, motion.score(rank)])
        missing = k - int((scores < rank.verify_holding_score).sum())
        batch = pool[len(verified):len(verified) + 2 * missing] if missing > 0 else []
    order = np.argsort(scores, kind="stable")
    if not cut:
        return ([verified[j] for j in order] + rest)[:k]
    control.note(f"verification stopped after {len(verified)} grasps")
    holding = scores < rank.verify_holding_score
    unverified = [i for i in pool if i not in set(verified)]
    return ([verified[j] for j in order if holding[j]] + unverified
            + [verified[j] for j in order if not holding[j]] + rest)[:k]


def _initial(obj: ObjectModel, n: int, hand: ShadowHand, coupling: JointCoupling, config: PlannerConfig,
             rng: np.random.Generator, initial_grasps: list[Grasp] | None, to_canonical: np.ndarray,
             plane: np.ndarray | None = None):
    parts = []
    if initial_grasps:
        parts.append(_grasps_to_tensors(initial_grasps, coupling, hand.dtype, hand.device, to_canonical))
    elif (config.init == "network" and config.method == "diffgrasp") or config.method == "network":
        # (the DexGraspNet-style baseline keeps its own random initialisation)
        share = 1.0 if config.method == "network" else config.init_config.network_share
        p, r, u = _network_candidates(obj, round(n * share), hand, coupling, config, rng,
                                      all_predictions=config.method == "network")
        if plane is not None and config.method != "network":  # as for random starts: none from below the table
            keep = _clear_of_plane(hand, p, r, plane).nonzero()[:, 0]
            p, r, u = p[keep], r[keep], u[keep]
        parts.append((p, r, u))
    have = sum(p[0].shape[0] for p in parts)
    if have < n and config.method != "network":
        want = n - have
        # With a support plane, approach only from its free side: draw more, keep palms facing down or sideways.
        draw = want if plane is None else 4 * want
        p, r, u = initial_candidates(obj.mesh, draw, coupling, config.init_config, rng, hand.dtype, hand.device)
        if plane is not None:
            clear = _clear_of_plane(hand, p, r, plane)
            keep = torch.cat([clear.nonzero()[:, 0], (~clear).nonzero()[:, 0]])[:want]  # pad if too few
            p, r, u = p[keep], r[keep], u[keep]
        parts.append((p, r, u))
    return tuple(torch.cat([p[i] for p in parts]) for i in range(3))


def _clear_of_plane(hand: ShadowHand, position: torch.Tensor, rotation: torch.Tensor, plane: np.ndarray
                    ) -> torch.Tensor:
    """(B,) bool: the palm approaches from the plane's free side (its +y no more than ~12° below the plane) and the
    forearm housing starts above the plane (a table)."""
    up = torch.as_tensor(plane[:3], dtype=rotation.dtype, device=rotation.device)
    forearm = hand.forearm_hull_points(position, rotation) @ up + float(plane[3])
    return (rotation[:, :, 1] @ up > -0.2) & (forearm.amin(1) > 0)


def _network_candidates(obj: ObjectModel, n: int, hand: ShadowHand, coupling: JointCoupling,
                        config: PlannerConfig, rng: np.random.Generator, all_predictions: bool = False
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n candidates (max(n, G) with ``all_predictions``) from the network's G grasps (canonical frame in and out).

    The first min(n, G) are the predictions themselves; further ones cycle through the predictions with the jitter
    of ``config.init_config`` (palm position, palm rotation, reduced joints), drawn from ``rng``.
    """
    from diffgrasp.network import CheckpointError, predict_grasps

    try:
        predicted = predict_grasps(obj.mesh, checkpoint=config.network_checkpoint, device=str(hand.device))
    except CheckpointError as err:
        raise CheckpointError(f"planner.network_checkpoint: {err}") from None
    pos, rot, u = _grasps_to_tensors(predicted, coupling, hand.dtype, hand.device, np.eye(4))
    g = pos.shape[0]
    n = max(n, g) if all_predictions else n
    if n <= g:
        return pos[:n], rot[:n], u[:n]
    ic = config.init_config
    copies = jittered_copies(pos, rot, u, n - g, ic.network_jitter_position_m, ic.network_jitter_rotation_rad,
                             ic.network_jitter_joints_rad, coupling.limits(pos.device, pos.dtype), rng)
    return tuple(torch.cat([a, b]) for a, b in zip((pos, rot, u), copies, strict=True))


def _plane_in_frame(plane, transform: np.ndarray) -> np.ndarray | None:
    """Plane (a, b, c, d) in the file frame → the same plane in the frame ``transform`` (4, 4) maps to."""
    if plane is None:
        return None
    plane = np.asarray(plane, dtype=float)
    if plane.shape != (4,) or not np.isfinite(plane).all() or abs(np.linalg.norm(plane[:3]) - 1) > 1e-3:
        raise ValueError(f"support_plane: expected (a, b, c, d) with a unit normal, got {plane.tolist()}")
    n = transform[:3, :3] @ plane[:3]
    return np.array([*n, plane[3] - n @ transform[:3, 3]])


def _diffgrasp_energy(hand: ShadowHand, obj: ObjectModel, grid: GridObject, coupling: JointCoupling,
                      config: PlannerConfig, plane: np.ndarray | None = None):
    from diffgrasp.losses import GraspLoss, LossConfig, support_plane_violation

    loss_cfg = dataclasses.replace(LossConfig(), **config.loss)
    # The grid answers the many skin samples; the ~45 contact candidates (Q1, closeness) use the exact distance
    # unless grid_contacts (the exact BVH query was a third of an iteration's time).
    grasp_loss = GraspLoss(SurfaceSubsetHand(hand, config.surface_stride), grid if config.grid_contacts else obj,
                           loss_cfg, surface_distance=grid.grid)

    skin = SurfaceSubsetHand(hand, config.surface_stride)
    plane_t = None if plane is None else torch.as_tensor(plane, dtype=hand.dtype, device=hand.device)

    def energy(position: torch.Tensor, rotation: torch.Tensor, u: torch.Tensor):
        # Candidates are independent: evaluating them in chunks keeps every tensor cache-sized (on the 2-core box a
        # batch of 128 cost 4.8 ms per candidate and iteration in one piece, 2.9 ms in chunks of 64).
        chunk = config.refine_chunk
        if not chunk or position.shape[0] <= chunk:
            return energy_chunk(position, rotation, u)
        parts = [energy_chunk(p, r, v) for p, r, v in zip(position.split(chunk), rotation.split(chunk), u.split(chunk))]
        return (torch.cat([t for t, _ in parts]),
                {key: torch.cat([terms[key] for _, terms in parts]) for key in parts[0][1]})

    def energy_chunk(position: torch.Tensor, rotation: torch.Tensor, u: torch.Tensor):
        q22 = coupling.expand(u)
        out = grasp_loss(position, rotation, q22)
        if plane_t is None:
            return out.total, out.terms
        # The skin and the forearm's bulky housing (its hull's vertices): the housing is what meets a table first.
        points = torch.cat([skin.surface_points(position, rotation, q22), hand.forearm_hull_points(position, rotation)],
                           dim=1)
        support = support_plane_violation(points, plane_t, config.support_margin_m)
        return out.total + config.w_support * support, {**out.terms, "support_plane": support}

    return energy


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


def _postprocess(hand: ShadowHand, obj: ObjectModel, grid: GridObject, coupling: JointCoupling, state,
                 config: PlannerConfig, to_file: np.ndarray, plane: np.ndarray | None = None,
                 file_object: ObjectModel | None = None, timings: dict[str, float] | None = None,
                 control: Control | None = None, physics: PhysicsScene | None = None,
                 until: tuple[float, float] = (math.inf, math.inf)) -> tuple[RankedCandidates, dict[str, int]]:
    """Close, measure, reject and rank; grasps are returned in the object file's frame (``to_file``), best first,
    not yet de-duplicated (``RankedCandidates.pick``).

    With ``config.physics_rank.enabled`` and ``file_object`` (the mesh in the file frame), valid candidates are ranked
    by the object motion their closing causes in the physics test's scene first (``physics``: that scene; ``timings``
    gets "physics_rank" and "decomposition" seconds); not when ``control`` says cancelled. Under a budget
    (``control.budgeted``) candidates are closed and measured in chunks, lowest loss first, until ``until[0]`` (the
    first chunk until the schedule's end), exact Q1 stops at the schedule's end and the physics ranking at
    ``until[1]``; candidates not measured are dropped, candidates not physics-ranked follow the ranked ones
    (``control`` notes both)."""
    from diffgrasp.losses import exact_q1
    from diffgrasp.planning.fast_object import self_penetration_depth
    from diffgrasp.planning.postprocess import ClosedGrasps

    post = GraspPostprocessor(hand, obj, config.post, grid,
                              SurfaceSubsetHand(hand, config.post.closing_surface_stride), plane)
    budgeted = control is not None and control.budgeted

    def close_and_measure(st) -> tuple[ClosedGrasps, dict[str, torch.Tensor]]:
        q22 = coupling.expand(st.u.detach())
        pos, rot = st.position.detach(), st.rotation.detach()
        if not _closing_enabled(config):
            closed = ClosedGrasps(pos, rot, q22, torch.zeros(pos.shape[0], 6, dtype=torch.bool, device=pos.device))
        else:
            closed = post.close(pos, rot, q22)
        return closed, post.measure(closed, lambda a, b, r: self_penetration_depth(a, b, r, hand.self_collision_pairs))

    if not budgeted:
        closed, m = close_and_measure(state)
    else:
        order = np.argsort(state.loss.detach().cpu().numpy(), kind="stable")
        parts, done = [], []
        for i, idx in enumerate(chunks(order, config.budget.chunk, ramp=True)):
            if control.past(control.schedule.end) or (i > 0 and (control.stop(until[0])
                                                                 or not control.fits("close", len(idx), until[0]))):
                break
            with control.timed("close", len(idx)):
                parts.append(close_and_measure(state.select(torch.as_tensor(idx, device=state.loss.device))))
            done.append(idx)
        if len(done) < len(chunks(order, config.budget.chunk, ramp=True)):
            control.note(f"{sum(map(len, done))} of {len(order)} candidates post-processed")
        if not done:
            return RankedCandidates.empty(), {"penetration": 0, "self_collision": 0, "too_few_contacts": 0,
                                              "below_support": 0}
        state = state.select(torch.as_tensor(np.concatenate(done), device=state.loss.device))
        closed = ClosedGrasps(*(torch.cat([getattr(c, f.name) for c, _ in parts])
                                for f in dataclasses.fields(ClosedGrasps)))
        m = {key: torch.cat([mm[key] for _, mm in parts]) for key in parts[0][1]}
    phases = post.phases(closed)

    pen = m["penetration"].cpu().numpy()
    self_pen = m["self_penetration"].cpu().numpy()
    touching = m["touching_groups"].cpu().numpy()
    ok_pen = pen <= config.post.max_penetration_m
    ok_self = self_pen <= config.post.max_self_penetration_m
    ok_touch = touching >= config.post.min_contact_fingers
    below = m["below_support"].cpu().numpy()
    ok_support = below <= config.post.max_penetration_m
    rejected = {"penetration": int((~ok_pen).sum()), "self_collision": int((ok_pen & ~ok_self).sum()),
                "too_few_contacts": int((ok_pen & ok_self & ~ok_touch).sum()),
                "below_support": int((ok_pen & ok_self & ok_touch & ~ok_support).sum())}
    valid = ok_pen & ok_self & ok_touch & ok_support

    dist = m["contact_distance"].cpu().numpy()
    cpts = m["contact_points"].cpu().numpy()
    cnormals = m["contact_normals"].cpu().numpy()
    com, rho = obj.center_of_mass, obj.characteristic_length
    # Exact Q1 of the contact candidates within each ranking distance (the first = the reported metric, the physics
    # test's contact distance). Measured on 144 planned grasps: Q1 > 0 within 2 mm passed the physics test 85 % of the
    # time, within 3 mm 58 %, within 5 mm 42 %, the rest 11-19 %: the wider ones only break ties.
    q1 = np.zeros((len(RANKING_DISTANCES_M), len(pen)))
    contact_count = (np.abs(dist) <= CONTACT_METRIC_DISTANCE_M).sum(1)
    # The network method returns k grasps even when fewer pass the checks: the failing ones after the valid ones,
    # least penetrating first, with their metrics (the user asked for the network's own grasps).
    keep_invalid = config.method == "network"
    dropped = np.zeros(len(pen), dtype=bool)  # not measured in time (budget): not returned
    todo = np.flatnonzero(valid | keep_invalid)
    for count, i in enumerate(todo):  # qhull per grasp: a few ms each, post-processing only
        # (cheap next to closing: a closed candidate gets its Q1 until the schedule's end, not the ranking's)
        if budgeted and control.stop(control.schedule.end):
            dropped[todo[count:]] = True
            valid &= ~dropped
            control.note(f"exact Q1 of {len(todo) - count} candidates skipped")
            break
        for level, distance in enumerate(RANKING_DISTANCES_M):
            near = np.abs(dist[i]) <= distance
            if near.sum() >= 2:
                q1[level, i] = exact_q1(cpts[i, near], cnormals[i, near], torque_scale=rho, center=com)
    rot_np, pos_np, q_np = closed.rotation.cpu().numpy(), closed.position.cpu().numpy(), closed.q22.cpu().numpy()
    rot_file = torch.as_tensor(to_file[:3, :3], dtype=closed.rotation.dtype) @ closed.rotation.cpu()
    quats = matrix_to_quaternion_xyzw(rot_file.double()).numpy()
    pos_file = pos_np @ to_file[:3, :3].T + to_file[:3, 3]
    pre_pos = phases["pregrasp_position"].cpu().numpy() @ to_file[:3, :3].T + to_file[:3, 3]
    pre_q = phases["pregrasp_joints"].cpu().numpy()
    sq_q = phases["squeeze_joints"].cpu().numpy()

    settle, physics_score = None, None
    rank_cancelled = control is not None and control.cancel_requested()
    if config.physics_rank.enabled and file_object is not None and valid.any() and not rank_cancelled:
        from diffgrasp.planning.physics_rank import best_phase_variants, settle_simulator
        if physics is None:
            sim, decomposition_s = settle_simulator(file_object.mesh, file_object.name or "object",
                                                    config.physics_rank)
            if timings is not None:
                timings["decomposition"] = decomposition_s
        else:
            # waiting for the decomposition (CoACD can take a minute) ends on cancel, or under a budget at its stage end
            sim = physics.simulator(None if control is None else lambda: control.stop(until[1]), timings)
        if sim is None:
            control.note("physics ranking skipped (convex decomposition not ready)")
        else:
            settle = np.full((2, len(pen)), np.nan)
            physics_score = np.full(len(pen), np.inf)
            seconds, ranked_count, idx_all = 0.0, 0, np.flatnonzero(valid)
            for idx in (chunks(idx_all, config.budget.chunk, ramp=True) if budgeted else [idx_all]):
                if budgeted and (control.stop(until[1]) or not control.fits("rank", len(idx), until[1])):
                    control.note(f"physics ranking of {len(idx_all) - ranked_count} candidates skipped")
                    break
                with control.timed("rank", len(idx)):
                    choice = best_phase_variants(post, closed, idx, {
                        "pregrasp_position": pre_pos[idx], "pregrasp_quat_wxyz": quats[idx][:, [3, 0, 1, 2]],
                        "grasp_position": pos_file[idx], "grasp_joints": q_np[idx]}, file_object, config, sim=sim)
                motion = choice.motion
                sq_q[idx], pre_q[idx] = choice.squeeze_joints, choice.pregrasp_joints
                settle[0, idx], settle[1, idx] = motion.displacement_m, motion.rotation_deg
                physics_score[idx] = motion.score(config.physics_rank)
                seconds += motion.seconds
                ranked_count += len(idx)
            if timings is not None:
                timings["physics_rank"] = seconds
    # Only valid grasps are returned, ranked by the physics score (when on), then exact Q1 (2 mm, then 3 mm, then
    # 5 mm contacts), then by loss.
    loss = state.loss.detach().cpu().numpy()
    order_valid = ranking_order(q1, loss, valid, pen if keep_invalid else None, physics_score)
    order_valid = order_valid[~dropped[order_valid]]
    q1 = q1[0]

    grasps = []
    for i in order_valid:
        grasps.append(Grasp(
            palm_position=pos_file[i].astype(float), palm_quaternion_xyzw=quats[i].astype(float),
            joints=dict(zip(FINGER_JOINT_NAMES, q_np[i].astype(float).tolist(), strict=True)),
            pregrasp_joints=dict(zip(FINGER_JOINT_NAMES, pre_q[i].astype(float).tolist(), strict=True)),
            squeeze_joints=dict(zip(FINGER_JOINT_NAMES, sq_q[i].astype(float).tolist(), strict=True)),
            pregrasp_palm_position=pre_pos[i].astype(float),
            pregrasp_palm_quaternion_xyzw=quats[i].astype(float),
            metrics={"q1_exact": float(q1[i]), "penetration_m": float(pen[i]),
                     "self_penetration_m": float(self_pen[i]), "contact_count": int(contact_count[i]),
                     "touching_fingers": int(touching[i]), "loss": float(loss[i]), "valid": bool(valid[i]),
                     **({} if settle is None or not np.isfinite(settle[0, i]) else
                        {"settle_displacement_m": float(settle[0, i]), "settle_rotation_deg": float(settle[1, i])})},
        ))
    score = np.full(len(pen), np.inf) if physics_score is None else physics_score
    return RankedCandidates(grasps, score[order_valid], pos_np[order_valid], rot_np[order_valid],
                            q_np[order_valid]), rejected


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


def _closing_enabled(config: PlannerConfig) -> bool:
    return config.post.close_steps > 0
