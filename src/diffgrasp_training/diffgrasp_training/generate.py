"""``diffgrasp-train generate``: write a training data folder (layout: ``diffgrasp_training.dataset``).

Per object: the mesh (procedural shapes are built here; objects of a folder are copied), its V object-centred views
and its reference grasps from the planner (``diffgrasp.planning.plan_grasps``).
Resumable: the index is rewritten atomically after every object, and objects whose entry says "done" are skipped
("failed" ones are retried). Planning, the slow part, can run in ``workers`` processes (one torch thread each).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import re
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from diffgrasp.config import to_dict
from diffgrasp.errors import MissingFileError
from diffgrasp.grasps import Grasp, GraspSet, save_grasps
from diffgrasp.io import atomic_write, atomic_write_json
from diffgrasp.loading import brief, confined_path, read_json
from diffgrasp.network.network_config import NetworkConfig
from diffgrasp.network.preprocessing import render_views
from diffgrasp.planning import plan_grasps
from diffgrasp.planning.planner_config import PlannerConfig
from diffgrasp_training.dataset import INDEX_FORMAT, DataIndexError, read_index, view_settings
from diffgrasp_training.shapes import make_shape
from diffgrasp_training.train_config import DatasetConfig, reference_planner

GraspFn = Callable[[Path, int, int], list[Grasp]]  # (mesh path, k, seed) → grasps in the mesh's frame
_OBJECT_NAME = re.compile(r"[^./\\\x00-\x1f][^/\\\x00-\x1f]{0,127}")  # names become folders under objects/


@dataclasses.dataclass(frozen=True)
class PlannerGrasps:
    """Reference grasps from the planner: ``plan_grasps(mesh, k, seed, planner, device)`` → its ranked grasps
    (``planner``: ``DatasetConfig.planner``). A picklable callable, so workers can run it."""

    planner: PlannerConfig = dataclasses.field(default_factory=reference_planner)
    device: str = "cpu"

    def __call__(self, mesh_path: Path, k: int, seed: int) -> list[Grasp]:
        return list(plan_grasps(mesh_path, k=k, seed=seed, config=self.planner, device=self.device).grasps)


def object_sources(config: DatasetConfig, objects_dir: str | os.PathLike | None) -> list[dict[str, Any]]:
    """The objects to generate: the procedural shapes, then the train and val objects of ``objects_dir``
    (a folder with ``splits.json`` {"train": [names], "val": [names]} and ``<name>.obj`` files)."""
    out: list[dict[str, Any]] = []
    n_val = int(round(config.procedural_shapes * config.procedural_val_fraction))
    for i in range(config.procedural_shapes):
        split = "val" if i >= config.procedural_shapes - n_val else "train"
        out.append({"index": i, "split": split, "source": "procedural"})
    if objects_dir is not None:
        folder = Path(objects_dir)
        splits_path = folder / "splits.json"
        if not splits_path.is_file():
            raise FileNotFoundError(f"{folder}: no splits.json (expected {{'train': [...], 'val': [...]}})")
        splits = read_json(splits_path, DataIndexError)
        if not isinstance(splits, dict):
            raise DataIndexError(f"{splits_path}: expected {{'train': [names], 'val': [names]}}, got {brief(splits)}")
        for split in ("train", "val"):
            names = splits.get(split, [])
            if not isinstance(names, list):
                raise DataIndexError(f"{splits_path}: {split}: expected a list of object names, got {brief(names)}")
            for i, name in enumerate(names):
                if not isinstance(name, str) or not _OBJECT_NAME.fullmatch(name):
                    raise DataIndexError(f"{splits_path}: {split}[{i}]: expected an object name (a file stem without "
                                         f"'/' or a leading '.'), got {brief(name)}")
                path = confined_path(folder, f"{name}.obj", splits_path, f"{split}[{i}]")
                if not path.is_file():
                    raise MissingFileError(f"{folder / (name + '.obj')}: listed in {splits_path} but missing")
                out.append({"name": name, "split": split, "source": str(path)})
    return out


def _plan(grasp_fn: GraspFn, mesh_path: Path, k: int, seed: int, threads: int) -> tuple[list[Grasp], str | None]:
    """Run ``grasp_fn``; planner failures on one object (RuntimeError/ValueError) become an error string."""
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        return list(grasp_fn(mesh_path, k, seed)), None
    except (RuntimeError, ValueError) as err:
        return [], f"{type(err).__name__}: {err}"


def generate_dataset(out_dir: str | os.PathLike, config: DatasetConfig = DatasetConfig(),
                     network_config: NetworkConfig = NetworkConfig(), objects_dir: str | os.PathLike | None = None,
                     grasp_fn: GraspFn | None = None, workers: int = 1, device: str = "cpu",
                     progress: bool = True) -> Path:
    """Build (or finish) a data folder; returns the index path. Objects already "done" are skipped.

    grasp_fn: reference grasps (default: the planner with ``config.planner`` on ``device``); with
    ``workers`` > 1 it must be picklable (a module-level function or :class:`PlannerGrasps`).
    """
    out = Path(out_dir)
    index_path = out / "index.json"
    views_cfg = view_settings(network_config)
    index = read_index(index_path) or {"format": INDEX_FORMAT, "network_views": views_cfg,
                                       "dataset": to_dict(config), "objects": []}
    if index["network_views"] != views_cfg:
        raise DataIndexError(f"{index_path}: generated with view settings {index['network_views']}, "
                         f"not the requested {views_cfg}; use another folder")
    if grasp_fn is None and config.grasps_per_object > 0:
        grasp_fn = PlannerGrasps(config.planner, device)
    entries: dict[str, dict[str, Any]] = {e["name"]: e for e in index["objects"]}

    def commit(entry: dict[str, Any]) -> None:
        entries[entry["name"]] = entry
        index["objects"] = list(entries.values())
        atomic_write_json(index_path, index)

    to_plan: list[tuple[dict[str, Any], Path, int]] = []
    for i, src in enumerate(tqdm(object_sources(config, objects_dir), desc="views", unit="obj",
                                 disable=not progress)):
        if src["source"] == "procedural":
            name, mesh = make_shape(src["index"], config.shape_kinds, config.size_range_m, config.max_offset_m,
                                    config.seed)
        else:
            name, mesh = src["name"], None
        if entries.get(name, {}).get("status") == "done":
            continue
        folder = out / "objects" / name
        folder.mkdir(parents=True, exist_ok=True)
        mesh_path = folder / "mesh.obj"
        if mesh is not None:
            atomic_write(mesh_path, lambda p, m=mesh: m.export(p, file_type="obj"))
        else:
            atomic_write(mesh_path, lambda p, s=src["source"]: shutil.copyfile(s, p))
        views, centre = render_views(mesh_path, network_config)
        atomic_write(folder / "views.npy", lambda p, v=views: np.save(p, v, allow_pickle=False))  # tmp ends .npy
        entry = {"name": name, "split": src["split"], "source": src["source"],
                 "mesh": f"objects/{name}/mesh.obj", "views": f"objects/{name}/views.npy", "grasps": None,
                 "centre": [float(c) for c in centre], "num_grasps": 0, "status": "done", "error": None}
        if config.grasps_per_object > 0:
            entry["status"] = "pending"
            to_plan.append((entry, mesh_path, config.seed + i))
        commit(entry)

    def finish(entry: dict[str, Any], mesh_path: Path, grasps: list[Grasp], error: str | None) -> None:
        if grasps:
            save_grasps(mesh_path.parent / "grasps.json",
                        GraspSet(object_name=entry["name"], mesh=str(mesh_path), grasps=grasps))
            entry.update(grasps=f"objects/{entry['name']}/grasps.json", num_grasps=len(grasps), status="done")
        else:
            entry.update(status="failed", error=error or "no grasps returned")
        commit(entry)

    bar = tqdm(total=len(to_plan), desc="reference grasps", unit="obj", disable=not (progress and to_plan))
    k = config.grasps_per_object
    if workers <= 1:
        for entry, mesh_path, seed in to_plan:
            finish(entry, mesh_path, *_plan(grasp_fn, mesh_path, k, seed, 0))
            bar.update(1)
    elif to_plan:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            jobs = {pool.submit(_plan, grasp_fn, mesh_path, k, seed, 1): (entry, mesh_path)
                    for entry, mesh_path, seed in to_plan}
            for job in as_completed(jobs):
                finish(*jobs[job], *job.result())
                bar.update(1)
    bar.close()
    atomic_write_json(index_path, index)
    return index_path


__all__ = ["GraspFn", "PlannerGrasps", "generate_dataset", "object_sources"]
