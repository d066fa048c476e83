"""The physics test's report (design notes §7): one ``GraspEvaluation`` per submitted grasp, ``EvaluationReport`` of
an object and its file form (``diffgrasp.evaluation/1``), and what a partial report needs to be resumed
(``run_inputs``, ``load_partial_report``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from diffgrasp.config import to_dict as config_to_dict
from diffgrasp.errors import DiffgraspError
from diffgrasp.grasps import Grasp
from diffgrasp.loading import check_format, read_json
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig

REPORT_FORMAT = "diffgrasp.evaluation/1"
_FLOAT_FIELDS = ("displacement_m", "rotation_deg", "penetration_m", "self_penetration_m", "pregrasp_penetration_m",
                 "pregrasp_self_penetration_m", "settle_displacement_m", "settle_rotation_deg")


@dataclasses.dataclass
class GraspEvaluation:
    """One submitted grasp. valid=False: rejected by the reader (``error`` names grasp and field), counts as failed.

    failed_direction: None (passed), "invalid", "prefilter" or the first failing push ("-x", "+x", ...).
    displacement_m / rotation_deg: largest over the pushes run (NaN when none ran). Penetrations in m (≥ 0).
    settle_displacement_m / settle_rotation_deg: object motion from closing and squeezing alone, before any push.
    """

    index: int
    valid: bool
    passed: bool
    failed_direction: str | None
    error: str | None = None
    displacement_m: float = math.nan
    rotation_deg: float = math.nan
    per_direction: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    penetration_m: float = math.nan
    self_penetration_m: float = math.nan
    pregrasp_penetration_m: float = math.nan
    pregrasp_self_penetration_m: float = math.nan
    contact_count: int = 0
    contact_bodies: list[str] = dataclasses.field(default_factory=list)
    q1_exact: float | None = None
    settle_displacement_m: float = math.nan
    settle_rotation_deg: float = math.nan
    seconds: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraspEvaluation:
        """Inverse of ``to_dict`` (None → NaN for the measured floats), for resuming from a partial report."""
        out = dict(data)
        for key in _FLOAT_FIELDS:
            out[key] = math.nan if out.get(key) is None else float(out[key])
        out["seconds"] = float(out.get("seconds") or 0.0)
        out["per_direction"] = {k: (math.nan if v["displacement_m"] is None else float(v["displacement_m"]),
                                    math.nan if v["rotation_deg"] is None else float(v["rotation_deg"]))
                                for k, v in (out.get("per_direction") or {}).items()}
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in out.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        def num(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)
        out = dataclasses.asdict(self)
        for key in ("displacement_m", "rotation_deg", "penetration_m", "self_penetration_m",
                    "pregrasp_penetration_m", "pregrasp_self_penetration_m", "q1_exact", "settle_displacement_m",
                    "settle_rotation_deg", "seconds"):
            out[key] = num(out[key])
        out["per_direction"] = {k: {"displacement_m": num(v[0]), "rotation_deg": num(v[1])}
                                for k, v in self.per_direction.items()}
        return out


@dataclasses.dataclass
class EvaluationReport:
    """All submitted grasps of one object, in submission order."""

    object_name: str
    mesh: str
    scale: float
    config: EvaluateConfig
    results: list[GraspEvaluation]
    num_pieces: int = 0
    decomposition_seconds: float = 0.0
    seconds: float = 0.0
    inputs: dict[str, Any] | None = None  # what the run evaluated (see ``run_inputs``): resuming checks it
    total: int | None = None              # submitted grasps when ``results`` holds only the finished ones (partial)

    @property
    def num_submitted(self) -> int:
        return len(self.results)

    @property
    def num_passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def success_rate(self) -> float:
        """Passed / submitted (invalid grasps count as failures); NaN for an empty set."""
        return self.num_passed / self.num_submitted if self.results else math.nan

    @property
    def median_penetration_m(self) -> float:
        """Median hand–object penetration at the grasp over the valid grasps (NaN when none)."""
        values = [r.penetration_m for r in self.results if r.valid and math.isfinite(r.penetration_m)]
        return float(np.median(values)) if values else math.nan

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None
        partial = {} if self.total is None else {"partial": {"done": len(self.results), "total": self.total}}
        inputs = {} if self.inputs is None else {"inputs": self.inputs}
        return {
            "format": REPORT_FORMAT,
            **partial,
            "object": {"name": self.object_name, "mesh": self.mesh, "scale": self.scale},
            "summary": {"submitted": self.num_submitted, "passed": self.num_passed,
                        "invalid": sum(not r.valid for r in self.results),
                        "success_rate": num(self.success_rate), "median_penetration_m": num(self.median_penetration_m),
                        "convex_pieces": self.num_pieces, "decomposition_seconds": self.decomposition_seconds,
                        "seconds": self.seconds},
            "config": config_to_dict(self.config),
            **inputs,
            "grasps": [r.to_dict() for r in self.results],
        }


def run_inputs(mesh_path: str | os.PathLike, scale: float, grasps: Sequence[Grasp], invalid: Mapping[int, str],
               config: EvaluateConfig) -> dict[str, Any]:
    """What identifies an evaluation run: sha256 of the mesh file's bytes, the scale, sha256 of the grasp set (every
    grasp's file form and the reader's errors) and the configuration."""
    grasp_hash = hashlib.sha256(json.dumps([[g.to_dict() for g in grasps], sorted(invalid.items())],
                                           sort_keys=True).encode())
    return {"mesh_sha256": hashlib.sha256(Path(mesh_path).read_bytes()).hexdigest(), "scale": float(scale),
            "grasps_sha256": grasp_hash.hexdigest(), "config": config_to_dict(config)}


def load_partial_report(path: str | os.PathLike, inputs: dict[str, Any]) -> dict[int, GraspEvaluation]:
    """The finished evaluations (submitted index → result) of the report at ``path``, which must belong to the run
    ``inputs`` describes (``run_inputs``); otherwise a one-line DiffgraspError saying what differs."""
    path = Path(path)
    try:
        data = read_json(path)
    except (OSError, DiffgraspError) as err:
        reason = type(err).__name__ if isinstance(err, OSError) else str(err).removeprefix(f"{path}: ")
        raise DiffgraspError(f"{path}: cannot resume: not a readable evaluation report ({reason})") from None
    try:
        check_format(data, path, REPORT_FORMAT)
    except DiffgraspError:
        raise DiffgraspError(f"{path}: cannot resume: not a {REPORT_FORMAT} report") from None
    if not isinstance(data.get("grasps"), list):
        raise DiffgraspError(f"{path}: cannot resume: not a {REPORT_FORMAT} report")
    theirs = data.get("inputs") if isinstance(data.get("inputs"), dict) else {}
    for key, what in (("mesh_sha256", "another mesh file"), ("scale", "another scale"),
                      ("grasps_sha256", "another grasp set"), ("config", "another configuration")):
        if theirs.get(key) != inputs[key]:
            raise DiffgraspError(f"{path}: cannot resume: the report is of {what}; remove it or write to another "
                                 "report")
    try:
        done = [GraspEvaluation.from_dict(g) for g in data["grasps"]]
    except (TypeError, KeyError, ValueError, AttributeError) as err:
        raise DiffgraspError(f"{path}: cannot resume: a grasp entry is malformed ({type(err).__name__})") from None
    return {r.index: r for r in done}


__all__ = ["REPORT_FORMAT", "EvaluationReport", "GraspEvaluation", "load_partial_report", "run_inputs"]
