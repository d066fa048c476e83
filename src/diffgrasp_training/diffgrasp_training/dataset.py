"""Training data on disk: per object a mesh, its V object-centred views and its reference grasps, plus an index.

Layout of a data folder::

    index.json                  {"format": "diffgrasp.training-data/1", "network_views": {...}, "dataset": {...},
                                 "objects": [{"name", "split", "source", "mesh", "views", "grasps", "centre",
                                              "num_grasps", "status", "error"}]}   (paths relative to the folder)
    objects/<name>/mesh.obj     the object in its own (file) frame, metres
    objects/<name>/views.npy    (V, H, W) float32 depth m, 0 = no hit (diffgrasp.network.preprocessing)
    objects/<name>/grasps.json  reference grasps, diffgrasp.grasps/1, object frame (absent with 0 grasps/object)

``diffgrasp_training.generate`` writes such a folder (resumably); this module reads it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffgrasp.config import to_dict
from diffgrasp.grasps import load_grasps
from diffgrasp.network.network_config import NetworkConfig

INDEX_FORMAT = "diffgrasp.training-data/1"
VIEW_FIELDS = ("num_views", "image_size", "centre", "camera_distance_m", "elevation_deg", "view_half_width_m")


def view_settings(network_config: NetworkConfig) -> dict[str, Any]:
    """The network-config fields that define the stored views (a data folder serves networks that agree on them)."""
    d = to_dict(network_config)
    return {k: d[k] for k in VIEW_FIELDS}


def read_index(path: Path) -> dict[str, Any] | None:
    """The parsed ``index.json`` at ``path``, None if absent; ValueError if it is not a valid index."""
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err}); delete it to regenerate") from None
    if index.get("format") != INDEX_FORMAT:
        raise ValueError(f"{path}: unknown format {index.get('format')!r} (expected {INDEX_FORMAT!r})")
    return index


class GraspDataset:
    """The objects of one split of a data folder, as tensors (all in memory; a few hundred objects are ~25 MB).

    views: (N, V, H, W) float32 m. centres: (N, 3) m (object-centred frame origin in the object frame).
    ref_position (N, R, 3) m and ref_rotation (N, R, 3, 3) in the object-centred frame; ref_joints (N, R, 18) rad
    reduced coordinates; ref_mask (N, R) bool (rows padded to the largest R; R = 1 of padding when no references).
    mesh_paths: N paths (object frame meshes). Only entries with status "done" are used.
    """

    def __init__(self, data_dir: str | os.PathLike, split: str, network_config: NetworkConfig | None = None) -> None:
        from diffgrasp.geometry.rotations import quaternion_xyzw_to_matrix
        from diffgrasp.hand.names import FINGER_JOINT_NAMES
        from diffgrasp.network.model import make_coupling

        root = Path(data_dir)
        index = read_index(root / "index.json")
        if index is None:
            raise FileNotFoundError(f"{root}: no index.json (run `diffgrasp-train generate` first)")
        if network_config is not None and index["network_views"] != view_settings(network_config):
            raise ValueError(f"{root}: views were rendered with {index['network_views']}, the network expects "
                             f"{view_settings(network_config)}")
        entries = [e for e in index["objects"] if e["split"] == split and e["status"] == "done"]
        self.names = [e["name"] for e in entries]
        self.mesh_paths = [root / e["mesh"] for e in entries]
        nv, size = index["network_views"]["num_views"], index["network_views"]["image_size"]
        self.views = (torch.from_numpy(np.stack([np.load(root / e["views"]) for e in entries])) if entries
                      else torch.zeros(0, nv, size, size))
        self.centres = torch.tensor([e["centre"] for e in entries], dtype=torch.float32).reshape(-1, 3)
        grasp_sets = [load_grasps(root / e["grasps"]).grasps if e["grasps"] else [] for e in entries]
        r = max([len(g) for g in grasp_sets] + [1])
        n = len(entries)
        coupling = make_coupling(1.0 if network_config is None else network_config.coupling_ratio)
        pos = torch.zeros(n, r, 3)
        quat = torch.zeros(n, r, 4)
        quat[..., 3] = 1
        q22 = torch.zeros(n, r, 22)
        mask = torch.zeros(n, r, dtype=torch.bool)
        for i, grasps in enumerate(grasp_sets):  # file reading, once per object
            for j, g in enumerate(grasps):
                pos[i, j] = torch.as_tensor(g.palm_position, dtype=torch.float32) - self.centres[i]
                quat[i, j] = torch.as_tensor(g.palm_quaternion_xyzw, dtype=torch.float32)
                q22[i, j] = torch.as_tensor(g.joint_vector(FINGER_JOINT_NAMES), dtype=torch.float32)
                mask[i, j] = True
        self.ref_position = pos
        self.ref_rotation = quaternion_xyzw_to_matrix(quat)
        self.ref_joints = torch.as_tensor(coupling.reduce(q22.reshape(-1, 22)), dtype=torch.float32).reshape(
            n, r, len(coupling.reduced_names))
        self.ref_mask = mask
        self.has_references = bool(mask.any())

    def __len__(self) -> int:
        return len(self.names)

    def batch(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        """Tensors of the objects ``indices`` (K,): views, centres, ref_position/rotation/joints/mask, indices."""
        return {"views": self.views[indices], "centres": self.centres[indices],
                "ref_position": self.ref_position[indices], "ref_rotation": self.ref_rotation[indices],
                "ref_joints": self.ref_joints[indices], "ref_mask": self.ref_mask[indices], "indices": indices}


def batch_indices(num_items: int, batch_size: int, step: int, seed: int) -> torch.Tensor:
    """Object indices (batch_size,) for ``step``: a fresh seeded permutation per epoch, a function of
    (seed, step) alone, so a resumed run sees exactly the batches of an uninterrupted one."""
    if num_items < 1:
        raise ValueError("the training split is empty")
    start = step * batch_size
    first, last = start // num_items, (start + batch_size - 1) // num_items
    perms = torch.cat([torch.randperm(num_items, generator=torch.Generator().manual_seed(seed * 1_000_003 + e))
                       for e in range(first, last + 1)])
    offset = start - first * num_items
    return perms[offset:offset + batch_size]


__all__ = ["GraspDataset", "INDEX_FORMAT", "batch_indices", "read_index", "view_settings"]
