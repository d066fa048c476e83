"""``diffgrasp render-hand``: the main job's PNG (MuJoCo offscreen, EGL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffgrasp.cli import main
from diffgrasp.hand.render import JOINT_PRESETS, render_hand


def test_render_shows_hand_and_candidates() -> None:
    img = render_hand("grasp", size=160)
    assert img.shape == (320, 320, 3) and img.dtype == np.uint8
    tile = img[:160, :160].astype(int)
    background = tile[155, 5]
    assert background.min() > 180  # light background
    dark = (tile.sum(-1) < 200).mean()  # the black hand
    orange = ((tile[..., 0] > 150) & (tile[..., 2] < 100) & (tile[..., 1] < 140)).sum()  # candidate spheres
    blue = ((tile[..., 2] > 150) & (tile[..., 0] < 80)).sum()  # normal arrows
    assert 0.05 < dark < 0.6 and orange > 5 and blue > 5


def test_cli_writes_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "hand.png"
    assert main(["render-hand", "-o", str(out), "--size", "96", "--joints", "open"]) == 0
    assert capsys.readouterr().out.strip() == str(out.resolve())
    with Image.open(out) as im:
        assert im.size == (192, 192)
    assert not [p for p in out.parent.iterdir() if p.name != "hand.png"]  # no temp files left


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render-hand", "-o", str(tmp_path / "x.jpg")]) == 2
    assert "must end with .png" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["render-hand", "--joints", "fist"])
    with pytest.raises(ValueError, match="unknown preset"):
        render_hand("fist")
    assert set(JOINT_PRESETS) == {"open", "grasp"}


def test_console_script_default_output(tmp_path: Path) -> None:
    """The main job as the README runs it: default output path relative to the working directory."""
    exe = Path(sys.executable).with_name("diffgrasp")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "diffgrasp.cli"]
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    result = subprocess.run([*cmd, "render-hand", "--size", "96"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "outputs" / "hand_contacts.png"
    assert result.stdout.strip() == str(path.resolve()) and path.stat().st_size > 1000
