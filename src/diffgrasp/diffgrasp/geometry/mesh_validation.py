"""Loading and validating object meshes: clear one-line errors naming the file and the problem, optional repair.

A valid object mesh is a non-empty, finite, watertight, consistently wound triangle mesh with positive volume whose
largest extent lies between 5 mm and 2 m (metres are assumed; larger usually means millimetres, smaller a wrong unit).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import trimesh

from diffgrasp.errors import DiffgraspError

MIN_EXTENT_M = 0.005   # largest bounding-box extent below this: probably wrong units
MAX_EXTENT_M = 2.0     # largest bounding-box extent above this: probably millimetres


class MeshValidationError(DiffgraspError):
    """The mesh file cannot be used as a grasping object; the message names the file and the problem."""


def load_mesh_file(path: str | os.PathLike, scale: float = 1.0) -> trimesh.Trimesh:
    """Read a triangle mesh (OBJ/STL/PLY/...) with trimesh, check finiteness, merge coincident vertices, scale it.

    The file's frame is kept (no recentring). Raises FileNotFoundError or MeshValidationError.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    if not np.isfinite(scale) or scale <= 0:
        raise MeshValidationError(f"{path}: scale must be a positive finite number, got {scale}")
    try:
        loaded = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for unreadable files
        raise MeshValidationError(f"{path}: cannot read mesh ({type(exc).__name__}: {exc})") from exc
    if isinstance(loaded, trimesh.Scene):  # an empty scene: no geometry in the file
        raise MeshValidationError(f"{path}: mesh is empty (no triangles)")
    vertices = np.asarray(loaded.vertices, dtype=float)
    faces = np.asarray(loaded.faces, dtype=np.int64)
    if len(faces) == 0 or len(vertices) == 0:
        raise MeshValidationError(f"{path}: mesh is empty (no triangles)")
    if not np.isfinite(vertices).all():
        bad = int((~np.isfinite(vertices)).any(axis=1).sum())
        raise MeshValidationError(f"{path}: {bad} vertex coordinate(s) are NaN or inf")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise MeshValidationError(f"{path}: face indices out of range for {len(vertices)} vertices")
    mesh = trimesh.Trimesh(vertices=vertices * float(scale), faces=faces, process=True)
    if len(mesh.faces) == 0:
        raise MeshValidationError(f"{path}: mesh is empty (all triangles degenerate)")
    return mesh


def validate_mesh(mesh: trimesh.Trimesh, source: str) -> None:
    """Raise MeshValidationError (naming ``source``) unless ``mesh`` is a usable object mesh (see module docstring)."""
    if len(mesh.faces) == 0:
        raise MeshValidationError(f"{source}: mesh is empty (no triangles)")
    if not np.isfinite(mesh.vertices).all():
        raise MeshValidationError(f"{source}: vertex coordinates contain NaN or inf")
    largest = float(np.max(mesh.extents))
    if largest > MAX_EXTENT_M:
        raise MeshValidationError(
            f"{source}: implausible scale, largest extent {largest:.4g} m > {MAX_EXTENT_M} m "
            f"(probably millimetres or wrong units; pass scale=0.001 for millimetres)")
    if largest < MIN_EXTENT_M:
        raise MeshValidationError(
            f"{source}: implausible scale, largest extent {largest:.4g} m < {MIN_EXTENT_M * 1000:.0f} mm "
            "(wrong units? meshes must be in metres)")
    if not mesh.is_watertight:
        raise MeshValidationError(
            f"{source}: mesh is not watertight (open boundary edges or non-manifold edges); "
            "try repair=True for scans")
    if not mesh.is_winding_consistent:
        raise MeshValidationError(f"{source}: inconsistent face winding; try repair=True")
    volume = float(mesh.volume)
    if not volume > 0:
        raise MeshValidationError(
            f"{source}: non-positive volume {volume:.4g} m^3 (faces wound inward?); try repair=True")


def repair_mesh(mesh: trimesh.Trimesh, source: str) -> trimesh.Trimesh:
    """Best-effort repair for scans: drop degenerate/duplicate faces, fill holes, make winding consistent and outward.

    Uses trimesh; if the result is still open and pymeshfix is installed, MeshFix is tried. Returns a new mesh; raises
    MeshValidationError when the mesh cannot be closed. Vertex coordinates are never moved (frame kept).
    """
    mesh = mesh.copy()
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.update_faces(mesh.unique_faces())
    mesh.remove_unreferenced_vertices()
    mesh.merge_vertices()
    if not mesh.is_watertight:
        trimesh.repair.fill_holes(mesh)
    if not mesh.is_watertight:
        try:
            import pymeshfix  # optional
        except ImportError:
            pymeshfix = None
        if pymeshfix is not None:
            vclean, fclean = pymeshfix.clean_from_arrays(np.asarray(mesh.vertices), np.asarray(mesh.faces))
            mesh = trimesh.Trimesh(vclean, fclean, process=True)
    if not mesh.is_watertight:
        raise MeshValidationError(
            f"{source}: repair failed, mesh is still not watertight "
            "(holes too large for trimesh.fill_holes; install pymeshfix or re-fuse the scan)")
    trimesh.repair.fix_winding(mesh)
    trimesh.repair.fix_inversion(mesh, multibody=True)
    return mesh
