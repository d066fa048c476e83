"""Progress bars of the embedded pipeline: tqdm on stderr, or none (``progress=False``)."""

from __future__ import annotations

import sys

from tqdm import tqdm

from diffgrasp.planning import ProgressInfo

__all__ = ["progress_bar", "show_progress"]


def progress_bar(enabled: bool, total: int | None, desc: str) -> tqdm | None:
    """A bar of ``total`` steps (None: a counter) on stderr that disappears when closed; None when not ``enabled``."""
    if not enabled:
        return None
    return tqdm(total=total, desc=desc, unit="it", file=sys.stderr, leave=False)


def show_progress(bar: tqdm, info: ProgressInfo) -> None:
    """The planner's progress callback: the refinement iteration and the best loss so far."""
    bar.n = min(info.iteration, bar.total)
    bar.set_postfix(loss=f"{info.best_loss:.4f}", refresh=False)
    bar.refresh()
