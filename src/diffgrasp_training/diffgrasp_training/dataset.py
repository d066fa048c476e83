"""Training data on disk: per object a mesh, its V object-centred views and its reference grasps, plus an index.

Layout of a data folder::

    index.json                  {"format": "diffgrasp.training-data/1", "network_views": {...}, "dataset": {...},
                                 "objects_dir": path or null,
                                 "objects": [{"name", "split", "source", "shard", "mesh", "views", "grasps",
                                              "centre", "num_grasps", "status", "error"}]}   (paths relative to the
                                 folder)
    shards/<digest>/mesh.obj    the object in its own (file) frame, metres
    shards/<digest>/views.npy   (V, H, W) float32 depth m, 0 = no hit (diffgrasp.network.preprocessing)
    shards/<digest>/grasps.json reference grasps, diffgrasp.grasps/1, object frame (absent with 0 grasps/object)

``diffgrasp_training.generate`` writes such a folder (resumably; a shard's name is its content's SHA-256, see
``diffgrasp_training.shards``); this module reads it. Folders written before shards (``objects/<name>/...``) read
the same: entries name their files.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffgrasp.config import to_dict
from diffgrasp.errors import DiffgraspError, MissingFileError
from diffgrasp.geometry.rotations import quaternion_xyzw_to_matrix
from diffgrasp.grasps import load_grasps
from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp.loading import brief, check_format, confined_path, one_line, read_json
from diffgrasp.network.model import make_coupling
from diffgrasp.network.network_config import NetworkConfig

INDEX_FORMAT = "diffgrasp.training-data/1"
VIEW_FIELDS = ("num_views", "image_size", "centre", "camera_distance_m", "elevation_deg", "view_half_width_m")


def view_settings(network_config: NetworkConfig) -> dict[str, Any]:
    """The network-config fields that define the stored views (a data folder serves networks that agree on them)."""
    d = to_dict(network_config)
    return {k: d[k] for k in VIEW_FIELDS}


class DataIndexError(DiffgraspError):
    """A training data folder's index.json (or a file it names) is unusable; one line naming the file and entry."""


_ENTRY_TEXT = ("name", "split", "status")
_ENTRY_PATHS = ("mesh", "views")


def read_index(path: Path) -> dict[str, Any] | None:
    """The parsed and checked ``index.json`` at ``path``, None if absent; DataIndexError (one line naming the file
    and the entry) if it is not a valid index. Paths in entries are checked to stay inside the index's folder."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        index = read_json(path, DataIndexError)
    except DataIndexError as err:
        raise DataIndexError(f"{err}; delete it to regenerate") from None
    check_format(index, path, INDEX_FORMAT, DataIndexError)
    views = index.get("network_views")
    if not isinstance(views, dict) or any(k not in views for k in VIEW_FIELDS):
        raise DataIndexError(f"{path}: network_views: expected a mapping of {', '.join(VIEW_FIELDS)}, "
                             f"got {brief(views)}")
    for key in ("num_views", "image_size"):
        v = views[key]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 4096:
            raise DataIndexError(f"{path}: network_views.{key}: expected a positive integer, got {brief(v)}")
    objects = index.get("objects")
    if not isinstance(objects, list):
        raise DataIndexError(f"{path}: objects: expected a list, got {brief(objects)}")
    names = set()
    for i, e in enumerate(objects):
        where = f"{path}: objects[{i}]"
        if not isinstance(e, dict):
            raise DataIndexError(f"{where}: expected an object, got {brief(e)}")
        for key in _ENTRY_TEXT:
            if not isinstance(e.get(key), str) or not e[key]:
                raise DataIndexError(f"{where}.{key}: expected a non-empty string, got {brief(e.get(key))}")
        if e["name"] in names:
            raise DataIndexError(f"{where}.name: {brief(e['name'])} appears twice")
        names.add(e["name"])
        if e["status"] != "done":
            continue  # pending/failed entries are regenerated, never read
        for key in _ENTRY_PATHS:
            confined_path(path.parent, e.get(key), path, f"objects[{i}].{key}")
        if e.get("grasps") is not None:
            confined_path(path.parent, e["grasps"], path, f"objects[{i}].grasps")
        centre = e.get("centre")
        if (not isinstance(centre, list) or len(centre) != 3
                or not all(isinstance(c, int | float) and not isinstance(c, bool) and _finite(c) for c in centre)):
            raise DataIndexError(f"{where}.centre: expected 3 finite numbers, got {brief(centre)}")
    return index


def _plane(entry: dict[str, Any], index_path: Path, i: int) -> list[float]:
    """A table sample's support plane (a, b, c, d) in its mesh frame (unit normal), NaN × 4 for a free object."""
    plane = entry.get("support_plane")
    if plane is None:
        return [math.nan] * 4
    if (not isinstance(plane, list) or len(plane) != 4 or not all(
            isinstance(c, int | float) and not isinstance(c, bool) and _finite(c) for c in plane)
            or abs(math.hypot(*plane[:3]) - 1) > 1e-6):
        raise DataIndexError(f"{index_path}: objects[{i}].support_plane: expected (a, b, c, d) with a unit normal "
                             f"or null, got {brief(plane)}")
    return [float(c) for c in plane]


