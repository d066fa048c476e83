"""The large-round development set in the repository is what scripts/make_large_round_set.py makes (issue 21)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import trimesh

REPO = Path(__file__).resolve().parents[3]
DATA = Path(__file__).parent / "data" / "large_round"


def test_the_committed_set_is_the_scripts_output(tmp_path, shared_objects):
    spec = importlib.util.spec_from_file_location("make_large_round_set", REPO / "scripts" / "make_large_round_set.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(["--shared", str(shared_objects.parent), "--out", str(tmp_path)])
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in DATA.iterdir())
    for name in made:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


@pytest.mark.parametrize("name", json.loads((DATA / "splits.json").read_text())["large_round"])
def test_each_object_is_large_round_and_rests_on_the_table(name):
    mesh = trimesh.load(DATA / f"{name}.obj", force="mesh")
    assert mesh.is_watertight and mesh.volume > 0
    lo, hi = mesh.bounds
    assert abs(lo[2]) < 0.008 and abs(lo[0] + hi[0]) < 0.2  # on the table (YCB: within 7 mm), near the origin
    if name.startswith(("cylinder", "sphere")):
        width = (hi - lo)[:2].min()
        assert 0.08 - 1e-3 <= width <= 0.13 + 1e-3  # wider than a fingertip grasp spans
        assert abs(lo[0] + hi[0]) < 1e-9 and abs(lo[2]) < 1e-12
