"""The verify stage: the ranking's best distinct grasps re-simulated with longer pushes; the k moving least win.

``VerifyAhead`` starts verifying the grasps that already hold while reseeding refines more (MuJoCo's rollouts on one
core beside torch on the other); ``verified_pick`` then takes their motions instead of simulating them again.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time

import numpy as np

from diffgrasp.grasps import Grasp
from diffgrasp.planning.context import PlanContext
from diffgrasp.planning.deadline import chunks
from diffgrasp.planning.ranking import RankedCandidates
from diffgrasp.planning.scoring import motion_score, verification_motion

# grasps per background verification batch: a cancel waits for at most one batch (~1 s on one core)
AHEAD_BATCH = 4


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


class VerifyAhead:
    """The verification of the ranking's distinct holding grasps (score below ``reseed.good_score``), in a
    background thread with one rollout thread, while the reseed stage runs; nothing when k grasps already hold (no
    reseeding follows), verification or ``physics_rank.verify_ahead`` is off, or under a time budget (whose
    schedule shares time stage by stage). Reseeding never displaces a holding grasp (``RankedCandidates.merged``),
    so the verify stage meets these grasps first. Results do not depend on the thread: each grasp's rollouts are
    its own."""

    def __init__(self, ctx: PlanContext, ranked: RankedCandidates) -> None:
        self.motions: dict[int, tuple[float, float]] = {}  # id(grasp) → (displacement m, rotation deg)
        self.seconds = 0.0
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        config, control = ctx.config, ctx.control
        picked = ranked.pick(ctx.k, config.post)
        grasps = [ranked.grasps[i] for i in picked if ranked.score[i] < config.reseed.good_score]
        rank = config.physics_rank
        if (ctx.scorer is None or rank.verify_per_grasp <= 0 or not rank.verify_ahead or control.budgeted
                or not grasps or len(grasps) >= ctx.k or config.reseed.rounds == 0):
            return
        self._thread = threading.Thread(target=self._run, args=(ctx, grasps), name="verify-ahead", daemon=True)
        self._thread.start()

    def _run(self, ctx: PlanContext, grasps: list[Grasp]) -> None:
        try:
            t0 = time.perf_counter()
            stop = lambda: self._stop.is_set() or ctx.control.cancel_requested()  # noqa: E731
            sim = ctx.scorer.simulator(stop, threads=1)
            for start in range(0, len(grasps), AHEAD_BATCH):
                if sim is None or stop():
                    break
                part = grasps[start:start + AHEAD_BATCH]
                motion = verification_motion(part, sim, ctx.config.physics_rank)
                for grasp, d, r in zip(part, motion.displacement_m, motion.rotation_deg, strict=True):
                    self.motions[id(grasp)] = (float(d), float(r))
            self.seconds = time.perf_counter() - t0
        except BaseException as err:  # re-raised in the planning thread by result()
            self._error = err

    def result(self, cancelled: bool = False) -> dict[int, tuple[float, float]]:
        """Wait for the thread (``cancelled``: after its current batch) → the motions by ``id`` of the grasp."""
        if self._thread is not None:
            if cancelled:
                self._stop.set()
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self.motions


def _motions(grasps: list[Grasp], known: dict[int, tuple[float, float]], sim, rank) -> np.ndarray:
    """(N, 2) displacement m and rotation deg of each grasp: ``known`` ones (by id) as they are, the others
    simulated now (``verification_motion``)."""
    out = np.array([known.get(id(g), (np.nan, np.nan)) for g in grasps], dtype=float).reshape(-1, 2)
    todo = np.flatnonzero(np.isnan(out[:, 0]))
    if len(todo):
        motion = verification_motion([grasps[i] for i in todo], sim, rank)
        out[todo, 0], out[todo, 1] = motion.displacement_m, motion.rotation_deg
    return out


def verified_pick(ctx: PlanContext, ranked: RankedCandidates,
                  known: dict[int, tuple[float, float]] | None = None) -> Verification:
    """The k grasps to return, least moving under pushes of ``verify_push_s`` first (ties: the ranking's order).

    The best distinct physics-ranked candidates are re-simulated in ranking order: the first k, then twice as many as
    are still missing to k holding grasps (score below ``verify_holding_score``), and so on, at most
    ceil(verify_per_grasp · k) in all. Under a budget grasps are verified ``budget.chunk`` at a time until the
    schedule's end; when cut short the order is: verified and holding, not verified (ranking order), verified and
    failing. ``known``: motions already simulated (``VerifyAhead``), by id of the grasp."""
    config, control, k = ctx.config, ctx.control, ctx.k
    known = known or {}
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
                motion = _motions([ranked.grasps[i] for i in part], known, sim, rank)
            for i, (d, r) in zip(part, motion, strict=True):
                pushes[i] = (float(d), float(r))
            verified += part
            scores = np.concatenate([scores, motion_score(motion[:, 0], motion[:, 1], rank)])
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


__all__ = ["AHEAD_BATCH", "Verification", "VerifyAhead", "verified_pick"]
