"""Hostile input through every command line (issue 25): one table, each row a bad file, number or path.

Every row must exit with status 2 and print exactly one line on stderr, ``PROG CMD: error: …``, that names the flag or
the file (the row's ``names`` pattern), without a traceback, and leave the files of its folder exactly as they were
(no output written, no existing output touched). No row starts real work (planning, fusion, physics, training): each
is refused by a check that runs before it. Rows run in-process through the ``main`` functions; a few also run through
the installed entry points to prove those.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import trimesh
import yaml

from diffgrasp import cli
from diffgrasp_training import cli as train_cli

REPO_ROOT = Path(__file__).resolve().parents[3]
PRECIOUS = b"precious bytes that no rejected command may touch\n"


@dataclasses.dataclass(frozen=True)
class Row:
    """argv (without the program) built from the prepared files; ``names``: regex the error line must match."""

    argv: Callable[[SimpleNamespace], list[str]]
    names: str
    train: bool = False  # diffgrasp-train instead of diffgrasp
    forbid: str | None = None  # regex the error line must not match


def _box() -> trimesh.Trimesh:
    return trimesh.creation.box(extents=(0.05, 0.05, 0.08))


def _write_capture(folder: Path) -> Path:
    """A tiny valid capture folder: one 4×4 depth view, identity pose."""
    from diffgrasp.perception.capture import Capture, write_capture

    K = np.array([[4.0, 0, 1.5], [0, 4.0, 1.5], [0, 0, 1]])
    write_capture(folder, Capture(("cam0",), np.full((1, 4, 4), 0.5, np.float32), K[None], np.eye(4)[None],
                                  np.zeros(1)))
    return folder


def _edit_capture(folder: Path, **entry) -> Path:
    doc = json.loads((folder / "capture.json").read_text())
    doc["cameras"][0].update(entry)
    (folder / "capture.json").write_text(json.dumps(doc))
    return folder


@pytest.fixture
def f(tmp_path: Path) -> SimpleNamespace:
    """The hostile inputs, written into tmp_path (every row's folder snapshot covers all of them)."""
    p = SimpleNamespace(dir=tmp_path)
    box = _box()
    p.box = tmp_path / "box.obj"
    box.export(p.box)
    p.empty_mesh = tmp_path / "empty.obj"
    p.empty_mesh.write_text("")
    p.not_mesh = tmp_path / "notmesh.obj"
    p.not_mesh.write_bytes(os.urandom(512))
    p.nan_mesh = tmp_path / "nan.obj"
    vertices = [" ".join(map(str, v)) for v in box.vertices]
    vertices[0] = "nan 0 0"
    p.nan_mesh.write_text("".join(f"v {v}\n" for v in vertices) + "".join(f"f {a + 1} {b + 1} {c + 1}\n"
                                                                         for a, b, c in box.faces))
    holey = _box()
    holey.update_faces(np.arange(len(holey.faces)) != 0)
    p.open_mesh = tmp_path / "open.obj"
    holey.export(p.open_mesh)
    p.mm_mesh = tmp_path / "mm.obj"
    _box().apply_scale(1000.0).export(p.mm_mesh)
    inverted = _box()
    inverted.invert()
    p.inverted_mesh = tmp_path / "inverted.obj"
    inverted.export(p.inverted_mesh)
    p.mesh_dir = tmp_path / "folder.obj"
    p.mesh_dir.mkdir()
    p.missing = tmp_path / "nope.obj"

    header = {"format": "diffgrasp.grasps/1", "hand": "shadow_right", "object": {"name": "box"}}
    p.no_grasps = tmp_path / "no_grasps.json"
    p.no_grasps.write_text(json.dumps({**header, "grasps": []}))
    p.not_json = tmp_path / "notjson.json"
    p.not_json.write_text("{ this is not json")
    p.wrong_format = tmp_path / "wrongformat.json"
    p.wrong_format.write_text(json.dumps({**header, "format": "other/9", "grasps": []}))

    p.out_json = tmp_path / "existing.json"  # pre-existing outputs: must stay byte-identical
    p.out_json.write_bytes(PRECIOUS)
    p.out_npy = tmp_path / "existing.npy"
    p.out_npy.write_bytes(PRECIOUS)
    p.out_dir = tmp_path / "existing_dir"
    p.out_dir.mkdir()
    p.new_json = tmp_path / "new" / "grasps.json"  # must not be created

    p.capture = _write_capture(tmp_path / "capture")
    p.no_capture = tmp_path / "no_capture"
    p.no_capture.mkdir()
    p.broken_capture = _write_capture(tmp_path / "broken_capture")
    (p.broken_capture / "capture.json").write_text('{"format": "diffgrasp.capture/1", "cameras": [')
    p.escaping_capture = _edit_capture(_write_capture(tmp_path / "escaping_capture"),
                                       depth="../../../../../../../../etc/passwd")
    p.not_image_capture = _write_capture(tmp_path / "not_image_capture")
    (p.not_image_capture / "depth" / "cam0.png").write_bytes(b"this is not a PNG image at all" * 10)

    rig = yaml.safe_load((REPO_ROOT / "config" / "cameras_sim.yaml").read_text())
    p.rig_not_mapping = tmp_path / "rig_list.yaml"
    p.rig_not_mapping.write_text("- just\n- a list\n")
    del rig["cameras"][0]["intrinsics"]
    p.rig_no_intrinsics = tmp_path / "rig_no_intrinsics.yaml"
    p.rig_no_intrinsics.write_text(yaml.safe_dump(rig))

    p.checkpoint = tmp_path / "random.pt"
    p.checkpoint.write_bytes(np.random.default_rng(0).bytes(4096))

    p.cfg_unknown = tmp_path / "cfg_unknown_key.yaml"
    p.cfg_unknown.write_text("no_such_setting: 3\n")
    p.cfg_wrong_type = tmp_path / "cfg_wrong_type.yaml"
    p.cfg_wrong_type.write_text("torch_threads: many\n")
    p.cfg_not_mapping = tmp_path / "cfg_list.yaml"
    p.cfg_not_mapping.write_text("- 1\n- 2\n")
    p.train_cfg_wrong_type = tmp_path / "train_wrong_type.yaml"
    p.train_cfg_wrong_type.write_text("steps: lots\n")
    p.data = tmp_path / "data"
    p.data.mkdir()
    return p


def S(x: object) -> str:
    return str(x)


def _cuda_available() -> bool:
    import torch
    return torch.cuda.is_available()


NO_CUDA = pytest.mark.skipif(_cuda_available(), reason="checks the CPU-only torch")

# One row per hostile input: id → Row. ``{f.x}`` are the prepared files of the fixture above.
ROWS = [
    # ---- plan: meshes
    pytest.param(Row(lambda f: ["plan", S(f.missing), "-o", S(f.out_json)], r"nope\.obj"), id="plan-mesh-missing"),
    pytest.param(Row(lambda f: ["plan", S(f.empty_mesh), "-o", S(f.out_json)], r"empty\.obj"), id="plan-mesh-empty"),
    pytest.param(Row(lambda f: ["plan", S(f.not_mesh), "-o", S(f.out_json)], r"notmesh\.obj"),
                 id="plan-mesh-random-bytes"),
    pytest.param(Row(lambda f: ["plan", S(f.nan_mesh), "-o", S(f.out_json)], r"nan\.obj.*(NaN|nan)"),
                 id="plan-mesh-nan-vertex"),
    pytest.param(Row(lambda f: ["plan", S(f.open_mesh), "-o", S(f.out_json)], r"open\.obj.*watertight.*--repair"),
                 id="plan-mesh-open"),
    pytest.param(Row(lambda f: ["plan", S(f.mm_mesh), "-o", S(f.out_json)], r"mm\.obj.*--scale 0\.001"),
                 id="plan-mesh-millimetres"),
    pytest.param(Row(lambda f: ["plan", S(f.inverted_mesh), "-o", S(f.out_json)], r"inverted\.obj.*--repair"),
                 id="plan-mesh-inverted"),
    pytest.param(Row(lambda f: ["plan", S(f.mesh_dir), "-o", S(f.out_json)], r"folder\.obj.*directory"),
                 id="plan-mesh-is-directory"),
    # ---- plan: numbers, device
    pytest.param(Row(lambda f: ["plan", S(f.box), "--seed", "-1", "-o", S(f.out_json)], r"--seed.*≥ 0.*-1"),
                 id="plan-seed-negative"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "-k", "0", "-o", S(f.out_json)], r"argument -k"), id="plan-k-zero"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "-k", "many", "-o", S(f.out_json)], r"argument -k.*integer"),
                 id="plan-k-not-a-number"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "--time-budget", "-1", "-o", S(f.out_json)], r"--time-budget"),
                 id="plan-time-budget-negative"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "--time-budget", "nan", "-o", S(f.out_json)],
                     r"--time-budget.*finite"), id="plan-time-budget-nan"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "--scale", "0", "-o", S(f.out_json)], r"--scale"),
                 id="plan-scale-zero"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "--scale", "inf", "-o", S(f.out_json)], r"--scale.*finite"),
                 id="plan-scale-inf"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "--device", "cuda", "-o", S(f.out_json)], r"--device.*CUDA"),
                 id="plan-device-cuda-on-cpu-torch", marks=NO_CUDA),
    pytest.param(Row(lambda f: ["plan", S(f.box), "--device", "cuda:99", "-o", S(f.out_json)], r"--device.*cuda:99"),
                 id="plan-device-cuda-99"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "--device", "banana", "-o", S(f.out_json)], r"--device.*banana"),
                 id="plan-device-unknown"),
    # ---- plan: outputs
    pytest.param(Row(lambda f: ["plan", S(f.box), "-o", S(f.out_dir)], r"-o .*existing_dir.*directory"),
                 id="plan-output-is-directory"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "-o", "/proc/x.json"], r"-o /proc/x\.json"),
                 id="plan-output-unwritable-proc"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "-o", S(f.dir / "grasps.txt")], r"-o .*grasps\.txt.*\.json"),
                 id="plan-output-unknown-suffix"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "-o", S(f.out_json / "x.json")], r"-o .*existing\.json"),
                 id="plan-output-parent-is-file"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "-o", S(f.new_json), "--render", S(f.dir / "g.jpg")],
                     r"--render .*g\.jpg.*\.png"), id="plan-render-unknown-suffix"),
    # ---- plan: configuration and checkpoint
    pytest.param(Row(lambda f: ["plan", S(f.box), "-o", S(f.out_json), "--config", S(f.cfg_unknown)],
                     r"cfg_unknown_key\.yaml.*no_such_setting"), id="plan-config-unknown-key"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "-o", S(f.out_json), "--config", S(f.cfg_wrong_type)],
                     r"cfg_wrong_type\.yaml.*torch_threads"), id="plan-config-wrong-type"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "-o", S(f.out_json), "--config", S(f.cfg_not_mapping)],
                     r"cfg_list\.yaml.*mapping"), id="plan-config-not-a-mapping"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "-o", S(f.out_json), "--config", S(f.dir / "none.yaml")],
                     r"--config.*none\.yaml"), id="plan-config-missing"),
    pytest.param(Row(lambda f: ["plan", S(f.box), "-o", S(f.out_json), "--network-checkpoint", S(f.checkpoint)],
                     r"random\.pt", forbid=r"weights_only|unsafe|trust"), id="plan-checkpoint-random-bytes"),
    # ---- evaluate
    pytest.param(Row(lambda f: ["evaluate", S(f.missing), S(f.no_grasps), "-o", S(f.out_json)], r"nope\.obj"),
                 id="evaluate-mesh-missing"),
    pytest.param(Row(lambda f: ["evaluate", S(f.nan_mesh), S(f.no_grasps), "-o", S(f.out_json)], r"nan\.obj"),
                 id="evaluate-mesh-nan-vertex"),
    pytest.param(Row(lambda f: ["evaluate", S(f.not_mesh), S(f.no_grasps), "-o", S(f.out_json)], r"notmesh\.obj"),
                 id="evaluate-mesh-random-bytes"),
    pytest.param(Row(lambda f: ["evaluate", S(f.box), S(f.not_json), "-o", S(f.out_json)], r"notjson\.json.*JSON"),
                 id="evaluate-grasps-not-json"),
    pytest.param(Row(lambda f: ["evaluate", S(f.box), S(f.wrong_format), "-o", S(f.out_json)],
                     r"wrongformat\.json.*format"), id="evaluate-grasps-wrong-format"),
    pytest.param(Row(lambda f: ["evaluate", S(f.box), S(f.no_grasps), "--workers", "0"], r"--workers"),
                 id="evaluate-workers-zero"),
    pytest.param(Row(lambda f: ["evaluate", S(f.box), S(f.no_grasps), "--friction", "nan"], r"--friction"),
                 id="evaluate-friction-nan"),
    pytest.param(Row(lambda f: ["evaluate", S(f.box), S(f.no_grasps), "-o", S(f.out_dir)], r"-o .*existing_dir"),
                 id="evaluate-output-is-directory"),
    pytest.param(Row(lambda f: ["evaluate", S(f.box), S(f.no_grasps), "--render", S(f.out_json)],
                     r"--render .*existing\.json"), id="evaluate-render-dir-is-file"),
    pytest.param(Row(lambda f: ["evaluate", S(f.box), S(f.no_grasps), "--config", S(f.cfg_not_mapping)],
                     r"cfg_list\.yaml"), id="evaluate-config-not-a-mapping"),
    # ---- export
    pytest.param(Row(lambda f: ["export", S(f.no_grasps), "-o", S(f.out_json)], r"no_grasps\.json.*no grasps"),
                 id="export-empty-list-over-existing"),
    pytest.param(Row(lambda f: ["export", S(f.not_json), "-o", S(f.out_npy)], r"notjson\.json"),
                 id="export-grasps-not-json"),
    pytest.param(Row(lambda f: ["export", S(f.wrong_format), "-o", S(f.out_npy)], r"wrongformat\.json"),
                 id="export-grasps-wrong-format"),
    pytest.param(Row(lambda f: ["export", S(f.no_grasps), "-o", S(f.out_dir)], r"-o .*existing_dir"),
                 id="export-output-is-directory"),
    pytest.param(Row(lambda f: ["export", S(f.no_grasps), "-o", S(f.dir / "q.txt")], r"-o .*q\.txt"),
                 id="export-output-unknown-suffix"),
    pytest.param(Row(lambda f: ["export", S(f.no_grasps), "-o", "/proc/q.npy"], r"-o /proc/q\.npy"),
                 id="export-output-unwritable-proc"),
    # ---- capture
    pytest.param(Row(lambda f: ["capture", "--simulate", S(f.box), "-o", S(f.out_json)], r"-o .*existing\.json"),
                 id="capture-output-is-file"),
    pytest.param(Row(lambda f: ["capture", "--simulate", S(f.box), "-o", "/proc/cap"], r"-o /proc/cap"),
                 id="capture-output-unwritable-proc"),
    pytest.param(Row(lambda f: ["capture", "--simulate", S(f.box), "-o", S(f.dir / "c"), "--frames", "0"],
                     r"--frames"), id="capture-frames-zero"),
    pytest.param(Row(lambda f: ["capture", "--simulate", S(f.box), "-o", S(f.dir / "c"), "--seed", "-1"],
                     r"--seed"), id="capture-seed-negative"),
    pytest.param(Row(lambda f: ["capture", "--simulate", S(f.box), "-o", S(f.dir / "c"), "--noise-config",
                                S(f.cfg_unknown)], r"--noise-config.*cfg_unknown_key\.yaml|cfg_unknown_key\.yaml.*"
                                                   r"no_such_setting"), id="capture-noise-config-unknown-key"),
    pytest.param(Row(lambda f: ["capture", "--simulate", S(f.missing), "-o", S(f.dir / "c")],
                     r"--simulate.*nope\.obj"), id="capture-mesh-missing"),
    pytest.param(Row(lambda f: ["capture", "--simulate", S(f.nan_mesh), "-o", S(f.capture)], r"nan\.obj"),
                 id="capture-mesh-nan-over-existing"),
    pytest.param(Row(lambda f: ["capture", "--simulate", S(f.inverted_mesh), "-o", S(f.dir / "c")],
                     r"inverted\.obj"), id="capture-mesh-inverted"),
    pytest.param(Row(lambda f: ["capture", "--simulate", S(f.box), "-o", S(f.dir / "c"), "--cameras",
                                S(f.rig_not_mapping)], r"rig_list\.yaml"), id="capture-cameras-not-a-mapping"),
    pytest.param(Row(lambda f: ["capture", "--simulate", S(f.box), "-o", S(f.dir / "c"), "--cameras",
                                S(f.rig_no_intrinsics)], r"intrinsics missing.*sim_cam0"),
                 id="capture-cameras-no-intrinsics"),
    pytest.param(Row(lambda f: ["capture", "--replay", S(f.missing), "-o", S(f.dir / "c")], r"--replay.*nope\.obj"),
                 id="capture-replay-missing"),
    # ---- fuse
    pytest.param(Row(lambda f: ["fuse", S(f.no_capture), "-o", S(f.dir / "m.obj")],
                     r"(?=.*no_capture)(?=.*capture\.json)"), id="fuse-no-capture-json"),
    pytest.param(Row(lambda f: ["fuse", S(f.broken_capture), "-o", S(f.dir / "m.obj")], r"broken_capture.*JSON"),
                 id="fuse-capture-json-broken"),
    pytest.param(Row(lambda f: ["fuse", S(f.escaping_capture), "-o", S(f.dir / "m.obj")],
                     r"escaping_capture.*outside"), id="fuse-depth-path-escapes-folder"),
    pytest.param(Row(lambda f: ["fuse", S(f.not_image_capture), "-o", S(f.dir / "m.obj")], r"cam0"),
                 id="fuse-depth-not-an-image"),
    pytest.param(Row(lambda f: ["fuse", S(f.capture), "-o", S(f.dir / "m.obj"), "--voxel", "0"], r"--voxel"),
                 id="fuse-voxel-zero"),
    pytest.param(Row(lambda f: ["fuse", S(f.capture), "-o", S(f.out_dir)], r"-o .*existing_dir"),
                 id="fuse-output-is-directory"),
    pytest.param(Row(lambda f: ["fuse", S(f.capture), "-o", S(f.dir / "m.glb")], r"-o .*m\.glb.*\.obj"),
                 id="fuse-output-unknown-suffix"),
    pytest.param(Row(lambda f: ["fuse", S(f.capture), "-o", S(f.dir / "m.obj"), "--config", S(f.cfg_unknown)],
                     r"cfg_unknown_key\.yaml"), id="fuse-config-unknown-key"),
    # ---- demo
    pytest.param(Row(lambda f: ["demo", "--object", S(f.missing), "--output-dir", S(f.dir / "d")],
                     r"--object.*nope\.obj"), id="demo-object-missing"),
    pytest.param(Row(lambda f: ["demo", "--object", S(f.open_mesh), "--output-dir", S(f.dir / "d")], r"open\.obj"),
                 id="demo-object-open"),
    pytest.param(Row(lambda f: ["demo", "--seed", "-1", "--output-dir", S(f.dir / "d")], r"--seed"),
                 id="demo-seed-negative"),
    pytest.param(Row(lambda f: ["demo", "--output-dir", S(f.out_json)], r"--output-dir .*existing\.json"),
                 id="demo-output-dir-is-file"),
    pytest.param(Row(lambda f: ["demo", "--config", S(f.cfg_not_mapping), "--output-dir", S(f.dir / "d")],
                     r"cfg_list\.yaml"), id="demo-config-not-a-mapping"),
    # ---- render-hand
    pytest.param(Row(lambda f: ["render-hand", "--size", "0", "-o", S(f.dir / "h.png")], r"--size"),
                 id="render-size-zero"),
    pytest.param(Row(lambda f: ["render-hand", "--size", "100000", "-o", S(f.dir / "h.png")], r"--size"),
                 id="render-size-huge"),
    pytest.param(Row(lambda f: ["render-hand", "-o", S(f.dir / "h.jpg")], r"-o .*h\.jpg.*\.png"),
                 id="render-output-unknown-suffix"),
    pytest.param(Row(lambda f: ["render-hand", "-o", S(f.out_dir)], r"-o .*existing_dir"),
                 id="render-output-is-directory"),
    # ---- diffgrasp-train
    pytest.param(Row(lambda f: ["generate", S(f.dir / "g"), "--workers", "0"], r"--workers", train=True),
                 id="train-generate-workers-zero"),
    pytest.param(Row(lambda f: ["generate", S(f.dir / "g"), "--procedural", "-3"], r"--procedural", train=True),
                 id="train-generate-procedural-negative"),
    pytest.param(Row(lambda f: ["generate", S(f.dir / "g"), "--objects", S(f.dir / "none")], r"--objects.*none",
                     train=True), id="train-generate-objects-missing"),
    pytest.param(Row(lambda f: ["generate", S(f.out_json)], r"existing\.json", train=True),
                 id="train-generate-out-is-file"),
    pytest.param(Row(lambda f: ["generate", S(f.dir / "g"), "--device", "gpu7"], r"--device", train=True),
                 id="train-generate-device-unknown"),
    pytest.param(Row(lambda f: ["train", S(f.data), S(f.dir / "r"), "--lr", "nan"], r"--lr", train=True),
                 id="train-lr-nan"),
    pytest.param(Row(lambda f: ["train", S(f.data), S(f.dir / "r"), "--steps", "0"], r"--steps", train=True),
                 id="train-steps-zero"),
    pytest.param(Row(lambda f: ["train", S(f.data), S(f.dir / "r"), "--batch-size", "-4"], r"--batch-size",
                     train=True), id="train-batch-size-negative"),
    pytest.param(Row(lambda f: ["train", S(f.data), S(f.dir / "r"), "--config", S(f.train_cfg_wrong_type)],
                     r"train_wrong_type\.yaml.*steps", train=True), id="train-config-wrong-type"),
    pytest.param(Row(lambda f: ["train", S(f.data), S(f.dir / "r"), "--network-config", S(f.cfg_not_mapping)],
                     r"cfg_list\.yaml", train=True), id="train-network-config-not-a-mapping"),
    pytest.param(Row(lambda f: ["train", S(f.data), S(f.out_json)], r"existing\.json", train=True),
                 id="train-out-is-file"),
    # ---- the entry point itself
    pytest.param(Row(lambda f: ["plna", S(f.box)], r"plna"), id="unknown-command"),
]

