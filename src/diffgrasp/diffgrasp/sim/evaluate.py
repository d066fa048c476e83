"""Evaluate a grasp set in physics (design notes §7): ``evaluate_grasps`` → ``EvaluationReport``.

The mesh is loaded (times the grasp set's scale), split into convex pieces (cached CoACD), and each grasp runs the §7
test in a worker process (``workers`` > 1: a process pool, each worker compiling the scene once) or in-process.
Results do not depend on the number of workers or the order: every push starts from a full reset.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from diffgrasp.grasps import Grasp, GraspSet
from diffgrasp.sim.evaluate_config import EvaluateConfig


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
        return {
            "format": "diffgrasp.evaluation/1",
            "object": {"name": self.object_name, "mesh": self.mesh, "scale": self.scale},
            "summary": {"submitted": self.num_submitted, "passed": self.num_passed,
                        "invalid": sum(not r.valid for r in self.results),
                        "success_rate": num(self.success_rate), "median_penetration_m": num(self.median_penetration_m),
                        "convex_pieces": self.num_pieces, "decomposition_seconds": self.decomposition_seconds,
                        "seconds": self.seconds},
            "config": to_dict(self.config),
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


def prepare_mesh(mesh, config: EvaluateConfig, name: str = "object", progress: bool = True) -> PreparedObject:
    """Decompose (cached) a trimesh in its own frame, m, and compute its inertial (mass ``config.object_mass``)."""
    from diffgrasp.sim.convex_decomposition import convex_pieces
    from diffgrasp.sim.hand_scene import object_inertia

    t0 = time.perf_counter()
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


def evaluate_grasps(mesh_path: str | os.PathLike, grasp_set: GraspSet | Sequence[Grasp],
                    config: EvaluateConfig = EvaluateConfig(), workers: int = 1, progress: bool = True,
                    invalid: Mapping[int, str] | None = None,
                    on_result: Callable[[GraspEvaluation], None] | None = None,
                    start_method: str | None = None) -> EvaluationReport:
    """Physics-test every grasp of ``grasp_set`` on the mesh at ``mesh_path`` (object frame = the file's frame).

    grasp_set: a GraspSet (its ``scale`` applies to the mesh) or a list of grasps (scale 1).
    invalid: submitted index → reader error, for grasps rejected before evaluation; the valid grasps fill the other
    indices in order, so the report lists every submitted grasp. workers: processes (1 = in this process).
    on_result: called with each finished evaluation (in submission order) for progress reporting.
    start_method: multiprocessing start method of the workers; default "fork" on Linux (workers start in
    milliseconds; they only run MuJoCo/numpy/scipy, never torch ops, so forking a process that imported torch is
    safe), "spawn" elsewhere.
    """
    if workers < 1:
        raise ValueError(f"workers: must be ≥ 1, got {workers}")
    t_start = time.perf_counter()
    if isinstance(grasp_set, GraspSet):
        grasps, scale, name = list(grasp_set.grasps), grasp_set.scale, grasp_set.object_name
    else:
        grasps, scale, name = list(grasp_set), 1.0, Path(mesh_path).stem
    invalid = dict(invalid or {})
    total = len(grasps) + len(invalid)
    slots = [i for i in range(total) if i not in invalid]
    if len(slots) != len(grasps) or any(i >= total or i < 0 for i in invalid):
        raise ValueError(f"invalid: indices {sorted(invalid)} do not fit {len(grasps)} valid grasps")
    obj = prepare_object(mesh_path, scale, config, progress=progress)
    items = list(zip(slots, grasps))
    results: dict[int, GraspEvaluation] = {
        i: GraspEvaluation(index=i, valid=False, passed=False, failed_direction="invalid", error=msg)
        for i, msg in invalid.items()}
    from tqdm import tqdm

    bar = tqdm(total=len(items), desc=f"physics test {name}", unit="grasp", disable=not progress, leave=False)
    try:
        if workers == 1 or len(items) <= 1:
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
            if on_result is not None:
                on_result(res)
        if pool is not None:
            pool.shutdown()
    finally:
        bar.close()
        _WORKER.clear()
    return EvaluationReport(object_name=name, mesh=str(mesh_path), scale=scale, config=config,
                            results=[results[i] for i in range(total)], num_pieces=len(obj.pieces),
                            decomposition_seconds=obj.decomposition_seconds,
                            seconds=time.perf_counter() - t_start)


__all__ = ["EvaluationReport", "GraspEvaluation", "PreparedObject", "evaluate_grasps", "load_object_mesh",
           "prepare_mesh", "prepare_object"]
