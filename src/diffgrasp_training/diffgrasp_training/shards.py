"""One object of a training data folder, built anywhere and stored as a content-addressed shard.

``build_object`` is the work of one generation task: the mesh (a procedural shape or a file), its object-centred
views and its reference grasps. It writes nothing, so a task killed half-way leaves nothing behind, and its result
travels back to the driver (through Ray's object store on a cluster: no shared storage needed).

``write_shard`` stores a result as ``shards/<digest>/`` (``mesh.obj``, ``views.npy``, ``grasps.json`` when there are
grasps), where the digest is the SHA-256 of those files (first 16 hex digits). The files are written into a hidden
temporary folder that is renamed into place: a shard is whole or absent, and writing the same result twice (a retried
task, a re-run) lands on the same folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import trimesh

from diffgrasp.grasps import Grasp, GraspSet, save_grasps
from diffgrasp.network.network_config import NetworkConfig
from diffgrasp.network.preprocessing import render_views
from diffgrasp_training.shapes import make_shape
from diffgrasp_training.train_config import DatasetConfig

# (mesh path, k, seed) → grasps in the mesh's frame; table samples also pass support_plane=(a, b, c, d)
GraspFn = Callable[..., list[Grasp]]
TABLE_PLANE = (0.0, 0.0, 1.0, 0.0)  # a table sample's support plane in its mesh frame: z = 0, normal +z
SHARDS = "shards"
_TMP_PREFIX = ".tmp-shard-"


@dataclasses.dataclass(frozen=True)
class ObjectJob:
    """One object to generate. source: "procedural" (shape number ``index``) or a mesh file path, scaled by
    ``scale`` about its origin; seed: the planner's seed for this object. table: a table sample (see
    :func:`rest_on_table`)."""

    name: str
    split: str
    source: str
    seed: int
    index: int = -1
    scale: float = 1.0
    table: bool = False


@dataclasses.dataclass
class ObjectResult:
    """What a task returns. mesh_obj: the mesh as OBJ text (object frame, m); views: (V, H, W) float32 m;
    centre: (3,) m; grasps: the reference grasps (empty on failure or with 0 grasps per object); error: why
    planning failed, or None."""

    job: ObjectJob
    mesh_obj: bytes
    views: np.ndarray
    centre: np.ndarray
    grasps: list[Grasp]
    error: str | None


def rest_on_table(mesh: trimesh.Trimesh, seed: int) -> trimesh.Trimesh:
    """The object resting on a table, as the demo's fused frame has it: a stable pose (trimesh's quasi-static
    estimate, drawn by its probability) with the table at z = 0 and +z up, a random yaw, centred over the origin."""
    rng = np.random.default_rng([seed, 2])
    poses, probs = trimesh.poses.compute_stable_poses(mesh, seed=seed)
    pose = poses[int(rng.choice(len(poses), p=np.asarray(probs) / np.sum(probs)))] if len(poses) else np.eye(4)
    placed = mesh.copy()
    placed.apply_transform(pose)
    yaw = trimesh.transformations.rotation_matrix(rng.uniform(0, 2 * np.pi), [0, 0, 1])
    placed.apply_transform(yaw)
    lo, hi = placed.bounds
    placed.apply_translation([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]])
    return placed


def _mesh(job: ObjectJob, config: DatasetConfig) -> trimesh.Trimesh | None:
    """The job's mesh when it must be built (procedural, scaled, on a table); None: the file as it is."""
    if job.source == "procedural":
        mesh = make_shape(job.index, config.shape_kinds, config.size_range_m, config.max_offset_m, config.seed)[1]
    elif job.scale != 1.0 or job.table:
        mesh = trimesh.load(job.source, force="mesh")
        mesh.apply_scale(job.scale)
    else:
        return None
    return rest_on_table(mesh, job.seed) if job.table else mesh


def build_object(job: ObjectJob, config: DatasetConfig, network_config: NetworkConfig, grasp_fn: GraspFn | None,
                 threads: int) -> ObjectResult:
    """Mesh, views and ``config.grasps_per_object`` reference grasps of ``job``, with torch capped at ``threads``.

    Planner failures on this object (RuntimeError/ValueError) become ``error``; anything else propagates.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with tempfile.TemporaryDirectory(prefix="diffgrasp-object-") as tmp:
            mesh_path = Path(tmp) / "mesh.obj"
            mesh = _mesh(job, config)
            if mesh is None:
                shutil.copyfile(job.source, mesh_path)
            else:
                mesh.export(mesh_path, file_type="obj")
            views, centre = render_views(mesh_path, network_config)
            grasps, error = [], None
            if config.grasps_per_object > 0:
                table = {"support_plane": TABLE_PLANE} if job.table else {}
                try:
                    grasps = list(grasp_fn(mesh_path, config.grasps_per_object, job.seed, **table))
                except (RuntimeError, ValueError) as err:
                    error = f"{type(err).__name__}: {err}"
                if not grasps and error is None:
                    error = "no grasps returned"
            return ObjectResult(job, mesh_path.read_bytes(), views, np.asarray(centre, float), grasps, error)
    finally:
        torch.set_num_threads(before)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def write_shard(data_dir: Path, result: ObjectResult) -> str:
    """Store ``result`` under ``data_dir/shards/`` (see the module doc) → its digest."""
    root = Path(data_dir) / SHARDS
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=root))
    try:
        (tmp / "mesh.obj").write_bytes(result.mesh_obj)
        np.save(tmp / "views.npy", np.asarray(result.views, np.float32), allow_pickle=False)
        if result.grasps:
            save_grasps(tmp / "grasps.json", GraspSet(object_name=result.job.name, mesh="mesh.obj",
                                                      grasps=result.grasps))
        digest = _digest(tmp)
        final = root / digest
        if final.is_dir():  # the same content, already stored
            shutil.rmtree(tmp)
        else:
            os.chmod(tmp, 0o755)  # mkdtemp creates 0700
            os.replace(tmp, final)
        return digest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_unfinished(data_dir: Path) -> int:
    """Delete temporary shard folders a killed driver left behind → how many."""
    root = Path(data_dir) / SHARDS
    stale = list(root.glob(_TMP_PREFIX + "*")) if root.is_dir() else []
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return len(stale)


def remove_unreferenced(data_dir: Path, entries: list[dict]) -> int:
    """Delete shards no index entry names (a failed object's shard once it is redone) → how many. Only the one
    writer of the folder (its output lock) may call this."""
    root = Path(data_dir) / SHARDS
    keep = {e.get("shard") for e in entries}
    stale = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in keep] \
        if root.is_dir() else []
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return len(stale)


def shard_entry(result: ObjectResult, digest: str) -> dict:
    """The index entry of a stored result (paths relative to the data folder)."""
    job, folder = result.job, f"{SHARDS}/{digest}"
    return {"name": job.name, "split": job.split, "source": job.source, "scale": job.scale,
            "support_plane": list(TABLE_PLANE) if job.table else None, "shard": digest,
            "mesh": f"{folder}/mesh.obj", "views": f"{folder}/views.npy",
            "grasps": f"{folder}/grasps.json" if result.grasps else None,
            "centre": [float(c) for c in result.centre], "num_grasps": len(result.grasps),
            "status": "failed" if result.error else "done", "error": result.error}


__all__ = ["GraspFn", "ObjectJob", "ObjectResult", "TABLE_PLANE", "build_object", "remove_unfinished",
           "remove_unreferenced", "rest_on_table", "shard_entry", "write_shard"]