#: Rows also run through the installed console scripts (a real process: entry point, exit status, stderr).
SUBPROCESS_ROWS = ("plan-seed-negative", "plan-output-is-directory", "capture-output-is-file",
                   "export-empty-list-over-existing", "train-lr-nan")


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` → its bytes (None for folders)."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


def _check(row: Row, argv: list[str], rc: int, err: str, before: dict, after: dict) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, f"{argv}: exit status {rc}, stderr {err!r}"
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"{argv}: expected one line on stderr, got {lines}"
    prog = "diffgrasp-train" if row.train else "diffgrasp"
    assert re.match(rf"{prog}( [a-z-]+)?: error: ", lines[0]), lines[0]
    assert re.search(row.names, lines[0]), f"{lines[0]!r} does not match {row.names!r}"
    if row.forbid:
        assert not re.search(row.forbid, lines[0]), lines[0]
    assert after == before, f"{argv}: files changed: {sorted(set(after) ^ set(before)) or 'contents'}"


@pytest.mark.parametrize("row", ROWS)
def test_hostile_input_is_one_line_exit_2(row: Row, f: SimpleNamespace, capsys, monkeypatch) -> None:
    monkeypatch.chdir(REPO_ROOT)  # the default rig paths (config/...) as the README runs the commands
    monkeypatch.setenv("DIFFGRASP_CACHE", str(f.dir.parent / "cache"))
    argv = row.argv(f)
    before = _snapshot(f.dir)
    capsys.readouterr()
    try:
        rc = (train_cli.main if row.train else cli.main)(argv)
    except SystemExit as exit_:  # argparse usage errors
        rc = exit_.code
    err = capsys.readouterr().err
    _check(row, argv, rc, err, before, _snapshot(f.dir))


@pytest.mark.parametrize("row", [r for r in ROWS if r.id in SUBPROCESS_ROWS])
def test_hostile_input_through_the_entry_point(row: Row, f: SimpleNamespace) -> None:
    exe = Path(sys.executable).with_name("diffgrasp-train" if row.train else "diffgrasp")
    if not exe.exists():
        pytest.skip(f"{exe.name} is not installed next to {sys.executable}")
    argv = row.argv(f)
    before = _snapshot(f.dir)
    proc = subprocess.run([str(exe), *argv], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
                          env={**os.environ, "DIFFGRASP_CACHE": str(f.dir.parent / "cache")})
    _check(row, argv, proc.returncode, proc.stderr, before, _snapshot(f.dir))


def test_the_table_covers_every_command() -> None:
    assert len(ROWS) >= 40
    commands = {p.id.split("-")[0] for p in ROWS} | {p.id.split("-")[1] for p in ROWS if p.values[0].train}
    assert {"plan", "evaluate", "export", "capture", "fuse", "demo", "render", "generate", "train"} <= commands
