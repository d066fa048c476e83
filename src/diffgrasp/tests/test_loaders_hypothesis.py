"""Property tests (hypothesis) for every file loader: arbitrary bytes and structured mutations of a valid file give
either a valid object or the project's one-line error (a DiffgraspError, or FileNotFoundError for a missing file) —
never another exception type, never a multi-line message, never a hang.

Loaders: mesh files (``load_object_mesh``, what ``plan`` and ``capture --simulate`` use), grasp JSON, capture folders
(capture.json + depth/colour images), cameras.yaml, checkpoints, config YAML (PlannerConfig, TrainConfig, DemoConfig)
and the training data index. Paths read from files must stay inside the file's folder.

Bounded for CI: examples are derandomized (the same every run, no example database), each has a deadline, and the
counts are small (the module runs in well under a minute on two busy cores). ``DIFFGRASP_HYPOTHESIS_SCALE=20``
multiplies the examples for a deeper local search. Temporary folders come from ``tempfile`` inside each example
(a pytest ``tmp_path`` would be shared by all examples of one test).
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import pickle
import tempfile
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import trimesh
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from diffgrasp.config import load_config, to_dict
from diffgrasp.demo import DemoConfig
from diffgrasp.errors import DiffgraspError, DiffgraspWarning
from diffgrasp.geometry.mesh_validation import load_object_mesh
from diffgrasp.grasps import Grasp, GraspSet, load_grasps
from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_LIMITS
from diffgrasp.network import LoadedCheckpoint, NetworkConfig, load_checkpoint, save_checkpoint
from diffgrasp.network.model import GraspNet
from diffgrasp.perception.capture import Capture, read_capture, write_capture
from diffgrasp.perception.rig import RigConfig, load_rig
from diffgrasp.perception.simulate import check_simulated_rig, look_at
from diffgrasp.planning import PlannerConfig

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "config"
SCALE = max(1, int(os.environ.get("DIFFGRASP_HYPOTHESIS_SCALE", "1")))

pytestmark = pytest.mark.timeout(300)  # a hang fails the test instead of stalling CI


def loader_settings(examples: int) -> settings:
    """Reproducible, bounded settings: derandomized, no database, a deadline per example."""
    return settings(max_examples=examples * SCALE, deadline=timedelta(seconds=10), derandomize=True, database=None,
                    print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                            HealthCheck.filter_too_much])


def outcome(load: Any, *args: Any) -> Any:
    """``load(*args)``; a project error (or FileNotFoundError) must be one non-empty line and yields None. Any other
    exception propagates and fails the property. DiffgraspWarnings must be one line too."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DiffgraspWarning)
        try:
            result = load(*args)
            event(f"{getattr(load, '__name__', 'load')}: valid")
        except (DiffgraspError, FileNotFoundError) as err:
            message = str(err)
            assert message.strip() and "\n" not in message and "\r" not in message, repr(message)
            assert "Traceback" not in message and "weights_only=False" not in message, message
            event(f"{getattr(load, '__name__', 'load')}: {type(err).__name__}")
            result = None
    for w in caught:
        if issubclass(w.category, DiffgraspWarning):
            assert "\n" not in str(w.message), repr(str(w.message))
    return result


# ---------------------------------------------------------------------------------------------------- strategies
ESCAPES = ["../../../../etc/passwd", "/etc/passwd", "../outside.png", "depth/../../outside.png", "link_out.png",
           "loop.png", "~/x.png", "a/\x00b"]
SPECIALS = [math.nan, math.inf, -math.inf, 10**400, -(10**30), 1e308, -1e-300, 0, -1, 2**63, "", "1e-3", "yes",
            "nan", True, False, None, [], {}, [[[]]], "x" * 300, *ESCAPES[:4]]
SCALARS = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(max_size=12)
           | st.sampled_from(SPECIALS))
