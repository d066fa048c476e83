"""The verify stage: the ranking's best distinct grasps re-simulated with longer pushes; the k moving least win."""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np

from diffgrasp.grasps import Grasp
from diffgrasp.planning.context import PlanContext
from diffgrasp.planning.deadline import chunks
from diffgrasp.planning.ranking import RankedCandidates
from diffgrasp.planning.scoring import verification_motion


@dataclasses.dataclass
class Verification:
    """The indices (into the ranking) of the grasps to return, in order, and the push motion of each verified grasp:
    index → (displacement m, rotation deg)."""

    picked: list[int]
    pushes: dict[int, tuple[float, float]]

    def grasps(self, ranked: RankedCandidates) -> list[Grasp]:
        """The picked grasps, the verified ones with metrics ``push_displacement_m`` and ``push_rotation_deg``."""
        out = []
        for i in self.picked:
            grasp = ranked.grasps[i]
            if i in self.pushes:
                grasp = copy.copy(grasp)
                d, r = self.pushes[i]
                grasp.metrics = {**grasp.metrics, "push_displacement_m": d, "push_rotation_deg": r}
            out.append(grasp)
        return out


def verified_pick(ctx: PlanContext, ranked: RankedCandidates) -> Verification:
    """The k grasps to return, least moving under pushes of ``verify_push_s`` first (ties: the ranking's order).

    The best distinct physics-ranked candidates are re-simulated in ranking order: the first k, then twice as many as
    are still missing to k holding grasps (score below ``verify_holding_score``), and so on, at most
    ceil(verify_per_grasp · k) in all. Under a budget grasps are verified ``budget.chunk`` at a time until the
    schedule's end; when cut short the order is: verified and holding, not verified (ranking order), verified and
    failing."""
    config, control, k = ctx.config, ctx.control, ctx.k
    rank = config.physics_rank
    picked = ranked.pick(math.ceil(rank.verify_per_grasp * k), config.post)
    pool = [i for i in picked if np.isfinite(ranked.score[i])]  # the rest never passed the physics ranking's checks
    rest = [i for i in picked if not np.isfinite(ranked.score[i])]
    if not pool:
        return Verification(picked[:k], {})
    sim = ctx.scorer.simulator(lambda: control.stop(control.schedule.end), ctx.timings)
    if sim is None:
        control.note("verification skipped")
        return Verification(picked[:k], {})
    verified: list[int] = []
    pushes: dict[int, tuple[float, float]] = {}
    scores = np.zeros(0)
    batch, cut = pool[:k], False
    while batch and not cut:
        for part in (chunks(np.asarray(batch), config.budget.chunk, ramp=True) if control.budgeted
                     else [np.asarray(batch)]):
            end = control.schedule.end
            if control.budgeted and (control.stop(end) or not control.fits("verify", len(part), end)):
                cut = True
                break
            part = part.tolist()
            with control.timed("verify", len(part)):
                motion = verification_motion([ranked.grasps[i] for i in part], sim, rank)
            for i, d, r in zip(part, motion.displacement_m, motion.rotation_deg, strict=True):
                pushes[i] = (float(d), float(r))
            verified += part
            scores = np.concatenate([scores, motion.score(rank)])
        missing = k - int((scores < rank.verify_holding_score).sum())
        batch = pool[len(verified):len(verified) + 2 * missing] if missing > 0 else []
    order = np.argsort(scores, kind="stable")
    if not cut:
        return Verification(([verified[j] for j in order] + rest)[:k], pushes)
    control.note(f"verification stopped after {len(verified)} grasps")
    holding = scores < rank.verify_holding_score
    unverified = [i for i in pool if i not in set(verified)]
    return Verification(([verified[j] for j in order if holding[j]] + unverified
                         + [verified[j] for j in order if not holding[j]] + rest)[:k], pushes)


__all__ = ["Verification", "verified_pick"]
