"""``plan_grasps``: K ranked, diverse grasps for a watertight mesh (design notes §6, Refinement).

A plan is a list of stages over one ``PlanContext`` (diffgrasp.planning.context):

    init (starts) → refine → close/measure → rank → reseed → verify

- init (``planning.starts``): given grasps, the network's predictions, or random starts around the convex hull;
- refine (``planning.refiner`` on ``planning.energy``'s GraspLoss, or the DexGraspNet-style baseline's search);
- close/measure (``planning.measure``): fingers closed onto the surface, pregrasp/squeeze, rejection (penetration,
  self-collision, too few touching fingers, support plane), exact Q1;
- rank (``planning.ranking``): by the injected physics scorer's rollouts (``planning.scoring``), then exact Q1;
- reseed (``planning.reseed``): too few holding — refine jittered copies of the holding ones and rank again;
- verify (``planning.verify``): the best (up to 2k) with longer pushes, the k moving least first; the grasps that
  already hold are verified in a background thread while the reseed stage runs.

The methods differ only in their stage implementations (``METHODS``). Everything is in the object file's own frame;
internally the plan runs in a frame the mesh defines (``canonical_transform``). Deterministic for a seed on CPU.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable

import numpy as np
import torch

from diffgrasp.geometry import ObjectModel
from diffgrasp.geometry.planes import transformed_plane
from diffgrasp.grasps import Grasp
from diffgrasp.hand import JointCoupling, ShadowHand
from diffgrasp.planning.canonical_frame import canonical_transform
from diffgrasp.planning.context import PlanContext
from diffgrasp.planning.deadline import Control, Deadline, Schedule
from diffgrasp.planning.dexgraspnet import refine_dexgraspnet
from diffgrasp.planning.plan_result import PlanResult, ProgressInfo
from diffgrasp.planning.planner_config import PlannerConfig
from diffgrasp.planning.ranking import RankedCandidates, postprocess_round
from diffgrasp.planning.refiner import RefineOutcome, RefineState, refine
from diffgrasp.planning.reseed import reseed
from diffgrasp.planning.scoring import ScorerFactory, load_scorer
from diffgrasp.planning.starts import Poses, configured_starts, network_starts, random_starts
from diffgrasp.planning.verify import Verification, VerifyAhead, verified_pick


def refine_grasp_loss(ctx: PlanContext, poses: Poses) -> RefineOutcome:
    """Our refinement: batched Adam on the GraspLoss energy (``config.optim``), until the schedule's refine end."""
    control = ctx.control
    return refine(*poses, ctx.energy, ctx.u_limits, ctx.config.optim, ctx.progress, control.cancel_requested,
                  control.schedule.refine if control.budgeted else None, ctx.clock_start, clock=control.deadline.clock)


def refine_baseline(ctx: PlanContext, poses: Poses) -> RefineOutcome:
    """The DexGraspNet-style baseline's annealed Metropolis search on its own energy."""
    control = ctx.control
    return refine_dexgraspnet(ctx.hand, ctx.grid, ctx.coupling, *poses, ctx.config, ctx.rng, ctx.progress,
                              control.cancel_requested, control.schedule.refine if control.budgeted else None,
                              ctx.clock_start, clock=control.deadline.clock)


def no_refinement(ctx: PlanContext, poses: Poses) -> RefineOutcome:
    """The network-only method: the starts as they are (loss 0)."""
    position, rotation, u = poses
    return RefineOutcome(RefineState(position, rotation, u, torch.zeros(position.shape[0], device=position.device),
                                     {}), 0, "succeeded")


@dataclasses.dataclass(frozen=True)
class Method:
    """A planning method as its stage implementations. ``keep_invalid``: candidates failing the checks are returned
    after the valid ones (the network method returns the network's own grasps). ``reseed``: run the reseed stage."""

    starts: Callable[[PlanContext, int, list[Grasp] | None], Poses]
    refine: Callable[[PlanContext, Poses], RefineOutcome]
    keep_invalid: bool = False
    reseed: bool = False


METHODS: dict[str, Method] = {
    "diffgrasp": Method(configured_starts, refine_grasp_loss, reseed=True),
    "dexgraspnet": Method(random_starts, refine_baseline),
    "network": Method(network_starts, no_refinement, keep_invalid=True),
}


def face_budget(config: PlannerConfig, deadline: Deadline) -> int | None:
    """The largest mesh (faces) planned as given: ``config.max_faces``, or under a short time budget (see
    BudgetConfig) ``config.budget.max_faces`` when smaller."""
    if deadline.enabled and deadline.budget_s < config.budget.short_s:
        return min(config.budget.max_faces, config.max_faces or config.budget.max_faces)
    return config.max_faces


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


