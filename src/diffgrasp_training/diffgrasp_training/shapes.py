"""Procedural training shapes: boxes, cylinders, spheres, capsules and superquadrics (watertight, metres).

Each shape is built centred at the origin with random half-extents in ``size_range_m`` and then placed at a random
rotation and offset, so the mesh file's frame differs from the object-centred frame the network uses.
"""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from diffgrasp_training.train_config import SHAPE_KINDS


def superquadric(radii: np.ndarray, e1: float, e2: float, subdivisions: int = 3) -> trimesh.Trimesh:
    """Superquadric |x/a|^(2/e2) + |y/b|^(2/e2))^(e2/e1) + |z/c|^(2/e1) = 1, by radially projecting an icosphere
    (star-shaped about the origin, so the icosphere's closed topology carries over: watertight)."""
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
    u = np.asarray(sphere.vertices, dtype=float)
    a = np.abs(u) / np.asarray(radii, dtype=float)
    f = (a[:, 0] ** (2 / e2) + a[:, 1] ** (2 / e2)) ** (e2 / e1) + a[:, 2] ** (2 / e1)
    r = f ** (-e1 / 2)
    return trimesh.Trimesh(u * r[:, None], sphere.faces, process=True)


def procedural_mesh(kind: str, rng: np.random.Generator, size_range_m: tuple[float, float]) -> trimesh.Trimesh:
    """A watertight mesh of ``kind`` centred at the origin; half-extents / radii drawn from ``size_range_m`` (m)."""
    lo, hi = size_range_m
    s = rng.uniform(lo, hi, size=3)
    if kind == "box":
        mesh = trimesh.creation.box(extents=2 * s)
    elif kind == "cylinder":
        mesh = trimesh.creation.cylinder(radius=s[0], height=2 * s[2], sections=32)
    elif kind == "sphere":
        mesh = trimesh.creation.icosphere(subdivisions=3, radius=s[0])
    elif kind == "capsule":
        mesh = trimesh.creation.capsule(radius=s[0], height=2 * s[2], count=[16, 16])
    elif kind == "superquadric":
        mesh = superquadric(s, e1=rng.uniform(0.3, 1.5), e2=rng.uniform(0.3, 1.5))
    else:
        raise ValueError(f"unknown shape kind {kind!r}; valid: {', '.join(SHAPE_KINDS)}")
    if not mesh.is_watertight:
        raise RuntimeError(f"procedural {kind} is not watertight")  # a bug in the generator, not bad input
    return mesh


def random_placement(rng: np.random.Generator, max_offset_m: float) -> np.ndarray:
    """(4, 4) random rotation and an offset of length between ``max_offset_m`` / 2 and ``max_offset_m`` (m)."""
    t = np.eye(4)
    t[:3, :3] = Rotation.random(random_state=int(rng.integers(2**31))).as_matrix()
    d = rng.normal(size=3)
    t[:3, 3] = d / np.linalg.norm(d) * rng.uniform(0.5 * max_offset_m, max_offset_m)
    return t


def make_shape(index: int, kinds: tuple[str, ...], size_range_m: tuple[float, float], max_offset_m: float,
               seed: int) -> tuple[str, trimesh.Trimesh]:
    """Procedural shape number ``index`` (deterministic in seed and index): (name, placed mesh)."""
    rng = np.random.default_rng([seed, index])
    kind = kinds[index % len(kinds)]
    mesh = procedural_mesh(kind, rng, size_range_m)
    mesh.apply_transform(random_placement(rng, max_offset_m))
    return f"proc_{index:05d}_{kind}", mesh


__all__ = ["make_shape", "procedural_mesh", "random_placement", "superquadric"]