JUNK = st.recursive(SCALARS, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
                    max_leaves=8)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def mutated(draw: Any, base: Any, junk: Any = JUNK, max_ops: int = 3) -> Any:
    """A deep copy of ``base`` with 1..max_ops edits: a node replaced by junk, deleted, or a key/item added."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, max_ops))):
        path = draw(st.sampled_from(_paths(doc)))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if not path:
            if op == "replace":
                doc = draw(junk)
            continue
        parent, key = _parent(doc, path), path[-1]
        if op == "replace":
            parent[key] = draw(junk)
        elif op == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(junk)
        else:
            parent.append(draw(junk))
    return doc


@st.composite
def text_damage(draw: Any, text: str) -> str:
    """``text`` with a few characters inserted, deleted or replaced (syntax errors, odd scalars)."""
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        new = draw(st.text(alphabet=":-[]{}&*!|>'\"\t\n #%@`,?\\0123456789e.x", max_size=4))
        cut = draw(st.integers(0, 3))
        text = text[:i] + new + text[i + cut:]
    return text


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    return path


# ---------------------------------------------------------------------------------------------------- meshes
BOX = trimesh.creation.box(extents=(0.06, 0.1, 0.04))
BAD_TOKENS = ["nan", "inf", "-inf", "1e400", "abc", "", "0x10", "1e-30"]


def _obj(vertices: list[list[str]], faces: list[list[str]]) -> str:
    return "".join(f"v {' '.join(v)}\n" for v in vertices) + "".join(f"f {' '.join(f)}\n" for f in faces)


@st.composite
def obj_files(draw: Any) -> str:
    """OBJ text of a valid box with structured damage (bad numbers, indices, winding, units, extra parts)."""
    v = [[repr(float(x)) for x in row] for row in BOX.vertices]
    f = [[str(int(i) + 1) for i in row] for row in BOX.faces]
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["token", "index", "drop", "flip", "scale", "second_part", "reverse_all"]))
        if op == "token":
            v[draw(st.integers(0, len(v) - 1))][draw(st.integers(0, 2))] = draw(st.sampled_from(BAD_TOKENS))
        elif op == "index" and f:
            f[draw(st.integers(0, len(f) - 1))][draw(st.integers(0, 2))] = draw(
                st.sampled_from(["0", "-100", "999", "x", "1.5", "-1"]))
        elif op == "drop" and f:
            del f[draw(st.integers(0, len(f) - 1))]
        elif op == "flip" and f:
            k = draw(st.integers(0, len(f) - 1))
            f[k] = f[k][::-1]
        elif op == "scale":
            factor = draw(st.sampled_from([1000.0, 1e-4, -1.0, 0.0]))
            v = [[repr(float(x) * factor) if _isfloat(x) else x for x in row] for row in v]
        elif op == "second_part":
            n = len(v)
            v = v + [[repr(float(x) + 0.2) if _isfloat(x) else x for x in row] for row in v[:8]]
            f = f + [[str(int(i) + 1 + n) for i in row] for row in BOX.faces]
        elif op == "reverse_all":
            f = [row[::-1] for row in f]
    return _obj(v, f)


def _isfloat(x: str) -> bool:
    try:
        float(x)
        return True
    except ValueError:
        return False


@st.composite
def damaged_binary_mesh(draw: Any) -> tuple[str, bytes]:
    """A binary STL/PLY export of the box with bytes flipped or the file cut."""
    suffix = draw(st.sampled_from([".stl", ".ply"]))
    data = bytearray(BOX.export(file_type=suffix[1:]))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    for _ in range(draw(st.integers(0, 4))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return suffix, bytes(data)


MESH_INPUTS = (st.tuples(st.sampled_from([".obj", ".stl", ".ply", ".off", ".glb"]), st.binary(max_size=1024))
               | st.tuples(st.just(".obj"), obj_files().map(str.encode))
               | damaged_binary_mesh())


@loader_settings(150)
@given(MESH_INPUTS)
def test_mesh_loader_gives_a_valid_mesh_or_one_line_error(case):
    suffix, data = case
    with tempfile.TemporaryDirectory() as tmp:
        mesh = outcome(load_object_mesh, _write(Path(tmp) / f"object{suffix}", data))
    if mesh is not None:  # what plan and capture --simulate accept
        assert isinstance(mesh, trimesh.Trimesh) and np.isfinite(mesh.vertices).all()
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0


def test_disconnected_parts_warn_with_the_count(tmp_path):
    two = trimesh.util.concatenate([BOX, BOX.copy().apply_translation([0.2, 0, 0])])
    path = tmp_path / "two.obj"
    two.export(path)
    with pytest.warns(DiffgraspWarning, match=r"two\.obj: mesh has 2 disconnected parts"):
        mesh = load_object_mesh(path)
    assert mesh.body_count == 2  # still usable


# ---------------------------------------------------------------------------------------------------- grasp files
def _grasp(shift: float) -> Grasp:
    joints = {n: (JOINT_LIMITS[n][0] + JOINT_LIMITS[n][1]) / 2 for n in FINGER_JOINT_NAMES}
    return Grasp(np.array([0.01, -0.02, 0.1 + shift]), np.array([0.0, 0.0, 0.0, 1.0]), joints,
                 pregrasp_joints=dict(joints), squeeze_joints=dict(joints),
                 pregrasp_palm_position=np.array([0.0, 0.0, 0.12]),
                 pregrasp_palm_quaternion_xyzw=np.array([0.0, 0.0, 0.0, 1.0]),
                 metrics={"q1_exact": 0.1, "contact_count": 3, "valid": True})


GRASP_DOC = GraspSet("box", "box.obj", [_grasp(0.0), _grasp(0.01)]).to_dict()
GRASP_TEXT = json.dumps(GRASP_DOC, indent=1)


@loader_settings(200)
@given(st.binary(max_size=512) | mutated(GRASP_DOC).map(lambda d: json.dumps(d).encode())
       | text_damage(GRASP_TEXT).map(str.encode))
def test_grasp_loader_gives_valid_grasps_or_one_line_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        grasp_set = outcome(load_grasps, _write(Path(tmp) / "grasps.json", data))
    if grasp_set is not None:
        for g in grasp_set.grasps:
            assert np.isfinite(g.palm_position).all() and abs(np.linalg.norm(g.palm_quaternion_xyzw) - 1) < 1e-9
            assert set(FINGER_JOINT_NAMES) <= set(g.joints) and all(math.isfinite(v) for v in g.joints.values())
        assert math.isfinite(grasp_set.scale) and grasp_set.scale > 0


# ---------------------------------------------------------------------------------------------------- captures
def _small_capture() -> Capture:
    rng = np.random.default_rng(1)
    V, H, W = 3, 12, 16
    depth = rng.uniform(0.3, 1.2, (V, H, W)).astype(np.float32)
    K = np.array([[20.0, 0, (W - 1) / 2], [0, 20.0, (H - 1) / 2], [0, 0, 1]])
    Ts = np.stack([look_at([0.5 * np.cos(a), 0.5 * np.sin(a), 0.4], [0, 0, 0]) for a in np.linspace(0, 3, V)])
    color = rng.integers(0, 255, (V, H, W, 3), dtype=np.uint8)
    return Capture(("c0", "c1", "c2"), depth, np.stack([K] * V), Ts, np.arange(V) * 0.01, color)


CAPTURE = _small_capture()


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _npy(array: Any, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


FILE_DAMAGE = {
    "random": None,  # filled with drawn bytes
    "small_png": _png(np.full((6, 8), 700, np.uint16)),
    "eight_bit_png": _png(np.full((12, 16), 7, np.uint8)),
    "rgb_png": _png(np.zeros((12, 16, 3), np.uint8)),
    "float64_npy": _npy(np.ones((12, 16))),
    "float32_npy": _npy(np.ones((12, 16), np.float32)),
    "pickle_npy": _npy(np.array([{"a": 1}], dtype=object), allow_pickle=True),
    "npy_3d": _npy(np.ones((2, 12, 16), np.float32)),
    "empty": b"",
    "pickle": pickle.dumps({"x": 1}),
}


@st.composite
def capture_damage(draw: Any) -> dict[str, Any]:
    """What to do to a freshly written capture: capture.json edits, image path edits, image file edits."""
    doc = json.loads(json.dumps(_capture_doc()))
    return {
        "doc": draw(st.just(doc) | mutated(doc, max_ops=2)),
        "paths": draw(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["depth", "color"]),
                                         st.sampled_from(ESCAPES)), max_size=1)),
        "files": draw(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["depth", "color"]),
                                         st.sampled_from(sorted(FILE_DAMAGE) + ["delete", "link_out"]),
                                         st.binary(max_size=256)), max_size=2)),
    }


_DOC_CACHE: dict[str, Any] = {}


def _capture_doc() -> dict[str, Any]:
    if "doc" not in _DOC_CACHE:
        with tempfile.TemporaryDirectory() as tmp:
            _DOC_CACHE["doc"] = json.loads(write_capture(Path(tmp) / "cap", CAPTURE).read_text())
    return _DOC_CACHE["doc"]


def _outside_links(root: Path, sub: str = "depth") -> None:
    """An outside file, a symlink to it and a symlink loop (in ``root`` and ``root/sub``): targets for the escape
    paths."""
    (root.parent / "outside.png").write_bytes(_png(np.full((12, 16), 500, np.uint16)))
    (root / sub).mkdir(parents=True, exist_ok=True)
    for folder in (root, root / sub):
        (folder / "link_out.png").symlink_to(root.parent / "outside.png")
        (folder / "loop.png").symlink_to(folder / "loop.png")


@loader_settings(150)
@given(capture_damage())
def test_capture_reader_gives_a_capture_or_one_line_error(damage):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cap"
        write_capture(root, CAPTURE)
        _outside_links(root)
        doc = damage["doc"]
        cams = doc.get("cameras") if isinstance(doc, dict) else None
        for i, key, value in damage["paths"]:
            if isinstance(cams, list) and i < len(cams) and isinstance(cams[i], dict):
                cams[i][key] = value
        _write(root / "capture.json", json.dumps(doc))
        for i, key, op, data in damage["files"]:
            target = root / key / f"c{i}.png"
            target.unlink(missing_ok=True)
            if op == "link_out":
                target.symlink_to(root.parent / "outside.png")
            elif op != "delete":
                _write(target, data if op == "random" else FILE_DAMAGE[op])
        capture = outcome(read_capture, root)
        if capture is not None:
            used = [c.get(k) for c in cams for k in ("depth", "color")] if isinstance(cams, list) else []
            assert not _escapes(root, used), "a path outside the capture folder was read"
            outcome(capture.validate)
            assert capture.depth.shape[0] == len(capture.names) and capture.depth.dtype == np.float32


def _escapes(root: Path, values: list[Any]) -> bool:
    """Test oracle: whether any of the path strings ``values`` (relative to ``root``) resolves outside ``root``."""
    base = os.path.realpath(root)
    for v in values:
        if isinstance(v, str) and v and "\x00" not in v:
            real = os.path.realpath(os.path.join(root, v))
            if real != base and not real.startswith(base + os.sep):
                return True
    return False


# ---------------------------------------------------------------------------------------------------- cameras.yaml
RIG_DOCS = [yaml.safe_load((CONFIG / name).read_text()) for name in ("cameras_sim.yaml", "cameras.yaml")]
RIG_TEXT = (CONFIG / "cameras_sim.yaml").read_text()


@loader_settings(200)
@given(st.binary(max_size=512) | st.sampled_from(RIG_DOCS).flatmap(mutated).map(yaml.safe_dump).map(str.encode)
       | text_damage(RIG_TEXT).map(str.encode))
def test_rig_loader_gives_a_rig_or_one_line_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        rig = outcome(load_rig, _write(Path(tmp) / "cameras.yaml", data))
    if rig is not None:
        assert isinstance(rig, RigConfig) and rig.cameras
        for cam in rig.cameras:
            T = outcome(cam.camera_to_world)
            assert T is not None and np.isfinite(T).all()
            outcome(cam.intrinsics_matrix)  # 'from_device': one-line "intrinsics missing" error
        outcome(check_simulated_rig, rig)


# ---------------------------------------------------------------------------------------------------- checkpoints
SMALL_NET = NetworkConfig(num_grasps=2, channels=(4, 4), image_size=16, feature_dim=8, hidden_dim=8)
_CKPT: dict[str, Any] = {}


def _checkpoint_bytes() -> bytes:
    if "bytes" not in _CKPT:
        torch.manual_seed(0)
        with tempfile.TemporaryDirectory() as tmp:
            path = save_checkpoint(Path(tmp) / "net.pt", GraspNet(SMALL_NET), metadata={"note": "x"},
                                   extra={"step": 1})
            _CKPT["bytes"] = path.read_bytes()
    return _CKPT["bytes"]


@st.composite
def checkpoint_files(draw: Any) -> bytes:
    """Random bytes; the valid file cut or with bytes flipped; or its payload edited and saved again (optionally
    with digest, shapes and hash recomputed so the deeper checks run)."""
    kind = draw(st.sampled_from(["random", "cut", "flip", "payload", "payload", "consistent"]))
    if kind == "random":
        return draw(st.binary(max_size=1024))
    data = bytearray(_checkpoint_bytes())
    if kind == "cut":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    from diffgrasp.network.checkpoint import architecture_hash, state_digest

    payload = torch.load(io.BytesIO(bytes(data)), weights_only=True)
    plain = {k: v for k, v in payload.items() if k != "state_dict"}
    plain = draw(mutated(plain, max_ops=2))
    if not isinstance(plain, dict):
        plain = {"junk": plain}
    state = dict(payload["state_dict"])
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(state)))
        state[name] = draw(st.sampled_from([torch.full_like(state[name], math.nan), torch.zeros(3),
                                            state[name].double(), state[name].to(torch.int64)])
                           | JUNK)
    plain["state_dict"] = state
    if kind == "consistent" and isinstance(plain.get("config"), dict):
        try:
            from diffgrasp.config import from_dict

            shapes = {k: list(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
            plain.update(digest=state_digest({k: v for k, v in state.items() if isinstance(v, torch.Tensor)}),
                         shapes=shapes)
            plain["architecture_hash"] = architecture_hash(from_dict(NetworkConfig, plain["config"]), shapes)
        except (ValueError, TypeError, AttributeError):
            pass  # the config itself is bad: the loader must say so
    buf = io.BytesIO()
    torch.save(plain, buf)
    return buf.getvalue()


@loader_settings(120)
@given(checkpoint_files())
def test_checkpoint_loader_gives_a_network_or_one_line_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        loaded = outcome(load_checkpoint, _write(Path(tmp) / "net.pt", data))
    if loaded is not None:
        assert isinstance(loaded, LoadedCheckpoint) and not loaded.model.training
        assert all(torch.isfinite(p).all() for p in loaded.model.parameters())


# ---------------------------------------------------------------------------------------------------- config YAML
def _config_classes() -> list[tuple[type, str]]:
    classes = [(PlannerConfig, "planner.yaml"), (DemoConfig, "demo.yaml")]
    try:
        from diffgrasp_training.train_config import TrainConfig
    except ImportError:  # the training package is optional for the core's tests
        return classes
    return classes + [(TrainConfig, "training.yaml")]


CONFIGS = _config_classes()
CONFIG_DOCS = {cls: yaml.safe_load((CONFIG / name).read_text()) for cls, name in CONFIGS}


@st.composite
def config_files(draw: Any) -> tuple[type, bytes]:
    cls, name = draw(st.sampled_from(CONFIGS))
    kind = draw(st.sampled_from(["bytes", "mutated", "mutated", "text"]))
    if kind == "bytes":
        return cls, draw(st.binary(max_size=256))
    if kind == "text":
        return cls, draw(text_damage((CONFIG / name).read_text())).encode()
    return cls, yaml.safe_dump(draw(mutated(CONFIG_DOCS[cls]))).encode()


@loader_settings(240)
@given(config_files())
def test_config_loader_gives_a_config_or_one_line_error(case):
    cls, data = case
    with tempfile.TemporaryDirectory() as tmp:
        config = outcome(load_config, cls, _write(Path(tmp) / "config.yaml", data))
    if config is not None:
        assert isinstance(config, cls)


def _float_leaves(doc: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in _float_leaves(v, prefix + (k,))]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in _float_leaves(v, prefix + (i,))]
    return [prefix] if isinstance(doc, float) and math.isfinite(doc) else []


@loader_settings(40)
@given(st.sampled_from(CONFIGS).flatmap(lambda c: st.tuples(st.just(c[0]), st.lists(
    st.sampled_from(_float_leaves(CONFIG_DOCS[c[0]])), min_size=1, max_size=6, unique=True))))
def test_floats_written_as_exponent_strings_load_as_floats(case):
    """PyYAML reads ``1e-3`` (no dot) as a string: the loader coerces it, so the config equals the original."""
    cls, leaves = case
    doc = copy.deepcopy(CONFIG_DOCS[cls])
    for path in leaves:
        parent = _parent(doc, path)
        parent[path[-1]] = f"{parent[path[-1]]:e}".replace(".000000", "")
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp) / "config.yaml", yaml.safe_dump(doc))
        got = to_dict(load_config(cls, path))
    want = to_dict(load_config(cls, CONFIG / dict(CONFIGS)[cls]))
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True) or _close(got, want)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return math.isclose(a, b, rel_tol=1e-6) and type(b) is float
    return a == b


# ---------------------------------------------------------------------------------------------------- training index
def _index_folder(root: Path) -> dict[str, Any]:
    """A tiny valid data folder (2 views of 8x8 per object, one reference grasp) and its index."""
    views = {"num_views": 2, "image_size": 8, "centre": "bbox", "camera_distance_m": 0.5, "elevation_deg": 30.0,
             "view_half_width_m": 0.18}
    objects = []
    for i, (name, split, status) in enumerate([("obj0", "train", "done"), ("obj1", "val", "done"),
                                               ("obj2", "train", "failed")]):
        folder = root / "objects" / name
        folder.mkdir(parents=True)
        BOX.export(folder / "mesh.obj")
        np.save(folder / "views.npy", np.full((2, 8, 8), 0.1 * (i + 1), np.float32))
        (folder / "grasps.json").write_text(json.dumps(GraspSet(name, "mesh.obj", [_grasp(0.0)]).to_dict()))
        objects.append({"name": name, "split": split, "source": "procedural", "mesh": f"objects/{name}/mesh.obj",
                        "views": f"objects/{name}/views.npy", "grasps": f"objects/{name}/grasps.json",
                        "centre": [0.0, 0.0, 0.02], "num_grasps": 1, "status": status, "error": None})
    return {"format": "diffgrasp.training-data/1", "network_views": views, "dataset": {}, "objects": objects}


_INDEX: dict[str, Any] = {}


def _index_doc() -> dict[str, Any]:
    if "doc" not in _INDEX:
        with tempfile.TemporaryDirectory() as tmp:
            _INDEX["doc"] = _index_folder(Path(tmp))
    return copy.deepcopy(_INDEX["doc"])


@st.composite
def index_damage(draw: Any) -> dict[str, Any]:
    base = _index_doc()
    return {
        "doc": draw(st.just(base) | mutated(base, max_ops=2)),
        "paths": draw(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["mesh", "views", "grasps"]),
                                         st.sampled_from(ESCAPES)), max_size=1)),
        "views": draw(st.none() | st.sampled_from(["random", "float64_npy", "pickle_npy", "npy_3d", "empty",
                                                    "delete", "link_out", "nan"])),
        "bytes": draw(st.binary(max_size=128)),
    }


@loader_settings(120)
@given(index_damage())
def test_training_index_gives_a_dataset_or_one_line_error(damage):
    dataset = pytest.importorskip("diffgrasp_training.dataset")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        root.mkdir()
        _index_folder(root)
        _outside_links(root, "objects/obj0")
        doc = damage["doc"]
        objects = doc.get("objects") if isinstance(doc, dict) else None
        for i, key, value in damage["paths"]:
            if isinstance(objects, list) and i < len(objects) and isinstance(objects[i], dict):
                objects[i][key] = value
        _write(root / "index.json", json.dumps(doc))
        views = root / "objects" / "obj0" / "views.npy"
        op = damage["views"]
        if op is not None:
            views.unlink()
            if op == "link_out":
                views.symlink_to(root.parent / "outside.png")
            elif op == "nan":
                np.save(views, np.full((2, 8, 8), np.nan, np.float32))
            elif op != "delete":
                _write(views, damage["bytes"] if op == "random" else FILE_DAMAGE[op])
        index = outcome(dataset.read_index, root / "index.json")
        done = [e for e in objects if isinstance(e, dict) and e.get("status") == "done"] if isinstance(
            objects, list) else []
        if index is not None:
            paths = [e.get(k) for e in done for k in ("mesh", "views", "grasps")]
            assert not _escapes(root, paths), "index.json names a path outside the data folder"
        data = outcome(dataset.GraspDataset, root, "train")
        if data is not None:
            assert index is not None
            assert data.views.shape[1:] == (2, 8, 8) and torch.isfinite(data.views).all()
            train = [e for e in done if e.get("split") == "train"]
            assert not _escapes(root, [root / e["views"] for e in train]), "views read from outside the folder"