def plan_grasps(obj: ObjectModel | str | os.PathLike, k: int = 16, seed: int = 0,
                config: PlannerConfig | None = None, device: str | torch.device = "cpu",
                progress: Callable[[ProgressInfo], None] | None = None,
                should_cancel: Callable[[], bool] | None = None,
                initial_grasps: list[Grasp] | None = None, deadline: Deadline | None = None,
                scorer: ScorerFactory | None = None) -> PlanResult:
    """Plan ``k`` grasps for ``obj`` (an ObjectModel or a mesh path, metres, object frame).

    progress: called with ProgressInfo every ``optim.feedback_every`` iterations. should_cancel: polled between
    iterations and chunks of work; when it returns True the best grasps so far are post-processed (closing and
    checks; no physics ranking, reseeding or verification) and returned with status "cancelled".
    deadline: the time budget, already running (the CLI starts it before loading the mesh); default: one of
    ``config.time_budget_s`` started now. It covers everything from mesh loading to verification (see
    BudgetConfig): stages that would overrun stop early or are skipped, the best grasps so far are returned with
    status "time_budget" and the message says what was cut. k beyond the candidate pool is capped (see
    ``pool_size``; message), meshes above ``config.max_faces`` faces are simplified (a DiffgraspWarning).
    scorer: the physics ranking's ``ScorerFactory`` (default: the one ``config.physics_rank.scorer`` names, the
    physics test's MuJoCo scene); unused when ``physics_rank.enabled`` is false.
    """
    config = config or PlannerConfig()
    if k < 1:
        raise ValueError(f"k: must be >= 1, got {k}")
    if scorer is None and config.physics_rank.enabled:
        scorer = load_scorer(config.physics_rank.scorer)
    deadline = deadline if deadline is not None else Deadline(config.time_budget_s)
    threads = torch.get_num_threads()
    if config.torch_threads and torch.device(device).type == "cpu":
        torch.set_num_threads(config.torch_threads)
    try:
        return _plan(obj, k, seed, config, torch.device(device), progress, Control(deadline, should_cancel),
                     initial_grasps, scorer if config.physics_rank.enabled else None)
    finally:
        torch.set_num_threads(threads)


