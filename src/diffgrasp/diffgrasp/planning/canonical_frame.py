"""A canonical object frame defined by the mesh itself, so that planning is independent of the file's frame.

Origin: the centre of mass. Axis 1: towards vertex 0. Axis 2: towards the first vertex (in file order) whose
component orthogonal to axis 1 is large. Vertex order and the centre of mass move with the mesh, so a translated or
rotated copy of a mesh gets the same canonical coordinates (up to rounding); the planner works there and maps its
grasps back into the file's frame.
"""

from __future__ import annotations

import numpy as np
import trimesh

ORTHOGONAL_FRACTION = 0.3  # of the largest vertex distance from the centre of mass


def canonical_transform(mesh: trimesh.Trimesh) -> np.ndarray:
    """(4, 4) transform taking object-file coordinates to the canonical frame."""
    com = np.asarray(mesh.center_mass, dtype=float)
    rel = np.asarray(mesh.vertices, dtype=float) - com
    radius = np.linalg.norm(rel, axis=1).max()
    first = int(np.argmax(np.linalg.norm(rel, axis=1) > 0.05 * radius))
    e1 = rel[first] / np.linalg.norm(rel[first])
    ortho = rel - np.outer(rel @ e1, e1)
    size = np.linalg.norm(ortho, axis=1)
    second = int(np.argmax(size > ORTHOGONAL_FRACTION * radius)) if (size > ORTHOGONAL_FRACTION * radius).any() \
        else int(np.argmax(size))
    e2 = ortho[second] / size[second]
    e3 = np.cross(e1, e2)
    rot = np.stack([e1, e2, e3])  # rows: canonical axes in file coordinates
    out = np.eye(4)
    out[:3, :3] = rot
    out[:3, 3] = -rot @ com
    return out
