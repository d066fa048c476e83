"""Convex decomposition of object meshes for the physics test (CoACD), cached on disk.

A convex mesh is its own decomposition (its hull, no CoACD run). Otherwise CoACD (``coacd`` package) splits it into
convex pieces; the result is cached as ``<cache>/coacd/<sha256>.npz`` where the key hashes the mesh's vertices and faces
(float64/int64 bytes) and the CoACD parameters. Cache folder: ``$DIFFGRASP_CACHE`` or ``~/.cache/diffgrasp``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import coacd
import numpy as np
import trimesh
from tqdm import tqdm

from diffgrasp.io import atomic_write

Piece = tuple[np.ndarray, np.ndarray]  # vertices (V, 3) m, faces (F, 3) int


@dataclasses.dataclass(frozen=True)
class CoacdConfig:
    """CoACD parameters (see coacd.run_coacd). threshold: concavity tolerance (smaller → more pieces, slower)."""

    threshold: float = 0.05
    max_convex_hull: int = -1          # -1: no limit
    preprocess_resolution: int = 50
    resolution: int = 2000
    mcts_iterations: int = 150
    mcts_nodes: int = 20
    seed: int = 0


def cache_dir() -> Path:
    """Folder of the CoACD cache: ``$DIFFGRASP_CACHE/coacd`` or ``~/.cache/diffgrasp/coacd``."""
    root = os.environ.get("DIFFGRASP_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "diffgrasp") / "coacd"


def mesh_key(mesh: trimesh.Trimesh, config: CoacdConfig) -> str:
    """sha256 of the mesh's vertices and faces and the CoACD parameters."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(mesh.vertices, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(mesh.faces, dtype=np.int64).tobytes())
    h.update(json.dumps(dataclasses.asdict(config), sort_keys=True).encode())
    return h.hexdigest()


def _save(path: Path, pieces: list[Piece]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for i, (v, f) in enumerate(pieces):
        arrays[f"v{i}"] = np.asarray(v, dtype=np.float64)
        arrays[f"f{i}"] = np.asarray(f, dtype=np.int64)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, count=np.array(len(pieces)), **arrays)

    atomic_write(path, write)


def _load(path: Path) -> list[Piece]:
    with np.load(path) as data:
        return [(data[f"v{i}"], data[f"f{i}"]) for i in range(int(data["count"]))]


def convex_pieces(mesh: trimesh.Trimesh, config: CoacdConfig = CoacdConfig(), use_cache: bool = True,
                  progress: bool = True, name: str = "") -> list[Piece]:
    """Convex pieces (vertices (V, 3), faces (F, 3)) covering ``mesh``, in the mesh's own frame and units.

    Convex meshes return their hull directly. CoACD results are read from / written to the disk cache.
    """
    if len(mesh.faces) == 0:
        raise ValueError(f"mesh {name or ''}: has no faces".replace("  ", " "))
    if mesh.is_convex:
        hull = mesh.convex_hull
        return [(np.asarray(hull.vertices), np.asarray(hull.faces))]
    path = cache_dir() / f"{mesh_key(mesh, config)}.npz"
    if use_cache and path.is_file():
        try:
            return _load(path)
        except (OSError, KeyError, ValueError):
            pass  # unreadable cache entry: recompute and overwrite
    coacd.set_log_level("error")
    with tqdm(total=1, desc=f"CoACD {name}".strip(), disable=not progress, leave=False) as bar:
        parts = coacd.run_coacd(coacd.Mesh(np.asarray(mesh.vertices, float), np.asarray(mesh.faces, np.int64)),
                                threshold=config.threshold, max_convex_hull=config.max_convex_hull,
                                preprocess_resolution=config.preprocess_resolution, resolution=config.resolution,
                                mcts_iterations=config.mcts_iterations, mcts_nodes=config.mcts_nodes,
                                seed=config.seed)
        bar.update(1)
    pieces = [(np.asarray(v, dtype=np.float64), np.asarray(f, dtype=np.int64)) for v, f in parts if len(f) >= 4]
    if not pieces:
        raise RuntimeError(f"CoACD returned no convex pieces for mesh {name}")
    if use_cache:
        _save(path, pieces)
    return pieces


def is_cached(mesh: trimesh.Trimesh, config: CoacdConfig = CoacdConfig()) -> bool:
    """Whether ``convex_pieces(mesh, config)`` is answered without running CoACD (a cache entry, or a convex mesh)."""
    return (cache_dir() / f"{mesh_key(mesh, config)}.npz").is_file() or bool(mesh.is_convex)


class DecompositionJob:
    """``convex_pieces`` of a copy of ``mesh`` in a background thread (CoACD releases the GIL, so it runs beside
    the caller's work on the second core). ``result(stop)`` waits while polling ``stop``, so that a deadline or a
    cancel request is honoured during a CoACD run of a minute; an abandoned job still finishes and fills the cache
    (the next plan of the same mesh finds it). A daemon thread: it never keeps the process alive."""

    def __init__(self, mesh: trimesh.Trimesh, config: CoacdConfig = CoacdConfig(), name: str = "") -> None:
        self.config = config
        self._pieces: list[Piece] | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(mesh.copy(), config, name), daemon=True,
                                        name=f"convex decomposition {name}".strip())
        self._thread.start()

    def _run(self, mesh: trimesh.Trimesh, config: CoacdConfig, name: str) -> None:
        try:
            self._pieces = convex_pieces(mesh, config, progress=False, name=name)
        except BaseException as err:  # re-raised in the waiting thread
            self._error = err
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def result(self, stop: Callable[[], bool] | None = None, poll_s: float = 0.05) -> list[Piece] | None:
        """The pieces, or None when ``stop()`` turned True first (polled every ``poll_s``); CoACD's error if it
        failed."""
        while not self._done.wait(poll_s):
            if stop is not None and stop():
                return None
        if self._error is not None:
            raise self._error
        return self._pieces


__all__ = ["CoacdConfig", "DecompositionJob", "Piece", "cache_dir", "convex_pieces", "is_cached", "mesh_key"]
