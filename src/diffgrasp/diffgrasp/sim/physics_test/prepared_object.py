"""The object of the physics test's scene (design notes §7): its mesh (file frame, m, times the scale), convex
pieces (cached CoACD) and uniform-density inertial."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import trimesh

from diffgrasp.geometry.convex_decomposition import convex_pieces
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
from diffgrasp.sim.physics_test.hand_scene import object_inertia


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
    t0 = time.perf_counter()
    if pieces is None:
        pieces = convex_pieces(mesh, config.coacd, progress=progress, name=name)
    seconds = time.perf_counter() - t0
    com, inertia = object_inertia(mesh.vertices, mesh.faces, config.object_mass)
    return PreparedObject(pieces, com, inertia, np.asarray(mesh.vertices), np.asarray(mesh.faces), seconds)


__all__ = ["PreparedObject", "load_object_mesh", "prepare_mesh", "prepare_object"]
