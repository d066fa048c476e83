"""The reseed stage: more candidates where the physics ranking found too few holding grasps (ReseedConfig)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import torch

from diffgrasp.planning.context import PlanContext
from diffgrasp.planning.initialization import jittered_copies
from diffgrasp.planning.plan_result import ProgressInfo
from diffgrasp.planning.ranking import RankedCandidates, postprocess_round
from diffgrasp.planning.refiner import refine
from diffgrasp.planning.starts import configured_starts


def reseed(ctx: PlanContext, ranked: RankedCandidates, rejected: dict[str, int],
           round_seconds: Callable[[int, int], float]) -> tuple[RankedCandidates, int, dict[str, int]]:
    """Rounds of ``config.reseed``: while fewer than k distinct grasps hold in the physics ranking (score below
    ``good_score``) but some do, refine jittered copies of the holding ones (on the plan's energy, reduced joints
    within the limits) and rank all rounds together; while none holds, refine fresh starts instead
    (``fresh_rounds``).

    Returns the merged ranking, the number of candidates added and the summed rejection counts. The loop stops
    when cancelled or past the schedule's end; under a budget a round starts only if ``round_seconds(count,
    iterations)`` (the first round's pace) says it ends in time, and a round cut short is dropped (the earlier
    rounds are the best so far)."""
    config, control, k = ctx.config, ctx.control, ctx.k
    rs = config.reseed
    if ctx.scorer is None or rs.rounds + rs.fresh_rounds == 0:
        return ranked, 0, rejected
    end = control.schedule.end
    added = 0
    copies_left, fresh_left = rs.rounds, rs.fresh_rounds
    while True:
        picked = ranked.pick(k, config.post)
        good = [i for i in picked if ranked.score[i] < rs.good_score]
        fresh = not good  # nothing holds, nothing to copy: new starts instead
        if len(good) >= k or (fresh_left if fresh else copies_left) == 0:
            break
        if fresh:
            count, iterations = rs.fresh_candidates, config.optim.iterations
        else:
            count = min(rs.candidates, rs.per_missing * (k - len(good))) if rs.per_missing else rs.candidates
            iterations = rs.iterations
        if control.stop(end):
            break
        if control.budgeted and control.deadline.now() + round_seconds(count, iterations) > end:
            control.note("reseeding skipped")
            break
        if ctx.progress is not None:  # a stage change: the refinement's counters stay full, the loss is the best kept
            best_loss = min((g.metrics["loss"] for g in ranked.grasps), default=float("nan"))
            ctx.progress(ProgressInfo("reseed", config.optim.iterations, config.optim.iterations, best_loss, {},
                                      time.perf_counter() - ctx.start))
        if fresh:
            fresh_left -= 1
            pos, rot, u = configured_starts(ctx, count, None)
        else:
            copies_left -= 1
            hand = ctx.hand
            as_t = lambda a: torch.as_tensor(a, dtype=hand.dtype, device=hand.device)  # noqa: E731
            seeds = (as_t(ranked.position[good]), as_t(ranked.rotation[good]),
                     ctx.coupling.reduce(as_t(ranked.q22[good])))
            pos, rot, u = jittered_copies(*seeds, count, rs.jitter_position_m, rs.jitter_rotation_rad,
                                          rs.jitter_joints_rad, ctx.u_limits, ctx.rng)
        optim = dataclasses.replace(config.optim, iterations=iterations)
        outcome = refine(pos, rot, u, ctx.energy, ctx.u_limits, optim, None, control.cancel_requested,
                         end if control.budgeted else None, clock=control.deadline.clock)
        if outcome.status != "succeeded":
            if outcome.status == "time_budget":
                control.note("a reseeding round cut short was dropped")
            break
        more, more_rejected = postprocess_round(ctx, outcome.state, keep_invalid=False, until=(end, end))
        ranked = ranked.merged(more, rs.good_score)
        rejected = {key: rejected[key] + more_rejected[key] for key in rejected}
        added += count
    return ranked, added, rejected


__all__ = ["reseed"]
