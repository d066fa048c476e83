"""The data folder index (index.json) read by train and generate --resume: checked entries, confined paths,
one-line errors naming index.json and the entry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from diffgrasp.errors import MissingFileError, PathConfinementError
from diffgrasp.grasps import Grasp, GraspFormatError, GraspSet
from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_LIMITS
from diffgrasp_training.dataset import INDEX_FORMAT, DataIndexError, GraspDataset, read_index
from diffgrasp_training.generate import object_sources
from diffgrasp_training.train_config import DatasetConfig


def _folder(root) -> dict:
    joints = {n: sum(JOINT_LIMITS[n]) / 2 for n in FINGER_JOINT_NAMES}
    grasp = Grasp(np.array([0.0, 0.0, 0.1]), np.array([0.0, 0.0, 0.0, 1.0]), joints)
    folder = root / "objects" / "obj0"
    folder.mkdir(parents=True)
    trimesh.creation.box(extents=(0.04, 0.04, 0.04)).export(folder / "mesh.obj")
    np.save(folder / "views.npy", np.full((2, 8, 8), 0.2, np.float32))
    (folder / "grasps.json").write_text(json.dumps(GraspSet("obj0", "mesh.obj", [grasp]).to_dict()))
    index = {"format": INDEX_FORMAT, "dataset": {}, "objects": [
        {"name": "obj0", "split": "train", "source": "procedural", "mesh": "objects/obj0/mesh.obj",
         "views": "objects/obj0/views.npy", "grasps": "objects/obj0/grasps.json", "centre": [0.0, 0.0, 0.02],
         "num_grasps": 1, "status": "done", "error": None}],
        "network_views": {"num_views": 2, "image_size": 8, "centre": "bbox", "camera_distance_m": 0.5,
                          "elevation_deg": 30.0, "view_half_width_m": 0.18}}
    (root / "index.json").write_text(json.dumps(index))
    return index


def test_a_valid_folder_loads(tmp_path):
    _folder(tmp_path)
    data = GraspDataset(tmp_path, "train")
    assert data.views.shape == (1, 2, 8, 8) and data.ref_mask.sum() == 1
    assert data.mesh_paths[0] == (tmp_path / "objects" / "obj0" / "mesh.obj").resolve()


@pytest.mark.parametrize("key", ["mesh", "views", "grasps"])
@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "objects/../../outside.npy"])
def test_index_paths_must_stay_inside_the_folder(tmp_path, key, path):
    root = tmp_path / "data"
    root.mkdir()
    index = _folder(root)
    index["objects"][0][key] = path
    (root / "index.json").write_text(json.dumps(index))
    with pytest.raises(PathConfinementError, match=rf"index\.json: objects\[0\]\.{key}: .*(outside|absolute)"):
        GraspDataset(root, "train")


def test_a_symlinked_views_file_leading_out_is_refused(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    _folder(root)
    views = root / "objects" / "obj0" / "views.npy"
    (tmp_path / "outside.npy").write_bytes(views.read_bytes())
    views.unlink()
    views.symlink_to(tmp_path / "outside.npy")
    with pytest.raises(PathConfinementError, match=r"objects\[0\]\.views: path 'objects/obj0/views\.npy' leads "
                                                   r"outside"):
        read_index(root / "index.json")


@pytest.mark.parametrize(("edit", "error", "message"), [
    (lambda root, ix: (root / "index.json").write_text("{"), DataIndexError,
     "not valid JSON .*delete it to regenerate"),
    (lambda root, ix: ix["objects"][0].update(centre=[0, "x", 0]), DataIndexError,
     r"objects\[0\]\.centre: expected 3"),
    (lambda root, ix: ix["objects"][0].update(split=None), DataIndexError,
     r"objects\[0\]\.split: expected a non-empty"),
    (lambda root, ix: ix.update(objects={}), DataIndexError, "objects: expected a list"),
    (lambda root, ix: ix["network_views"].pop("image_size"), DataIndexError, "network_views: expected a mapping"),
    (lambda root, ix: (root / "objects/obj0/views.npy").write_bytes(b"junk"), DataIndexError,
     r"objects/obj0/views\.npy: not a \.npy array"),
    (lambda root, ix: np.save(root / "objects/obj0/views.npy", np.zeros((3, 8, 8), np.float32)), DataIndexError,
     r"views have shape \(3, 8, 8\), the index says \(2, 8, 8\)"),
    (lambda root, ix: (root / "objects/obj0/views.npy").unlink(), MissingFileError, "listed but missing"),
    (lambda root, ix: (root / "objects/obj0/grasps.json").write_text("[]"), GraspFormatError,
     r"grasps\.json: expected a JSON"),
])
def test_bad_index_content_is_one_line(tmp_path, edit, error, message):
    index = _folder(tmp_path)
    edit(tmp_path, index)
    if (tmp_path / "index.json").read_text() != "{":
        (tmp_path / "index.json").write_text(json.dumps(index))
    with pytest.raises(error, match=message) as info:
        GraspDataset(tmp_path, "train")
    text = str(info.value)
    assert "\n" not in text and ("index.json" in text or "grasps.json" in text)


def test_splits_json_names_cannot_leave_the_objects_folder(tmp_path):
    (tmp_path / "splits.json").write_text(json.dumps({"train": ["../../etc/passwd"], "val": []}))
    with pytest.raises(DataIndexError, match=r"splits\.json: train\[0\]: expected an object name"):
        object_sources(DatasetConfig(procedural_shapes=0), tmp_path)
    (tmp_path / "splits.json").write_text(json.dumps({"train": "box"}))
    with pytest.raises(DataIndexError, match=r"splits\.json: train: expected a list"):
        object_sources(DatasetConfig(procedural_shapes=0), tmp_path)
