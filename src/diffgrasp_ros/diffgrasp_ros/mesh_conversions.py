"""ROS-free conversions of triangle meshes: (vertices, faces) arrays ↔ shape_msgs/Mesh.

The lowest conversion layer for meshes: ``conversions.py`` (the planning scene's collision objects) and
``sensor_conversions.py`` (object observations, which re-exports both names) use it, so neither imports the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from diffgrasp_ros.message_factory import MessageFactory


def mesh_to_ros(f: MessageFactory, vertices: np.ndarray, faces: np.ndarray) -> Any:
    """(N, 3) m vertices + (M, 3) vertex indices → shape_msgs/Mesh (float64 vertices: exact)."""
    v = np.asarray(vertices, dtype=float)
    t = np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3 or t.ndim != 2 or t.shape[1] != 3:
        raise ValueError(f"mesh: expected vertices (N, 3) and faces (M, 3), got {v.shape}, {t.shape}")
    if t.size and (t.min() < 0 or t.max() >= len(v)):
        raise ValueError(f"mesh: face indices outside [0, {len(v)})")
    return f("shape_msgs/msg/Mesh",
             triangles=[f("shape_msgs/msg/MeshTriangle", vertex_indices=np.asarray(row, dtype=np.uint32))
                        for row in t],
             vertices=[f("geometry_msgs/msg/Point", x=float(x), y=float(y), z=float(z)) for x, y, z in v])


def mesh_from_ros(msg: Any) -> tuple[np.ndarray, np.ndarray]:
    """shape_msgs/Mesh → (vertices (N, 3) float64 m, faces (M, 3) int64)."""
    v = np.array([(p.x, p.y, p.z) for p in msg.vertices], dtype=float).reshape(-1, 3)
    t = np.array([np.asarray(tri.vertex_indices) for tri in msg.triangles], dtype=np.int64).reshape(-1, 3)
    if t.size and t.max() >= len(v):
        raise ValueError(f"Mesh: face index {int(t.max())} >= {len(v)} vertices")
    return v, t


__all__ = ["mesh_from_ros", "mesh_to_ros"]
