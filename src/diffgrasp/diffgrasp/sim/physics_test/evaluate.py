"""Evaluate a grasp set in physics (design notes §7): ``evaluate_grasps`` → ``EvaluationReport`` (evaluation_report.py).

The mesh is loaded (times the grasp set's scale), split into convex pieces (cached CoACD), and each grasp runs the §7
test in a worker process (``workers`` > 1: a process pool, each worker compiling the scene once) or in-process.
Results do not depend on the number of workers or the order: every push starts from a full reset.

Long runs keep their work: given a report path, the report is rewritten atomically as results come in (a partial
report: ``"partial": {"done", "total"}``, the finished grasps only), and ``resume`` continues from such a report when
it belongs to the same run (mesh file, grasp set, scale and configuration, recorded under ``"inputs"``), skipping the
grasps it already holds; the final report is the one an uninterrupted run writes (timings aside).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from diffgrasp.grasps import Grasp, GraspSet
from diffgrasp.io import atomic_write_json, output_lock
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
from diffgrasp.sim.physics_test.evaluation_report import (
    EvaluationReport,
    GraspEvaluation,
    load_partial_report,
    run_inputs,
)
from diffgrasp.sim.physics_test.hand_scene import build_scene
from diffgrasp.sim.physics_test.prepared_object import PreparedObject, prepare_object
from diffgrasp.sim.physics_test.trial import GraspTester, Phases

CHECKPOINT_EVERY = 8          # a partial report is rewritten after this many new results ...
CHECKPOINT_MAX_INTERVAL_S = 10.0  # ... or this long after the last rewrite, whichever comes first, but never more
CHECKPOINT_MAX_SHARE = 0.2    # often than keeps rewriting below this share of the time (a 10,000-grasp report is MBs)


_WORKER: dict[str, Any] = {}


def _init_worker(obj: PreparedObject, config: EvaluateConfig) -> None:
    model, index = build_scene(obj.pieces, obj.com, obj.inertia, config.scene_params())
    radius = float(np.linalg.norm(obj.vertices - obj.com, axis=1).max())
    _WORKER["tester"] = GraspTester(model, index, config, torque_scale=radius)


def _run_one(item: tuple[int, Grasp]) -> GraspEvaluation:
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

    bar = tqdm(total=len(items), desc=f"physics test {name}", unit="grasp", disable=not progress, leave=False)
    try:
        if not items:
            pool, outputs = None, iter(())
        elif workers == 1 or len(items) <= 1:
            _init_worker(obj, config)
            outputs = map(_run_one, items)
            pool = None
        else:
            import multiprocessing  # the pool's modules: only with workers > 1
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


__all__ = ["CHECKPOINT_EVERY", "evaluate_grasps"]
