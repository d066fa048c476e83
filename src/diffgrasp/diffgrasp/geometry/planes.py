"""Planes (a, b, c, d): a x + b y + c z + d = 0 with a unit normal (a, b, c) pointing into free space (a table's up),
and how they change frame. Units: metres."""

from __future__ import annotations

import numpy as np


def plane_in_frame(plane_world: np.ndarray, frame_to_world: np.ndarray) -> np.ndarray:
    """Plane (4,) in world → the same plane in the frame whose pose in world is ``frame_to_world`` (4, 4)."""
    n = frame_to_world[:3, :3].T @ plane_world[:3]
    d = float(plane_world[:3] @ frame_to_world[:3, 3] + plane_world[3])
    return np.array([*n, d])


def transformed_plane(plane: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Plane (4,) carried along by the rigid ``transform`` (4, 4) that maps its frame's points p to R p + t."""
    n = transform[:3, :3] @ plane[:3]
    return np.array([*n, plane[3] - n @ transform[:3, 3]])


__all__ = ["plane_in_frame", "transformed_plane"]
