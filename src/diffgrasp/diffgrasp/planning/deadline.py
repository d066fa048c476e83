"""One time budget for a whole planning request: mesh loading, preprocessing, refinement and post-processing.

The CLI starts the ``Deadline`` the moment it starts working on ``plan`` (before the mesh is read); a library call
without one gets a deadline started at ``plan_grasps``' entry from ``PlannerConfig.time_budget_s``. The planner turns
what is left of it into absolute stage ends (``Schedule``) once the object is ready: each stage checks its end between
chunks of work and stops there, so a plan overshoots by at most one chunk. The clock is injectable (tests).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator

import numpy as np

Clock = Callable[[], float]


def process_start(clock: Clock = time.perf_counter) -> float | None:
    """The ``clock`` value (perf_counter's by default) at which this process started, from Linux's /proc (its start
    time in clock ticks since boot and the uptime); None where that is not available."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: starttime
    except (OSError, ValueError, IndexError):
        return None
    return clock() - max(0.0, age)


class Deadline:
    """``budget_s`` seconds (None: no budget) from ``start`` (default: now) on ``clock`` (seconds, monotonic), of
    which the last ``reserve_s`` are kept for the caller (the CLI: writing the output and the process's exit)."""

    def __init__(self, budget_s: float | None, start: float | None = None, clock: Clock = time.perf_counter,
                 reserve_s: float = 0.0) -> None:
        if budget_s is not None and not budget_s > 0:
            raise ValueError(f"time budget: must be > 0 s, got {budget_s}")
        if not 0 <= reserve_s:
            raise ValueError(f"reserve_s: must be >= 0 s, got {reserve_s}")
        self.budget_s = budget_s
        self.reserve_s = reserve_s
        self.clock = clock
        self.start = clock() if start is None else start

    @property
    def enabled(self) -> bool:
        return self.budget_s is not None

    def now(self) -> float:
        return self.clock()

    def elapsed(self) -> float:
        """Seconds since the start."""
        return self.clock() - self.start

    def at(self, fraction: float = 1.0) -> float:
        """The clock value at ``fraction`` of the budget less the reserve (inf without a budget)."""
        return math.inf if self.budget_s is None else self.start + fraction * self.budget_s - self.reserve_s

    def remaining(self, fraction: float = 1.0) -> float:
        """Seconds until ``fraction`` of the budget is spent (inf without a budget; negative once passed)."""
        return self.at(fraction) - self.clock()

    def passed(self, fraction: float = 1.0) -> bool:
        """Whether ``fraction`` of the budget is spent (never without a budget)."""
        return self.budget_s is not None and self.clock() >= self.at(fraction)

    def __repr__(self) -> str:
        return f"Deadline(budget_s={self.budget_s}, elapsed={self.elapsed():.2f})"


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Absolute clock values (the deadline's clock) at which each stage stops starting new work: refinement stops
    iterating, closing and exact measuring stop taking further chunks of candidates, the exact-Q1 and physics
    ranking stop, and reseeding/verification (and everything) end. All inf without a budget."""

    refine: float
    close: float
    rank: float
    end: float

    @staticmethod
    def unbounded() -> Schedule:
        return Schedule(math.inf, math.inf, math.inf, math.inf)

    @staticmethod
    def split(deadline: Deadline, end_fraction: float, refine_share: float, close_share: float,
              rank_share: float) -> Schedule:
        """Share the time left until ``end_fraction`` of the budget: refinement until ``refine_share`` of it,
        closing until ``close_share``, ranking until ``rank_share`` (cumulative shares, increasing)."""
        if not deadline.enabled:
            return Schedule.unbounded()
        now, end = deadline.now(), deadline.at(end_fraction)
        left = max(0.0, end - now)
        return Schedule(now + refine_share * left, now + close_share * left, now + rank_share * left, end)


class Control:
    """What may stop one plan (the cancel hook, the deadline's ``schedule``) and what it cut short: ``notes`` (one
    phrase each, for the result's message), ``cancelled`` (sticky once the hook said so)."""

    def __init__(self, deadline: Deadline, should_cancel: Callable[[], bool] | None = None) -> None:
        self.deadline = deadline
        self.should_cancel = should_cancel
        self.schedule = Schedule.unbounded()
        self.cancelled = False
        self.notes: list[str] = []
        self._pace: dict[str, tuple[int, float]] = {}  # stage → (items done, seconds spent on them)

    @property
    def budgeted(self) -> bool:
        """Whether a time budget applies (stages then work in chunks and check their ends)."""
        return self.deadline.enabled

    def cancel_requested(self) -> bool:
        if not self.cancelled and self.should_cancel is not None and self.should_cancel():
            self.cancelled = True
        return self.cancelled

    def past(self, until: float) -> bool:
        """Whether the clock reached ``until`` (a schedule value)."""
        return self.deadline.enabled and self.deadline.now() >= until

    def stop(self, until: float) -> bool:
        """Cancelled, or past ``until``."""
        return self.cancel_requested() or self.past(until)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def fits(self, stage: str, items: int, until: float) -> bool:
        """Whether ``items`` more of ``stage``'s work, at the pace measured so far (``timed``), end by ``until``
        (True before any was measured, and without a budget)."""
        done, seconds = self._pace.get(stage, (0, 0.0))
        return not done or not self.deadline.enabled or self.deadline.now() + items * seconds / done <= until

    @contextlib.contextmanager
    def timed(self, stage: str, items: int) -> Iterator[None]:
        """Measure the pace of ``items`` of ``stage``'s work (see ``fits``)."""
        t0 = self.deadline.now()
        yield
        done, seconds = self._pace.get(stage, (0, 0.0))
        self._pace[stage] = (done + items, seconds + self.deadline.now() - t0)


def stop_status(should_cancel: Callable[[], bool] | None, deadline: float | None,
                clock: Clock = time.perf_counter) -> str | None:
    """Why an iterative stage stops now: "cancelled" (the hook says so, polled first), "time_budget" (``clock`` at or
    past ``deadline``), or None to go on."""
    if should_cancel is not None and should_cancel():
        return "cancelled"
    if deadline is not None and clock() >= deadline:
        return "time_budget"
    return None


def chunks(index: np.ndarray, size: int, ramp: bool = False) -> list[np.ndarray]:
    """``index`` (N,) split into consecutive chunks of ``size`` (the last may be shorter). ``ramp``: the first
    chunks are 4, 8, ... (doubling, below ``size``), so that a nearly spent budget still finishes a small chunk."""
    out, i, step = [], 0, min(4, size) if ramp else size
    while i < len(index):
        out.append(index[i:i + step])
        i += step
        step = min(size, 2 * step)
    return out


__all__ = ["Clock", "Control", "Deadline", "Schedule", "chunks", "stop_status"]
