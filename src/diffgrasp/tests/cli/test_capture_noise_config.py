"""``capture --simulate --noise-config``: config/depth_noise.yaml's settings reach the simulated cameras."""

from __future__ import annotations

from pathlib import Path

import trimesh
import yaml

from diffgrasp.cli import main

REPO = Path(__file__).resolve().parents[4]


def _depths(folder):
    return b"".join(p.read_bytes() for p in sorted((folder / "depth").iterdir()))


def test_noise_config_changes_the_simulated_depth(tmp_path):
    mesh = tmp_path / "box.obj"
    trimesh.creation.box(extents=(0.05, 0.06, 0.07)).export(mesh)
    quiet = tmp_path / "quiet.yaml"
    quiet.write_text(yaml.safe_dump({"disparity_sigma_px": 0.0, "disparity_step_px": 0.0, "edge_invalid_prob": 0.0}))
    default_yaml = tmp_path / "default.yaml"
    default_yaml.write_text((REPO / "config" / "depth_noise.yaml").read_text())
    runs = {name: tmp_path / name for name in ("builtin", "file", "quiet")}
    assert main(["capture", "--simulate", str(mesh), "-o", str(runs["builtin"])]) == 0
    assert main(["capture", "--simulate", str(mesh), "-o", str(runs["file"]), "--noise-config", str(default_yaml)]) == 0
    assert main(["capture", "--simulate", str(mesh), "-o", str(runs["quiet"]), "--noise-config", str(quiet)]) == 0
    assert _depths(runs["file"]) == _depths(runs["builtin"])  # the YAML mirrors the built-in defaults
    assert _depths(runs["quiet"]) != _depths(runs["builtin"])  # and its settings are used
