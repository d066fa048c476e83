"""ObjectModel: a validated watertight object mesh in its file's own frame, with a differentiable signed distance.

Frame: the mesh file's coordinates (times ``scale``), never recentred. Units: metres.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import trimesh

from diffgrasp._checks import check_shape
from diffgrasp.geometry.mesh_validation import load_mesh_file, repair_mesh, validate_mesh
from diffgrasp.geometry.signed_distance import WarpMeshIndex, mesh_signed_distance
from diffgrasp.geometry.simplify import simplify_to_budget


class ObjectModel:
    """A grasping object: validated mesh + centre of mass + characteristic length + signed distance.

    Attributes:
        mesh: the validated ``trimesh.Trimesh`` (metres, object frame).
        name: file stem (or the given name).
        center_of_mass: (3,) float64 m, uniform density, object frame.
        characteristic_length: float m, the largest distance from the centre of mass to a mesh vertex (radius of the
            smallest COM-centred ball holding the object). Used as the torque scale ρ of Q1: torques / ρ are in N, so
            forces and torques compare; a wrench's torque part is (p − com) × f / ρ.
    """

    def __init__(self, mesh: trimesh.Trimesh, name: str = "object", source: str | None = None,
                 sign_method: str = "winding") -> None:
        """Wrap an already loaded mesh; it is validated (errors name ``source`` or ``name``)."""
        validate_mesh(mesh, source or name)
        self.mesh = mesh
        self.name = name
        self.source = source
        self.center_of_mass = np.asarray(mesh.center_mass, dtype=float)
        self.characteristic_length = float(np.linalg.norm(mesh.vertices - self.center_of_mass, axis=1).max())
        self._index = WarpMeshIndex(np.asarray(mesh.vertices), np.asarray(mesh.faces), sign_method=sign_method)
        self._tensors: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def from_file(cls, path: str | os.PathLike, scale: float = 1.0, repair: bool = False,
                  name: str | None = None, sign_method: str = "winding", max_faces: int | None = None,
                  before_simplify: Callable[[int], None] | None = None) -> ObjectModel:
        """Load and validate a mesh file (OBJ/STL/PLY); ``scale`` multiplies the file's coordinates.

        ``repair=True`` first fills holes and fixes winding/inversion (for fused scans). A mesh with more than
        ``max_faces`` faces (None: any number) is simplified by quadric decimation first, with a DiffgraspWarning
        naming the file and both face counts (``diffgrasp.geometry.simplify``). Errors: FileNotFoundError,
        ``MeshValidationError`` (a ValueError) naming the file and the problem (empty, NaN/inf, not watertight,
        inconsistent winding, non-positive volume, implausible scale, open after decimation).
        ``before_simplify(num_faces)`` is called before a decimation and may raise to stop (a time budget that
        cannot pay for it).
        """
        path = Path(path)
        mesh = load_mesh_file(path, scale=scale)
        if repair:
            mesh = repair_mesh(mesh, str(path))
        if before_simplify is not None and max_faces is not None and len(mesh.faces) > max_faces:
            before_simplify(len(mesh.faces))
        mesh = simplify_to_budget(mesh, max_faces, str(path))
        return cls(mesh, name=name or path.stem, source=str(path), sign_method=sign_method)

    def simplified(self, max_faces: int | None) -> ObjectModel:
        """This object when it has at most ``max_faces`` faces, else a new one of its quadric decimation (with a
        DiffgraspWarning naming the source and both face counts; see ``from_file``)."""
        mesh = simplify_to_budget(self.mesh, max_faces, self.source or self.name)
        if mesh is self.mesh:
            return self
        return ObjectModel(mesh, name=self.name, source=self.source, sign_method=self._index.sign_method)

    # ------------------------------------------------------------------ geometry
    @property
    def num_faces(self) -> int:
        return int(len(self.mesh.faces))

    def surface_samples(self, n: int, seed: int = 0) -> np.ndarray:
        """(n, 3) float64 m: area-weighted uniform samples on the surface (deterministic for a seed)."""
        if n <= 0:
            raise ValueError(f"n: expected a positive number of samples, got {n}")
        points, _ = trimesh.sample.sample_surface(self.mesh, int(n), seed=int(seed))
        return np.asarray(points, dtype=float)

    def tensors(self, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(vertices (V, 3) dtype, faces (F, 3) long) on ``device``, cached."""
        key = (torch.device(device), dtype)
        if key not in self._tensors:
            v = torch.as_tensor(np.asarray(self.mesh.vertices), dtype=torch.float64).to(device=device, dtype=dtype)
            f = torch.as_tensor(np.asarray(self.mesh.faces), dtype=torch.long, device=device)
            self._tensors[key] = (v, f)
        return self._tensors[key]

    def signed_distance(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Signed distance of points (B, N, 3) m, object frame → (d (B, N) m, normal (B, N, 3)).

        d < 0 inside; ``normal`` is the outward unit normal at the closest surface point (= ∇d). Exact point–triangle
        distance in the points' dtype; gradients flow through d and the normal (any leading shape (..., 3) works).
        """
        if points.ndim < 1 or points.shape[-1] != 3:
            check_shape("points", points, ("B", "N", 3))
        vertices, faces = self.tensors(points.device, points.dtype)
        return mesh_signed_distance(points, vertices, faces, self._index)

    def __repr__(self) -> str:
        return (f"ObjectModel(name={self.name!r}, faces={self.num_faces}, "
                f"characteristic_length={self.characteristic_length:.4f} m)")
