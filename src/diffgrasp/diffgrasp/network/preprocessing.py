"""Object → the V object-centred depth views the grasp network reads.

The object-centred frame is the object's own frame translated so that the centre (bounding-box centre, or the centre
of mass of a watertight mesh when ``NetworkConfig.centre == "com"``) is the origin; axes unchanged (give geometry with
z up). Grasps predicted in it are mapped back by adding the centre (``diffgrasp.network.predict``).

The views themselves come from ``diffgrasp.perception.views.render_object_views`` (orthographic; view 0 looks down
−z, views 1..V−1 circle the object at ``elevation_deg``; pixel = depth in m from the camera plane at
``camera_distance_m``, 0 = background; meshes are ray cast, point clouds z-buffered), called with the network
config's geometry so that training data and inference always agree.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from diffgrasp._checks import check_shape
from diffgrasp.network.network_config import NetworkConfig
from diffgrasp.perception.views import render_object_views


def as_geometry(source: Any) -> Any:
    """Normalise an input to a trimesh.Trimesh or an (N, 3) float64 array of points (m), in the object's frame.

    Accepts a mesh file path, a trimesh.Trimesh, a ``FusionResult`` (its mesh in the fused object frame,
    ``mesh_in_object_frame()``: z = table normal; map grasps to the world with its ``object_to_world``), an object
    with a ``.mesh`` attribute (ObjectModel), an open3d TriangleMesh / PointCloud, or an (N, 3) array of points.
    A raw ``Capture`` must be fused first (``diffgrasp.perception.fuse``).
    """
    if hasattr(source, "mesh_in_object_frame"):  # perception.FusionResult
        return as_geometry(source.mesh_in_object_frame())
    if hasattr(source, "depth") and hasattr(source, "camera_to_world"):  # perception.Capture
        raise ValueError("a Capture must be fused first: predict from diffgrasp.perception.fuse(capture), whose "
                         "object_to_world maps the grasps to the world")

    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"mesh file not found: {path}")
        source = trimesh.load(path, force="mesh", process=False)
        if len(source.faces) == 0:
            raise ValueError(f"{path}: mesh has no faces")
    if isinstance(source, trimesh.Trimesh):
        if len(source.faces) == 0:
            raise ValueError("mesh has no faces")
        return source
    if hasattr(source, "mesh") and source.mesh is not None:
        return as_geometry(source.mesh)
    if hasattr(source, "triangles") and hasattr(source, "vertices"):  # open3d.geometry.TriangleMesh
        return trimesh.Trimesh(np.asarray(source.vertices), np.asarray(source.triangles), process=False)
    if hasattr(source, "points") and not isinstance(source, np.ndarray):  # open3d.geometry.PointCloud
        source = np.asarray(source.points)
    points = np.asarray(source, dtype=float)
    check_shape("points", points, ("N", 3))
    if len(points) == 0 or not np.isfinite(points).all():
        raise ValueError("points: empty or contains NaN/inf")
    return points


def object_centre(geometry: Any, how: str = "bbox") -> np.ndarray:
    """(3,) centre (m, object frame): bounding-box centre, or the centre of mass of a watertight mesh ("com")."""
    is_mesh = isinstance(geometry, trimesh.Trimesh)
    if how == "com" and is_mesh and geometry.is_watertight and geometry.volume > 0:
        return np.asarray(geometry.center_mass, dtype=float)
    pts = np.asarray(geometry.vertices if is_mesh else geometry, dtype=float)
    return 0.5 * (pts.min(axis=0) + pts.max(axis=0))


def render_views(source: Any, config: NetworkConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Object (mesh path, mesh, ObjectModel, fused mesh, point cloud) → (views (V, H, W) float32 m, centre (3,) m).

    ``views``: depth from each virtual camera plane, 0 where nothing is hit. ``centre``: the origin of the
    object-centred frame in the object's own frame.
    """
    config = config or NetworkConfig()
    geometry = as_geometry(source)
    centre = object_centre(geometry, config.centre)
    views = render_object_views(geometry, num_views=config.num_views, size=config.image_size,
                                extent=2 * config.view_half_width_m, distance=config.camera_distance_m,
                                elevation_deg=config.elevation_deg, center=centre)
    return np.asarray(views, dtype=np.float32), centre


__all__ = ["as_geometry", "object_centre", "render_views"]
