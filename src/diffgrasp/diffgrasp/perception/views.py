"""Object-centred depth views for the grasp network: V orthographic depth images of a mesh or point cloud.

Frame: the *object-centred* frame (origin at the centre of the geometry's axis-aligned bounding box in the frame it is
given in; axes unchanged, so give geometry with z up, e.g. world or :meth:`FusionResult.mesh_in_object_frame`).
Viewpoints (fixed): view 0 looks straight down (−z); views 1..V−1 sit on a ring at ``elevation_deg`` above the
horizontal, azimuths 360°·k/(V−1) from +x, all looking at the origin. Each image covers a square window of ``extent`` m;
pixel value = depth in metres from the virtual camera plane at ``distance`` m from the origin; background 0.
Image axes follow the optical convention (x right, y down; view 0 has image right = +x, image down = −y).
"""

from __future__ import annotations

import numpy as np
import trimesh

from diffgrasp.perception.depth import affine
from diffgrasp.perception.simulate import look_at

__all__ = ["view_poses", "render_object_views", "object_center"]


def view_poses(num_views: int = 5, distance: float = 0.5, elevation_deg: float = 30.0) -> np.ndarray:
    """(V, 4, 4) virtual camera (optical frame) poses in the object-centred frame."""
    if num_views < 1:
        raise ValueError("num_views must be ≥ 1")
    poses = [look_at([0.0, 0.0, distance], [0.0, 0.0, 0.0], up=(0.0, 1.0, 0.0))]
    el = np.deg2rad(elevation_deg)
    for k in range(num_views - 1):
        az = 2 * np.pi * k / (num_views - 1)
        eye = distance * np.array([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)])
        poses.append(look_at(eye, [0.0, 0.0, 0.0]))
    return np.stack(poses)


def object_center(geometry: trimesh.Trimesh | np.ndarray) -> np.ndarray:
    """(3,) centre of the axis-aligned bounding box of a mesh or (N, 3) points."""
    pts = geometry.vertices if isinstance(geometry, trimesh.Trimesh) else np.asarray(geometry, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0:
        raise ValueError(f"geometry: expected a mesh or (N, 3) points, got shape {pts.shape}")
    return (pts.min(0) + pts.max(0)) / 2


def render_object_views(geometry: trimesh.Trimesh | np.ndarray, num_views: int = 5, size: int = 64,
                        extent: float = 0.36, distance: float = 0.5, elevation_deg: float = 30.0,
                        center: np.ndarray | None = None) -> np.ndarray:
    """(V, size, size) float32 depth views (m from the virtual camera plane, 0 = background) of a mesh or (N, 3)
    point cloud, centred on ``center`` (default :func:`object_center`). Points are splatted with a z-buffer."""
    c = object_center(geometry) if center is None else np.asarray(center, dtype=float)
    poses = view_poses(num_views, distance, elevation_deg)
    px = (np.arange(size) + 0.5) / size * extent - extent / 2           # pixel centres on the image plane (m)
    gx, gy = np.meshgrid(px, px)                                         # (size, size): x right, y down
    out = np.zeros((num_views, size, size), np.float32)
    if isinstance(geometry, trimesh.Trimesh):
        import open3d as o3d  # heavy (~0.5 s), meshes only: diffgrasp.network imports this module (training)

        scene = o3d.t.geometry.RaycastingScene()
        t = o3d.t.geometry.TriangleMesh()
        t.vertex.positions = o3d.core.Tensor(np.asarray(geometry.vertices - c, dtype=np.float32))
        t.triangle.indices = o3d.core.Tensor(np.asarray(geometry.faces, dtype=np.int32))
        scene.add_triangles(t)
        local = np.stack([gx, gy, np.zeros_like(gx)], -1).reshape(-1, 3)
        for v, T in enumerate(poses):
            origins = affine(local, T[:3, :3], T[:3, 3])
            dirs = np.broadcast_to(T[:3, 2], origins.shape)
            rays = np.concatenate([origins, dirs], 1).astype(np.float32)
            hit = scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy().reshape(size, size)
            out[v] = np.where(np.isfinite(hit), hit, 0.0)
        return out
    pts = np.asarray(geometry, dtype=float) - c
    for v, T in enumerate(poses):
        q = affine(pts - T[:3, 3], T[:3, :3].T)                          # camera frame
        i = np.floor((q[:, 1] + extent / 2) / extent * size).astype(np.int64)
        j = np.floor((q[:, 0] + extent / 2) / extent * size).astype(np.int64)
        ok = (i >= 0) & (i < size) & (j >= 0) & (j < size) & (q[:, 2] > 0)
        img = np.full(size * size, np.inf)
        np.minimum.at(img, i[ok] * size + j[ok], q[ok, 2])
        out[v] = np.where(np.isfinite(img), img, 0.0).reshape(size, size)
    return out
