"""The benchmarks' shared timer (STYLE §11): untimed warmup calls, then the wall time of each repeat; summaries are
the median and the IQR (numpy's linear percentiles, 25th to 75th).

Imported by the scripts in this folder as ``from timing import …`` (the folder is on ``sys.path`` when a script
runs).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 1) -> np.ndarray:
    """(repeats,) seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls (``time.perf_counter``)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return np.array(times)


def median_iqr(times: np.ndarray) -> tuple[float, float]:
    """(median, IQR) of ``times`` in their unit."""
    q1, med, q3 = np.percentile(times, [25, 50, 75])
    return float(med), float(q3 - q1)


def timeit(fn: Callable[[], object], repeats: int, warmup: int = 1) -> tuple[float, float]:
    """Median and IQR (s) of ``repeats`` calls after ``warmup`` calls."""
    return median_iqr(time_calls(fn, repeats, warmup))


__all__ = ["median_iqr", "time_calls", "timeit"]
