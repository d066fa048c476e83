"""Small ROS-free helpers shared by the nodes: installed share files and core config loading."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from diffgrasp.config import load_config

BRINGUP = "diffgrasp_bringup"


def share_file(relative: str, package: str = BRINGUP) -> str:
    """``<prefix>/share/<package>/<relative>`` from AMENT_PREFIX_PATH, else the source tree's top-level file."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        candidate = Path(prefix) / "share" / package / relative
        if prefix and candidate.exists():
            return str(candidate)
    source = Path(__file__).resolve().parents[3] / relative
    if source.exists():
        return str(source)
    raise FileNotFoundError(f"{relative} not found in share/{package} of AMENT_PREFIX_PATH or in the source tree")


def load_core_config(cls: type, path: str, overrides: dict[str, Any] | None = None) -> Any:
    """A core config dataclass from its YAML (``""`` = the dataclass defaults) plus overrides (None values ignored)."""
    return load_config(cls, path or None, overrides)


def apply_overrides(config: Any, max_iterations: int = 0, weights: dict[str, float] | None = None,
                    time_budget_s: float = 0.0, feedback_every: int = 0) -> Any:
    """``diffgrasp.planning.PlannerConfig`` with a goal's overrides; zeros keep the configured value.

    max_iterations → ``optim.iterations``; feedback_every → ``optim.feedback_every`` (the planner calls its progress
    callback at that period); time_budget_s → ``time_budget_s``; weights (LossConfig field names, config/loss.yaml)
    are merged into ``loss``. Unknown weight names raise ValueError naming the goal field (checked against the
    fields of ``config.loss``, a ``diffgrasp.losses.LossConfig``).
    """
    optim = config.optim
    if max_iterations > 0:
        optim = dataclasses.replace(optim, iterations=int(max_iterations))
    if feedback_every > 0:
        optim = dataclasses.replace(optim, feedback_every=int(feedback_every))
    changes: dict[str, Any] = {"optim": optim}
    if time_budget_s > 0:
        changes["time_budget_s"] = float(time_budget_s)
    if weights:
        known = {fl.name for fl in dataclasses.fields(config.loss)}
        unknown = sorted(set(weights) - known)
        if unknown:
            raise ValueError(f"weight_names: unknown loss weight(s) {', '.join(unknown)}; "
                             f"valid: {', '.join(sorted(known))}")
        changes["loss"] = dataclasses.replace(config.loss, **{k: float(v) for k, v in weights.items()})
    return dataclasses.replace(config, **changes)


__all__ = ["apply_overrides", "load_core_config", "share_file"]