def _finite(x: int | float) -> bool:
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def _load_views(path: Path, rel: str, index_path: Path, num_views: int, size: int) -> np.ndarray:
    """(V, H, W) float32 views of one object; DataIndexError naming the index and file if unusable."""
    if not path.is_file():
        raise MissingFileError(f"{index_path}: {rel}: listed but missing (regenerate the folder)")
    try:
        views = np.load(path, mmap_mode="r", allow_pickle=False)
        if views.shape != (num_views, size, size):
            raise DataIndexError(f"{index_path}: {rel}: views have shape {views.shape}, the index says "
                                 f"({num_views}, {size}, {size})")
        views = np.array(views, dtype=np.float32)
    except DataIndexError:
        raise
    except Exception as err:  # noqa: BLE001 — numpy raises many types for files that are not .npy arrays
        raise DataIndexError(f"{index_path}: {rel}: not a .npy array ({type(err).__name__}: "
                             f"{one_line(str(err), 100)})") from None
    if not np.isfinite(views).all():
        raise DataIndexError(f"{index_path}: {rel}: views contain NaN or inf")
    return views


class GraspDataset:
    """The objects of one split of a data folder, as tensors (all in memory; a few hundred objects are ~25 MB).

    views: (N, V, H, W) float32 m. centres: (N, 3) m (object-centred frame origin in the object frame).
    ref_position (N, R, 3) m and ref_rotation (N, R, 3, 3) in the object-centred frame; ref_joints (N, R, 18) rad
    reduced coordinates; ref_mask (N, R) bool (rows padded to the largest R; R = 1 of padding when no references).
    mesh_paths: N paths (object frame meshes). Only entries with status "done" are used.
    """

    def __init__(self, data_dir: str | os.PathLike, split: str, network_config: NetworkConfig | None = None) -> None:
        root = Path(data_dir)
        index_path = root / "index.json"
        index = read_index(index_path)
        if index is None:
            raise FileNotFoundError(f"{root}: no index.json (run `diffgrasp-train generate` first)")
        if network_config is not None and index["network_views"] != view_settings(network_config):
            raise DataIndexError(f"{root}: views were rendered with {index['network_views']}, the network expects "
                                 f"{view_settings(network_config)}")
        entries = [(i, e) for i, e in enumerate(index["objects"]) if e["split"] == split and e["status"] == "done"]
        self.names = [e["name"] for _, e in entries]
        self.mesh_paths = [confined_path(root, e["mesh"], index_path, f"objects[{i}].mesh") for i, e in entries]
        nv, size = index["network_views"]["num_views"], index["network_views"]["image_size"]
        self.views = (torch.from_numpy(np.stack([
            _load_views(confined_path(root, e["views"], index_path, f"objects[{i}].views"), e["views"], index_path,
                        nv, size) for i, e in entries])) if entries else torch.zeros(0, nv, size, size))
        self.centres = torch.tensor([e["centre"] for _, e in entries], dtype=torch.float32).reshape(-1, 3)
        self.support_planes = torch.tensor([_plane(e, index_path, i) for i, e in entries],
                                           dtype=torch.float32).reshape(-1, 4)
        grasp_sets = [self._grasps(root, index_path, i, e) for i, e in entries]
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

    @staticmethod
    def _grasps(root: Path, index_path: Path, i: int, entry: dict[str, Any]) -> list:
        """Reference grasps of one index entry ([] without a grasp file); errors name the index entry."""
        if not entry.get("grasps"):
            return []
        path = confined_path(root, entry["grasps"], index_path, f"objects[{i}].grasps")
        if not path.is_file():
            raise MissingFileError(f"{index_path}: objects[{i}].grasps: {entry['grasps']} listed but missing")
        return load_grasps(path).grasps

    def __len__(self) -> int:
        return len(self.names)

    def batch(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        """Tensors of the objects ``indices`` (K,): views, centres, support_planes (NaN: none),
        ref_position/rotation/joints/mask, indices."""
        return {"views": self.views[indices], "centres": self.centres[indices],
                "support_planes": self.support_planes[indices],
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


__all__ = ["DataIndexError", "GraspDataset", "INDEX_FORMAT", "batch_indices", "read_index", "view_settings"]