def _plan(obj: ObjectModel | str | os.PathLike, k: int, seed: int, config: PlannerConfig, device: torch.device,
          progress: Callable[[ProgressInfo], None] | None, control: Control, initial_grasps: list[Grasp] | None,
          scorer: ScorerFactory | None) -> PlanResult:
    """The stages of ``METHODS[config.method]`` in order (see the module docstring)."""
    start = time.perf_counter()
    method = METHODS[config.method]
    deadline, budget = control.deadline, config.budget
    clock_start = deadline.now()
    timings: dict[str, float] = {}
    loaded = isinstance(obj, ObjectModel)
    obj = obj.simplified(face_budget(config, deadline)) if loaded else ObjectModel.from_file(
        obj, max_faces=face_budget(config, deadline))
    if not loaded:
        timings["load"] = time.perf_counter() - start
    k, n, pool_note = pool_size(k, config, len(initial_grasps or ()))
    if deadline.passed(budget.end_fraction):  # nothing can be planned in what is left: say so at once
        timings.update(refine=0.0, total=time.perf_counter() - start)
        return PlanResult([], status="time_budget", timings_s=timings,
                          message="; ".join(filter(None, [pool_note, f"time budget {deadline.budget_s:g} s: spent "
                                                          f"before planning started ({deadline.elapsed():.1f} s)"])))
    initial_grasps = initial_grasps[:config.max_candidates] if initial_grasps else initial_grasps
    ctx = _context(obj, k, seed, config, device, progress, control, scorer, timings, start, clock_start)

    t0 = time.perf_counter()
    ctx.build_grid()  # one grid per plan: the starts (power starts' thumbs), refinement and closing share it
    timings["sdf_grid"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    poses = method.starts(ctx, n, initial_grasps)
    n = poses[0].shape[0]
    timings["init"] = time.perf_counter() - t0
    if deadline.passed(budget.end_fraction):
        control.note("spent on preprocessing")

    # The object is ready: share what is left of the budget among the stages.
    control.schedule = Schedule.split(deadline, budget.end_fraction, budget.refine_share, budget.close_share,
                                      budget.rank_share)
    t0 = time.perf_counter()
    outcome = method.refine(ctx, poses)
    timings["refine"] = time.perf_counter() - t0
    if outcome.status == "time_budget":
        control.note(f"refinement stopped after {outcome.iterations} of {config.optim.iterations} iterations")

    t0 = time.perf_counter()
    ranked, rejected = postprocess_round(ctx, outcome.state, method.keep_invalid,
                                         (control.schedule.close, control.schedule.rank))
    timings["postprocess"] = time.perf_counter() - t0
    known: dict[int, tuple[float, float]] = {}
    if method.reseed and outcome.status == "succeeded" and not control.cancelled:
        t0 = time.perf_counter()
        ahead = VerifyAhead(ctx, ranked)  # verifies the holding grasps beside the reseeding
        it_s = timings["refine"] / max(1, n * max(1, outcome.iterations))  # this machine's pace, for the budget
        post_s = timings["postprocess"] / max(1, n)
        ranked, added, rejected = reseed(ctx, ranked, rejected, lambda count, its: count * (its * it_s + post_s))
        n += added
        if added:
            timings["reseed"] = time.perf_counter() - t0
        known = ahead.result(cancelled=control.cancel_requested())
        if known:
            timings["verify_ahead"] = ahead.seconds  # overlapped with reseeding, not part of the total's sum
    picked = _verify(ctx, ranked, known)
    timings["total"] = time.perf_counter() - start
    return _result(ctx, outcome, picked.grasps(ranked), n, rejected, pool_note)


def _context(obj: ObjectModel, k: int, seed: int, config: PlannerConfig, device: torch.device,
             progress: Callable[[ProgressInfo], None] | None, control: Control, scorer: ScorerFactory | None,
             timings: dict[str, float], start: float, clock_start: float) -> PlanContext:
    """The plan's context: the physics scorer (its convex decomposition starts now, in the background, beside the
    SDF grid and the refinement), the planning frame (same result for a moved copy of the mesh), the seeded
    generators and the hand."""
    deadline = control.deadline
    short = deadline.enabled and deadline.budget_s < config.budget.short_s
    # the physics ranking simulates the mesh as given (it shares the physics test's CoACD cache)
    physics = scorer(obj, config, short) if scorer is not None else None
    to_canonical = canonical_transform(obj.mesh)
    plane = _plane_in_frame(config.support_plane, to_canonical)
    canonical = ObjectModel(obj.mesh.copy().apply_transform(to_canonical), name=obj.name, source=obj.source)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    hand = ShadowHand(device=device, dtype=torch.float32)
    return PlanContext(config=config, k=k, obj=canonical, file_object=obj, to_canonical=to_canonical, plane=plane,
                       hand=hand, coupling=JointCoupling(config.coupling_ratio), rng=rng, control=control,
                       scorer=physics, progress=progress, timings=timings, start=start, clock_start=clock_start,
                       short=short)


def _verify(ctx: PlanContext, ranked: RankedCandidates, known: dict[int, tuple[float, float]]) -> Verification:
    """The verify stage when the physics ranking is on and time is left; else the ranking's k best distinct.
    ``known``: motions verified ahead (VerifyAhead)."""
    picked = ranked.pick(ctx.k, ctx.config.post)
    rank = ctx.config.physics_rank
    if ctx.scorer is None or rank.verify_per_grasp <= 0 or not picked or ctx.control.stop(ctx.control.schedule.end):
        return Verification(picked, {})
    t0 = time.perf_counter()
    verification = verified_pick(ctx, ranked, known)
    ctx.timings["verify"] = time.perf_counter() - t0
    return verification


def _result(ctx: PlanContext, outcome: RefineOutcome, grasps: list[Grasp], n: int, rejected: dict[str, int],
            pool_note: str) -> PlanResult:
    """The PlanResult: status (cancelled, time_budget when a stage was cut, else the refinement's), the message,
    the best refined candidate's loss terms; a last progress report."""
    control, config, state = ctx.control, ctx.config, outcome.state
    best = int(state.loss.argmin()) if state.loss.numel() else 0
    terms = {key: float(v[best]) for key, v in state.terms.items()}
    if ctx.progress is not None:
        ctx.progress(ProgressInfo("postprocess", outcome.iterations, config.optim.iterations, float(state.loss[best]),
                                  terms, ctx.timings["total"]))
    status = "cancelled" if control.cancelled else "time_budget" if control.notes else outcome.status
    cut = f"time budget {control.deadline.budget_s:g} s: " if status == "time_budget" and control.notes else ""
    message = "; ".join(filter(None, [pool_note, cut + ", ".join(control.notes) if control.notes else ""]))
    return PlanResult(grasps=grasps, status=status, iterations=outcome.iterations, best_loss=float(state.loss[best]),
                      loss_terms=terms, num_candidates=n, num_rejected=rejected, timings_s=ctx.timings,
                      message=message)


def _plane_in_frame(plane, transform: np.ndarray) -> np.ndarray | None:
    """Plane (a, b, c, d) in the file frame → the same plane in the frame ``transform`` (4, 4) maps to."""
    if plane is None:
        return None
    plane = np.asarray(plane, dtype=float)
    if plane.shape != (4,) or not np.isfinite(plane).all() or abs(np.linalg.norm(plane[:3]) - 1) > 1e-3:
        raise ValueError(f"support_plane: expected (a, b, c, d) with a unit normal, got {plane.tolist()}")
    return transformed_plane(plane, transform)


__all__ = ["METHODS", "Method", "face_budget", "plan_grasps", "pool_size"]
