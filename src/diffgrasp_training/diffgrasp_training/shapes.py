"""Procedural training shapes (watertight, metres): boxes, cylinders, spheres, capsules, superquadrics, tori, convex
hulls of random points and composites (the union of two overlapping primitives).

Each shape is built centred at the origin and then placed at a random rotation and offset, so the mesh file's frame
differs from the object-centred frame the network uses. Its size is drawn log-uniformly in ``size_range_m`` (the
largest half-extent), so small objects are as common per octave as large ones, and each axis is 35–100 % of it.
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


def half_extents(rng: np.random.Generator, size_range_m: tuple[float, float]) -> np.ndarray:
    """(3,) half-extents (m): the largest log-uniform in ``size_range_m``, the others 35–100 % of it (≥ its min)."""
    lo, hi = size_range_m
    size = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    s = size * rng.uniform(0.35, 1.0, size=3)
    s[int(rng.integers(3))] = size
    return np.maximum(s, lo)


def _composite(rng: np.random.Generator, s: np.ndarray) -> trimesh.Trimesh:
    """The union of two primitives; the second's centre lies inside the first (each contains a ball of radius
    min(half-extents) about its centre), so the union is one body."""
    simple = ("box", "cylinder", "sphere", "capsule")
    first = procedural_mesh(simple[int(rng.integers(4))], rng, s * rng.uniform(0.5, 1.0, size=3))
    second = procedural_mesh(simple[int(rng.integers(4))], rng, s * rng.uniform(0.4, 0.8, size=3))
    d = rng.normal(size=3)
    inner = float(np.min(first.extents)) / 2
    second.apply_transform(random_placement(rng, 0.0))
    second.apply_translation(d / np.linalg.norm(d) * rng.uniform(0.3, 0.9) * inner)
    return trimesh.boolean.union([first, second])


def procedural_mesh(kind: str, rng: np.random.Generator, size_range_m: tuple[float, float] | np.ndarray
                    ) -> trimesh.Trimesh:
    """A watertight mesh of ``kind`` centred at the origin. size_range_m: (min, max) for :func:`half_extents`, or
    the (3,) half-extents / radii themselves (m)."""
    s = np.asarray(size_range_m, float)
    if s.shape != (3,):
        s = half_extents(rng, tuple(s))
    if kind == "box":
        mesh = trimesh.creation.box(extents=2 * s)
    elif kind == "cylinder":
        mesh = trimesh.creation.cylinder(radius=s[0], height=2 * s[2], sections=32)
    elif kind == "sphere":
        mesh = trimesh.creation.icosphere(subdivisions=3, radius=s[0])
    elif kind == "capsule":
        r = min(s[0], s[1])  # height: between the caps' centres, so the whole length is 2 * s[2]
        mesh = trimesh.creation.capsule(radius=r, height=max(2 * (s[2] - r), 0.2 * r), count=[16, 16])
    elif kind == "superquadric":
        mesh = superquadric(s, e1=rng.uniform(0.3, 1.5), e2=rng.uniform(0.3, 1.5))
    elif kind == "torus":
        major = max(s[0], s[1])
        mesh = trimesh.creation.torus(major_radius=major * 0.7, minor_radius=major * 0.3 * rng.uniform(0.4, 1.0),
                                      major_sections=32, minor_sections=16)
    elif kind == "convex_hull":
        points = rng.normal(size=(int(rng.integers(8, 21)), 3))
        points = points / np.linalg.norm(points, axis=1, keepdims=True) * rng.uniform(0.5, 1.0, (len(points), 1))
        mesh = trimesh.convex.convex_hull(points * s)
    elif kind == "composite":
        mesh = _composite(rng, s)
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


__all__ = ["half_extents", "make_shape", "procedural_mesh", "random_placement", "superquadric"]
