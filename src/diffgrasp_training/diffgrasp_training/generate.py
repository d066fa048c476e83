"""``diffgrasp-train generate``: write a training data folder (layout: ``diffgrasp_training.dataset``).

Per object, one task (:mod:`diffgrasp_training.shards`): the mesh (a procedural shape, or a file of an objects
folder), its V object-centred views and its reference grasps from the planner (``diffgrasp.planning.plan_grasps``).
Tasks run in this process or as Ray tasks (:mod:`diffgrasp_training.runners`: a local Ray, or a cluster); the driver
stores each result as a content-addressed shard and rewrites the index atomically after each. Resumable and
idempotent: objects whose entry says "done" (and whose shard is there) are skipped, "failed" ones are retried, and
the same seeds give the same shards.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from diffgrasp.config import from_dict, to_dict
from diffgrasp.errors import MissingFileError
from diffgrasp.grasps import Grasp
from diffgrasp.io import atomic_write_json
from diffgrasp.loading import brief, confined_path, one_line, read_json
from diffgrasp.network.network_config import NetworkConfig
from diffgrasp.planning import plan_grasps
from diffgrasp.planning.planner_config import PlannerConfig
from diffgrasp_training.dataset import INDEX_FORMAT, DataIndexError, read_index, view_settings
from diffgrasp_training.runners import RaySettings, run_in_process, run_on_ray
from diffgrasp_training.shapes import make_shape
from diffgrasp_training.shards import (
    GraspFn,
    ObjectJob,
    build_object,
    remove_unfinished,
    remove_unreferenced,
    shard_entry,
    write_shard,
)
from diffgrasp_training.train_config import DatasetConfig, reference_planner

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours its task errors
_OBJECT_NAME = re.compile(r"[^./\\\x00-\x1f][^/\\\x00-\x1f]{0,127}")  # names key the index entries


@dataclasses.dataclass(frozen=True)
class PlannerGrasps:
    """Reference grasps from the planner: ``plan_grasps(mesh, k, seed, planner, device)`` → its ranked grasps
    (``planner``: ``DatasetConfig.planner``). A picklable callable, so workers can run it."""

    planner: PlannerConfig = dataclasses.field(default_factory=reference_planner)
    device: str = "cpu"

    def capped(self, threads: int) -> PlannerGrasps:
        """The same planner using at most ``threads`` torch and MuJoCo threads (0 in the config: all of them)."""
        p = self.planner
        cap = dataclasses.replace(p, torch_threads=min(p.torch_threads or threads, threads),
                                  physics_rank=dataclasses.replace(
                                      p.physics_rank, threads=min(p.physics_rank.threads or threads, threads)))
        return dataclasses.replace(self, planner=cap)

    def __call__(self, mesh_path: Path, k: int, seed: int,
                 support_plane: tuple[float, float, float, float] | None = None) -> list[Grasp]:
        planner = self.planner if support_plane is None else dataclasses.replace(self.planner,
                                                                                 support_plane=support_plane)
        return list(plan_grasps(mesh_path, k=k, seed=seed, config=planner, device=self.device).grasps)


def object_sources(config: DatasetConfig, objects_dir: str | os.PathLike | None) -> list[dict[str, Any]]:
    """The objects to generate: the procedural shapes, the train and val objects of ``objects_dir`` (a folder with
    ``splits.json`` {"train": [names], "val": [names]} and ``<name>.obj`` files), then ``scaled_copies`` scaled
    copies of each of its train objects (``scale``: the factor)."""
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
        train = [e for e in out if e["split"] == "train" and e["source"] != "procedural"]
        for i, e in enumerate(train):
            rng = np.random.default_rng([config.seed, 1, i])
            for j, scale in enumerate(rng.uniform(*config.scale_range, size=config.scaled_copies)):
                out.append({"name": f"{e['name']}_scaled{j}", "split": "train", "source": e["source"],
                            "scale": round(float(scale), 4)})
    return out


def _jobs(config: DatasetConfig, objects_dir: str | os.PathLike | None) -> list[ObjectJob]:
    """Every object of the data folder, in index order; object i plans with seed ``config.seed + i``."""
    jobs = []
    for i, src in enumerate(object_sources(config, objects_dir)):
        if src["source"] == "procedural":
            name, _ = make_shape(src["index"], config.shape_kinds, config.size_range_m, config.max_offset_m,
                                 config.seed)
            jobs.append(ObjectJob(name, src["split"], "procedural", config.seed + i, src["index"]))
        else:
            jobs.append(ObjectJob(src["name"], src["split"], src["source"], config.seed + i,
                                  scale=src.get("scale", 1.0)))
    if config.table_samples:  # after every free object, so indices and seeds of the free ones do not move
        jobs += [dataclasses.replace(job, name=f"{job.name}_table", seed=job.seed + len(jobs), table=True)
                 for job in list(jobs)]
    return jobs


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (to name the settings that differ)."""
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _stored(data_dir: Path, entry: dict[str, Any] | None) -> bool:
    """A "done" entry whose files are all there (a deleted shard is regenerated)."""
    return bool(entry and entry.get("status") == "done" and all(
        (data_dir / entry[k]).is_file() for k in ("mesh", "views", "grasps") if entry.get(k)))


