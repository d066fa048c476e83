"""Evaluate a grasp set in physics (design notes §7): ``evaluate_grasps`` → ``EvaluationReport``.

The mesh is loaded (times the grasp set's scale), split into convex pieces (cached CoACD), and each grasp runs the §7
test in a worker process (``workers`` > 1: a process pool, each worker compiling the scene once) or in-process.
Results do not depend on the number of workers or the order: every push starts from a full reset.

Long runs keep their work: given a report path, the report is rewritten atomically as results come in (a partial
report: ``"partial": {"done", "total"}``, the finished grasps only), and ``resume`` continues from such a report when
it belongs to the same run (mesh file, grasp set, scale and configuration, recorded under ``"inputs"``), skipping the
grasps it already holds; the final report is the one an uninterrupted run writes (timings aside).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from diffgrasp.errors import DiffgraspError
from diffgrasp.grasps import Grasp, GraspSet
from diffgrasp.loading import check_format, read_json
from diffgrasp.sim.evaluate_config import EvaluateConfig

REPORT_FORMAT = "diffgrasp.evaluation/1"
CHECKPOINT_EVERY = 8          # a partial report is rewritten after this many new results ...
CHECKPOINT_MAX_INTERVAL_S = 10.0  # ... or this long after the last rewrite, whichever comes first, but never more
CHECKPOINT_MAX_SHARE = 0.2    # often than keeps rewriting below this share of the time (a 10,000-grasp report is MBs)
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
        from diffgrasp.config import to_dict

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
            "config": to_dict(self.config),
            **inputs,
            "grasps": [r.to_dict() for r in self.results],
        }


@dataclasses.dataclass(frozen=True)
class PreparedObject:
    """Mesh data for the scene: convex pieces, centre of mass (3,), inertia (6,), vertices/faces of the full mesh."""

    pieces: list[tuple[np.ndarray, np.ndarray]]
    com: np.ndarray
    inertia: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    decomposition_seconds: float


def load_object_mesh(mesh_path: str | os.PathLike, scale: float = 1.0):
    """The object mesh (trimesh) in the file's frame, times ``scale``; clear errors for missing/empty files."""
    import trimesh

    path = Path(mesh_path)
    if not path.is_file():
        raise FileNotFoundError(f"object mesh not found: {path}")
    try:
        mesh = trimesh.load(path, force="mesh", process=True)
    except Exception as err:  # trimesh raises many types for unreadable files
        raise ValueError(f"object mesh {path}: cannot be read ({err})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f"object mesh {path}: no triangles")
    if scale != 1.0:
        mesh.apply_scale(scale)
    return mesh


def prepare_object(mesh_path: str | os.PathLike, scale: float, config: EvaluateConfig,
                   progress: bool = True) -> PreparedObject:
    """Load, decompose (cached) and compute the inertial of the object."""
    return prepare_mesh(load_object_mesh(mesh_path, scale), config, Path(mesh_path).stem, progress)


def prepare_mesh(mesh, config: EvaluateConfig, name: str = "object", progress: bool = True,
                 pieces: list[tuple[np.ndarray, np.ndarray]] | None = None) -> PreparedObject:
    """Decompose (cached) a trimesh in its own frame, m, and compute its inertial (mass ``config.object_mass``).

    ``pieces``: its convex decomposition when the caller already has it (then ``config.coacd`` is not used)."""
    from diffgrasp.geometry.convex_decomposition import convex_pieces
    from diffgrasp.sim.hand_scene import object_inertia

    t0 = time.perf_counter()
    if pieces is None:
        pieces = convex_pieces(mesh, config.coacd, progress=progress, name=name)
    seconds = time.perf_counter() - t0
    com, inertia = object_inertia(mesh.vertices, mesh.faces, config.object_mass)
    return PreparedObject(pieces, com, inertia, np.asarray(mesh.vertices), np.asarray(mesh.faces), seconds)


_WORKER: dict[str, Any] = {}


def _init_worker(obj: PreparedObject, config: EvaluateConfig) -> None:
    from diffgrasp.sim.grasp_test import GraspTester
    from diffgrasp.sim.hand_scene import build_scene

    model, index = build_scene(obj.pieces, obj.com, obj.inertia, config.scene_params())
    radius = float(np.linalg.norm(obj.vertices - obj.com, axis=1).max())
    _WORKER["tester"] = GraspTester(model, index, config, torque_scale=radius)


def _run_one(item: tuple[int, Grasp]) -> GraspEvaluation:
    from diffgrasp.sim.grasp_test import Phases

    index, grasp = item
    t0 = time.perf_counter()
    r = _WORKER["tester"].run(Phases.from_grasp(grasp))
    return GraspEvaluation(
        index=index, valid=True, passed=r.passed, failed_direction=r.failed_direction,
        displacement_m=r.displacement_m, rotation_deg=r.rotation_deg, per_direction=r.per_direction,
        penetration_m=r.penetration_m, self_penetration_m=r.self_penetration_m,
        pregrasp_penetration_m=r.pregrasp_penetration_m, pregrasp_self_penetration_m=r.pregrasp_self_penetration_m,
        contact_count=r.contact_count, contact_bodies=r.contact_bodies, q1_exact=r.q1_exact,
        settle_displacement_m=r.settle_displacement_m, settle_rotation_deg=r.settle_rotation_deg,
        seconds=time.perf_counter() - t0)


def run_inputs(mesh_path: str | os.PathLike, scale: float, grasps: Sequence[Grasp], invalid: Mapping[int, str],
               config: EvaluateConfig) -> dict[str, Any]:
    """What identifies an evaluation run: sha256 of the mesh file's bytes, the scale, sha256 of the grasp set (every
    grasp's file form and the reader's errors) and the configuration."""
    import hashlib

    from diffgrasp.config import to_dict

    grasp_hash = hashlib.sha256(json.dumps([[g.to_dict() for g in grasps], sorted(invalid.items())],
                                           sort_keys=True).encode())
    return {"mesh_sha256": hashlib.sha256(Path(mesh_path).read_bytes()).hexdigest(), "scale": float(scale),
            "grasps_sha256": grasp_hash.hexdigest(), "config": to_dict(config)}


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


class _Checkpoints:
    """Atomic rewrites of a partial report while results come in (see CHECKPOINT_*)."""

    def __init__(self, path: Path, every: int) -> None:
        self.path, self.every = path, every
        self.pending, self.last, self.cost = 0, time.perf_counter(), 0.0

    def added(self, report: Callable[[], EvaluationReport]) -> None:
        self.pending += 1
        now = time.perf_counter()
        due = self.pending >= self.every or now - self.last >= CHECKPOINT_MAX_INTERVAL_S
        if due and now - self.last >= self.cost / CHECKPOINT_MAX_SHARE:
            self.write(report())

    def write(self, report: EvaluationReport) -> None:
        from diffgrasp.io import atomic_write_json

        t0 = time.perf_counter()
        atomic_write_json(self.path, report.to_dict())
        self.last = time.perf_counter()
        self.cost, self.pending = self.last - t0, 0


def evaluate_grasps(mesh_path: str | os.PathLike, grasp_set: GraspSet | Sequence[Grasp],
                    config: EvaluateConfig = EvaluateConfig(), workers: int = 1, progress: bool = True,
                    invalid: Mapping[int, str] | None = None,
                    on_result: Callable[[GraspEvaluation], None] | None = None,
                    start_method: str | None = None, report_path: str | os.PathLike | None = None,
                    resume: bool = False, object_name: str | None = None,
                    checkpoint_every: int = CHECKPOINT_EVERY) -> EvaluationReport:
    """Physics-test every grasp of ``grasp_set`` on the mesh at ``mesh_path`` (object frame = the file's frame).

    grasp_set: a GraspSet (its ``scale`` applies to the mesh) or a list of grasps (scale 1).
    invalid: submitted index → reader error, for grasps rejected before evaluation; the valid grasps fill the other
    indices in order, so the report lists every submitted grasp. workers: processes (1 = in this process).
    on_result: called with each finished evaluation (in submission order) for progress reporting.
    start_method: multiprocessing start method of the workers; default "fork" on Linux (workers start in
    milliseconds; they only run MuJoCo/numpy/scipy, never torch ops, so forking a process that imported torch is
    safe), "spawn" elsewhere. object_name: the report's object name (default: the grasp set's, or the file stem).
    report_path: the report is written there, under an ``output_lock`` held for the whole run (another process
    writing it: OutputLockedError): partial reports every ``checkpoint_every`` results (or CHECKPOINT_MAX_INTERVAL_S)
    and when interrupted, then the final one. resume: continue from the partial report at ``report_path`` (same
    run, else DiffgraspError; none there: start afresh), evaluating only the grasps it lacks.
    """
    if workers < 1:
        raise ValueError(f"workers: must be ≥ 1, got {workers}")
    if resume and report_path is None:
        raise ValueError("resume: needs a report_path")
    t_start = time.perf_counter()
    if isinstance(grasp_set, GraspSet):
        grasps, scale, name = list(grasp_set.grasps), grasp_set.scale, grasp_set.object_name
    else:
        grasps, scale, name = list(grasp_set), 1.0, Path(mesh_path).stem
    name = object_name or name
    invalid = dict(invalid or {})
    total = len(grasps) + len(invalid)
    slots = [i for i in range(total) if i not in invalid]
    if len(slots) != len(grasps) or any(i >= total or i < 0 for i in invalid):
        raise ValueError(f"invalid: indices {sorted(invalid)} do not fit {len(grasps)} valid grasps")
    if report_path is None:
        return _evaluate(mesh_path, grasps, scale, name, slots, invalid, total, config, workers, progress, on_result,
                         start_method, t_start, None, {}, None)
    from diffgrasp.io import output_lock

    with output_lock(report_path):
        inputs = run_inputs(mesh_path, scale, grasps, invalid, config)
        done = load_partial_report(report_path, inputs) if resume and Path(report_path).is_file() else {}
        checkpoints = _Checkpoints(Path(report_path), checkpoint_every)
        report = _evaluate(mesh_path, grasps, scale, name, slots, invalid, total, config, workers, progress,
                           on_result, start_method, t_start, inputs, done, checkpoints)
        checkpoints.write(report)
    return report


def _evaluate(mesh_path, grasps: list[Grasp], scale: float, name: str, slots: list[int], invalid: dict[int, str],
              total: int, config: EvaluateConfig, workers: int, progress: bool, on_result, start_method,
              t_start: float, inputs: dict[str, Any] | None, done: dict[int, GraspEvaluation],
              checkpoints: _Checkpoints | None) -> EvaluationReport:
    """The run behind ``evaluate_grasps``: ``done`` results are kept, the other slots evaluated."""
    results: dict[int, GraspEvaluation] = {
        i: GraspEvaluation(index=i, valid=False, passed=False, failed_direction="invalid", error=msg)
        for i, msg in invalid.items()}
    results.update(done)
    items = [(i, g) for i, g in zip(slots, grasps, strict=True) if i not in done]
    obj = prepare_object(mesh_path, scale, config, progress=progress)

    def report(partial: bool) -> EvaluationReport:
        finished = [results[i] for i in range(total) if i in results] if partial else \
            [results[i] for i in range(total)]
        return EvaluationReport(object_name=name, mesh=str(mesh_path), scale=scale, config=config, results=finished,
                                num_pieces=len(obj.pieces), decomposition_seconds=obj.decomposition_seconds,
                                seconds=time.perf_counter() - t_start, inputs=inputs,
                                total=total if partial else None)

    from tqdm import tqdm

    bar = tqdm(total=len(items), desc=f"physics test {name}", unit="grasp", disable=not progress, leave=False)
    try:
        if not items:
            pool, outputs = None, iter(())
        elif workers == 1 or len(items) <= 1:
            _init_worker(obj, config)
            outputs = map(_run_one, items)
            pool = None
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            method = start_method or ("fork" if sys.platform.startswith("linux") else "spawn")
            pool = ProcessPoolExecutor(max_workers=min(workers, len(items)),
                                       mp_context=multiprocessing.get_context(method),
                                       initializer=_init_worker, initargs=(obj, config))
            outputs = pool.map(_run_one, items)
        for res in outputs:
            results[res.index] = res
            bar.update(1)
            if checkpoints is not None:
                checkpoints.added(lambda: report(partial=True))
            if on_result is not None:
                on_result(res)
        if pool is not None:
            pool.shutdown()
    except BaseException:
        if checkpoints is not None and checkpoints.pending:  # interrupted: keep every finished grasp
            checkpoints.write(report(partial=True))
        raise
    finally:
        bar.close()
        _WORKER.clear()
    return report(partial=False)


__all__ = ["EvaluationReport", "GraspEvaluation", "PreparedObject", "evaluate_grasps", "load_object_mesh",
           "load_partial_report", "prepare_mesh", "prepare_object", "run_inputs"]
