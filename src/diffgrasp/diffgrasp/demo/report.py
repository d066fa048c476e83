"""What one run of the embedded pipeline reports: per-stage timings and notes, the outcome, and ``report.json``.

:class:`StageLog` times the stages as they run and logs one line per stage (``[name] status in 1.2 s  note``);
:class:`PipelineReport` is the result of ``run_pipeline`` and the content of ``report.json`` (format
``diffgrasp.demo_report/1``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

REPORT_FORMAT = "diffgrasp.demo_report/1"
NO_LIFTABLE_GRASP = "no_liftable_grasp"
"""Report reason when verification is on and no rehearsed grasp lifted: nothing was executed."""

__all__ = ["NO_LIFTABLE_GRASP", "REPORT_FORMAT", "PipelineReport", "StageLog", "StageReport"]


@dataclasses.dataclass
class StageReport:
    """One stage: ``status`` in {"ok", "skipped", "failed"}, wall ``seconds``, a one-line ``note``."""

    name: str
    status: str
    seconds: float
    note: str = ""


@dataclasses.dataclass
class PipelineReport:
    """Outcome of one pipeline run. success: the object was lifted and held. reason: the execution's reason
    (``ok``, ``unreachable``, ``collision``, ``slip``, ``no_grasps``), ``no_liftable_grasp`` (nothing lifted in the
    rehearsal: the arm was not moved) or the failed stage (``fusion_failed``,
    ``planning_failed``). details: per-stage numbers (JSON-ready). files: written paths relative to ``output_dir``."""

    object_path: str
    output_dir: str
    seed: int
    success: bool
    reason: str
    message: str
    stages: list[StageReport]
    details: dict[str, Any]
    files: list[str]
    config: dict[str, Any]

    @property
    def total_seconds(self) -> float:
        return float(sum(s.seconds for s in self.stages))

    def to_dict(self) -> dict[str, Any]:
        return {"format": REPORT_FORMAT, "object": self.object_path, "seed": self.seed, "success": self.success,
                "reason": self.reason, "message": self.message, "total_seconds": self.total_seconds,
                "stages": [dataclasses.asdict(s) for s in self.stages], **self.details, "files": self.files,
                "config": self.config}

    def table(self) -> str:
        """The stage table printed by ``diffgrasp demo``."""
        rows = [f"{'stage':<10} {'status':<8} {'time s':>7}  note"]
        rows += [f"{s.name:<10} {s.status:<8} {s.seconds:>7.2f}  {s.note}" for s in self.stages]
        rows.append(f"{'total':<10} {'':<8} {self.total_seconds:>7.2f}  "
                    f"{'LIFTED' if self.success else 'FAILED'} ({self.reason}): {self.message}")
        return "\n".join(rows)


class StageLog:
    """Times stages and collects their reports; ``log`` receives one line per finished stage."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.reports: list[StageReport] = []
        self.log = log

    def add(self, name: str, start: float, note: str = "", status: str = "ok") -> None:
        """Record stage ``name`` begun at ``start`` (``time.perf_counter()`` s) as finished now."""
        self.reports.append(StageReport(name, status, time.perf_counter() - start, note))
        self.log(f"[{name}] {status} in {self.reports[-1].seconds:.1f} s  {note}")
