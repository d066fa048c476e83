"""Loading and validating object meshes: clear one-line errors naming the file and the problem, optional repair.

A valid object mesh is a non-empty, finite, watertight, consistently wound triangle mesh with positive volume whose
largest extent lies between 5 mm and 2 m (metres are assumed; larger usually means millimetres, smaller a wrong unit).
"""

from __future__ import annotations

import numbers
import os
import warnings
from pathlib import Path

import numpy as np
import trimesh

from diffgrasp.errors import DiffgraspError, DiffgraspWarning
from diffgrasp.loading import one_line

MIN_EXTENT_M = 0.005   # largest bounding-box extent below this: probably wrong units
MAX_EXTENT_M = 2.0     # largest bounding-box extent above this: probably millimetres
REPAIR_HINT = "repair it with --repair (repair=True in Python)"  # worded for CLI and Python users alike


class MeshValidationError(DiffgraspError):
    """The mesh file cannot be used as a grasping object; the message names the file and the problem."""


def load_mesh_file(path: str | os.PathLike, scale: float = 1.0) -> trimesh.Trimesh:
    """Read a triangle mesh (OBJ/STL/PLY/...) with trimesh, check finiteness, merge coincident vertices, scale it.

    The file's frame is kept (no recentring). Raises FileNotFoundError (no such file) or MeshValidationError (one
    line naming the file: unreadable, not a triangle mesh, empty, NaN/inf, bad indices), never a trimesh exception.
    """
    path = Path(path)
    if path.is_dir():
        raise MeshValidationError(f"{path}: is a directory, not a mesh file")
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not np.isfinite(scale) or scale <= 0:
        raise MeshValidationError(f"{path}: scale must be a positive finite number, got {scale}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy/trimesh warnings about odd input: the checks below decide
            loaded = trimesh.load(path, force="mesh", process=False)
            if isinstance(loaded, trimesh.Trimesh):
                vertices = np.asarray(loaded.vertices, dtype=float)
                faces = np.asarray(loaded.faces, dtype=np.int64)
    except Exception as exc:  # noqa: BLE001 — trimesh raises many types for unreadable files
        raise MeshValidationError(f"{path}: cannot read mesh ({type(exc).__name__}: {one_line(str(exc))})") from None
    if isinstance(loaded, trimesh.Scene):  # an empty scene: no geometry in the file
        raise MeshValidationError(f"{path}: mesh is empty (no triangles)")
    if not isinstance(loaded, trimesh.Trimesh):
        raise MeshValidationError(f"{path}: not a triangle mesh (read a {type(loaded).__name__})")
    if len(faces) == 0 or len(vertices) == 0:
        raise MeshValidationError(f"{path}: mesh is empty (no triangles)")
    if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise MeshValidationError(f"{path}: not a triangle mesh (vertices {vertices.shape}, faces {faces.shape})")
    if not np.isfinite(vertices).all():
        bad = int((~np.isfinite(vertices)).any(axis=1).sum())
        raise MeshValidationError(f"{path}: {bad} vertex coordinate(s) are NaN or inf")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise MeshValidationError(f"{path}: face indices out of range for {len(vertices)} vertices")
    scaled = vertices * float(scale)
    if not np.isfinite(scaled).all():
        raise MeshValidationError(f"{path}: vertex coordinates overflow when scaled by {scale}")
    mesh = trimesh.Trimesh(vertices=scaled, faces=faces, process=True)
    if len(mesh.faces) == 0:
        raise MeshValidationError(f"{path}: mesh is empty (all triangles degenerate)")
    return mesh


def load_object_mesh(path: str | os.PathLike, scale: float = 1.0, repair: bool = False) -> trimesh.Trimesh:
    """Load, optionally repair, and validate a grasping-object mesh file: what every command that takes a mesh
    (plan, capture --simulate, ...) accepts. Errors as :func:`load_mesh_file` and :func:`validate_mesh`."""
    mesh = load_mesh_file(path, scale=scale)
    if repair:
        mesh = repair_mesh(mesh, str(path))
    validate_mesh(mesh, str(path))
    return mesh


def validate_mesh(mesh: trimesh.Trimesh, source: str) -> None:
    """Raise MeshValidationError (naming ``source``) unless ``mesh`` is a usable object mesh (see module docstring).

    A mesh of several disconnected parts is usable but doubtful (a scan with debris, two objects in one file): a
    :class:`DiffgraspWarning` names the file and the part count.
    """
    if len(mesh.faces) == 0:
        raise MeshValidationError(f"{source}: mesh is empty (no triangles)")
    if not np.isfinite(mesh.vertices).all():
        raise MeshValidationError(f"{source}: vertex coordinates contain NaN or inf")
    largest = float(np.max(mesh.extents))
    if largest > MAX_EXTENT_M:
        raise MeshValidationError(
            f"{source}: implausible scale, largest extent {largest:.4g} m > {MAX_EXTENT_M} m "
            f"(meshes must be in metres; probably millimetres: use --scale 0.001 (scale=0.001 in Python))")
    if largest < MIN_EXTENT_M:
        raise MeshValidationError(
            f"{source}: implausible scale, largest extent {largest:.4g} m < {MIN_EXTENT_M * 1000:.0f} mm "
            "(meshes must be in metres; wrong units? use --scale (scale= in Python) to convert)")
    if not mesh.is_watertight:
        raise MeshValidationError(
            f"{source}: mesh is not watertight (open boundary edges or non-manifold edges); "
            f"{REPAIR_HINT} for scans")
    if not mesh.is_winding_consistent:
        raise MeshValidationError(f"{source}: inconsistent face winding; {REPAIR_HINT}")
    volume = float(mesh.volume)
    if not volume > 0:
        raise MeshValidationError(
            f"{source}: non-positive volume {volume:.4g} m^3 (faces wound inward?); {REPAIR_HINT}")
    parts = int(mesh.body_count)
    if parts > 1:
        warnings.warn(f"{source}: mesh has {parts} disconnected parts; they are planned as one rigid object",
                      DiffgraspWarning, stacklevel=2)


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
            import pymeshfix  # optional dependency (not declared; may be missing)
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
