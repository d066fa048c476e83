"""Meshes above a face budget: quadric decimation (Garland–Heckbert) down to the budget, then the usual validation.

A 1.3-million-face mesh costs seconds in every per-mesh step (validation, centre of mass, the SDF grid, the convex
decomposition) and gigabytes in the closing sweeps; grasping does not need that detail (the SDF grid has 2 mm cells).
Backend: ``fast_simplification`` through trimesh (a declared dependency; ~2 s for 1.3 M faces on the 2-core box);
Open3D's ``simplify_quadric_decimation`` (~16 s for the same mesh) where an install lacks it. Vertices move by the
decimation (a fraction of a triangle's size), the frame does not.
"""

from __future__ import annotations

import warnings

import numpy as np
import trimesh

from diffgrasp.errors import DiffgraspWarning
from diffgrasp.geometry.mesh_validation import MeshValidationError

# where the face budget is configured (config/planner.yaml)
BUDGET_KEY = "planner.max_faces, or planner.budget.max_faces under a short time budget"
# fast_simplification on the 2-core development box: 2.0 M faces in 4.3 s, 1.3 M in 2.9 s (a time budget's estimate)
DECIMATION_S_PER_FACE = 2.5e-6


def decimation_seconds(num_faces: int) -> float:
    """Rough wall time of ``decimate`` for a mesh of ``num_faces`` faces (for time budgets; machine-dependent)."""
    return DECIMATION_S_PER_FACE * num_faces


def decimate(mesh: trimesh.Trimesh, max_faces: int) -> trimesh.Trimesh:
    """Quadric decimation of ``mesh`` to about ``max_faces`` faces (processed: merged vertices, no degenerate
    faces). Not validated: see ``simplify_to_budget``."""
    if max_faces < 4:
        raise ValueError(f"max_faces: must be >= 4 (a tetrahedron), got {max_faces}")
    vertices = np.ascontiguousarray(mesh.vertices, dtype=np.float64)
    faces = np.ascontiguousarray(mesh.faces, dtype=np.int64)
    try:
        import fast_simplification  # optional: the Open3D fallback covers an install that lacks it
    except ImportError:
        fast_simplification = None
    if fast_simplification is not None:
        v, f = fast_simplification.simplify(vertices, faces, target_count=int(max_faces))
    else:
        import open3d as o3d  # heavy (~0.5 s), fallback only; `diffgrasp --help` imports this module

        o3d_mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices),
                                             o3d.utility.Vector3iVector(faces.astype(np.int32)))
        out = o3d_mesh.simplify_quadric_decimation(target_number_of_triangles=int(max_faces))
        v, f = np.asarray(out.vertices), np.asarray(out.triangles)
    return trimesh.Trimesh(np.asarray(v, dtype=np.float64), np.asarray(f, dtype=np.int64), process=True)


def simplify_to_budget(mesh: trimesh.Trimesh, max_faces: int | None, source: str) -> trimesh.Trimesh:
    """``mesh`` itself when it has at most ``max_faces`` faces (None: no budget), else its quadric decimation with a
    DiffgraspWarning naming ``source`` and the face counts before and after.

    The decimated mesh must still be a closed object mesh (watertight, consistently wound, positive volume);
    otherwise MeshValidationError, one line saying what to do. Validation of scale and the rest stays with the caller
    (ObjectModel)."""
    before = len(mesh.faces)
    if max_faces is None or before <= max_faces:
        return mesh
    simple = decimate(mesh, max_faces)
    after = len(simple.faces)
    if not (after and simple.is_watertight and simple.is_winding_consistent and simple.volume > 0):
        raise MeshValidationError(
            f"{source}: {before} faces exceed the face budget of {max_faces} ({BUDGET_KEY}) and quadric decimation "
            f"to {after} faces left the mesh open; simplify it yourself (e.g. MeshLab, Blender) or raise the face "
            "budget in a --config file")
    warnings.warn(f"{source}: simplified from {before} to {after} faces by quadric decimation (face budget "
                  f"{max_faces}: {BUDGET_KEY})", DiffgraspWarning, stacklevel=3)  # the caller of the loader
    return simple


__all__ = ["BUDGET_KEY", "DECIMATION_S_PER_FACE", "decimate", "decimation_seconds", "simplify_to_budget"]