def generate_dataset(out_dir: str | os.PathLike, config: DatasetConfig = DatasetConfig(),
                     network_config: NetworkConfig = NetworkConfig(), objects_dir: str | os.PathLike | None = None,
                     grasp_fn: GraspFn | None = None, workers: int = 1, device: str = "cpu",
                     progress: bool = True, ray: RaySettings | None = None, resume: bool = False) -> Path:
    """Build (or finish) a data folder; returns the index path. Objects already "done" are skipped.

    Each object is one task (:func:`diffgrasp_training.shards.build_object`); the driver stores its result as a
    content-addressed shard and rewrites the index atomically after each. Tasks run in this process, or on Ray when
    ``ray`` is given or ``workers`` > 1 (a local Ray with ``workers`` tasks at once, one CPU each).
    grasp_fn: reference grasps (default: the planner with ``config.planner`` on ``device``); on Ray it must be
    picklable (a module-level function or :class:`PlannerGrasps`).
    resume: continue the folder with the dataset settings and objects folder stored in its index (``config`` and
    ``objects_dir`` are not used); without it, a folder made with other settings is an error.
    """
    out = Path(out_dir)
    index_path = out / "index.json"
    views_cfg = view_settings(network_config)
    index = read_index(index_path)
    objects_dir = None if objects_dir is None else str(Path(objects_dir).resolve())
    if resume:
        if index is None:
            raise DataIndexError(f"{index_path}: no index to resume; start the folder without --resume")
        config = from_dict(DatasetConfig, index["dataset"], source=index_path)
        objects_dir = index.get("objects_dir")
    elif index is not None:
        stored = {"dataset": index["dataset"], "objects_dir": index.get("objects_dir")}
        asked = json.loads(json.dumps({"dataset": to_dict(config), "objects_dir": objects_dir}))
        old, new = _flat(stored), _flat(asked)
        differ = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        if differ:
            raise DataIndexError(f"{index_path}: generated with other settings ({', '.join(differ[:4])}); "
                                 "continue it with --resume, or use another folder")
    index = index or {"format": INDEX_FORMAT, "network_views": views_cfg, "dataset": to_dict(config),
                      "objects_dir": objects_dir, "objects": []}
    if index["network_views"] != views_cfg:
        raise DataIndexError(f"{index_path}: generated with view settings {index['network_views']}, "
                             f"not the requested {views_cfg}; use another folder")
    if ray is None and workers > 1:
        ray = RaySettings(workers=workers)
    threads = ray.cpus_per_task if ray else max(1, os.cpu_count() or 1)
    if grasp_fn is None and config.grasps_per_object > 0:
        grasp_fn = PlannerGrasps(config.planner, device).capped(threads)
    out.mkdir(parents=True, exist_ok=True)
    remove_unfinished(out)
    entries: dict[str, dict[str, Any]] = {e["name"]: e for e in index["objects"]}
    jobs = _jobs(config, objects_dir)
    order = {job.name: i for i, job in enumerate(jobs)}
    todo = [job for job in jobs if not _stored(out, entries.get(job.name))]

    def commit(entry: dict[str, Any]) -> None:
        entries[entry["name"]] = entry
        index["objects"] = sorted(entries.values(), key=lambda e: order.get(e["name"], len(order)))
        atomic_write_json(index_path, index)

    if ray is None or not todo:
        outcomes = run_in_process(todo, lambda job: build_object(job, config, network_config, grasp_fn, threads))
    else:
        outcomes = run_on_ray(todo, ray, config, network_config, grasp_fn)
    with tqdm(total=len(todo), desc="objects", unit="obj", disable=not (progress and todo)) as bar:
        for job, outcome in outcomes:
            if isinstance(outcome, BaseException):
                commit({"name": job.name, "split": job.split, "source": job.source, "status": "failed",
                        "error": one_line(_ANSI.sub("", f"{type(outcome).__name__}: {outcome}"))})
            else:
                commit(shard_entry(outcome, write_shard(out, outcome)))
            bar.update(1)
    atomic_write_json(index_path, index)
    remove_unreferenced(out, index["objects"])  # e.g. a failed object's shard, now redone
    return index_path


__all__ = ["GraspFn", "PlannerGrasps", "RaySettings", "generate_dataset", "object_sources"]
