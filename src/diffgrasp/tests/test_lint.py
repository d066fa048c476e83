"""ruff over the whole repository (rules and exclusions: ``ruff.toml`` at the repo root; version pinned in
requirements.txt): import order, unused names, line length 120."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _ruff() -> str | None:
    """The ruff next to this interpreter (the venv's), else one on PATH."""
    beside = Path(sys.executable).with_name("ruff")
    return str(beside) if beside.is_file() else shutil.which("ruff")


def test_ruff_check_passes():
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -r requirements.txt, or the diffgrasp[test] extra)")
    assert (REPO / "ruff.toml").is_file()
    proc = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", "."], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, ("ruff check failed (fix with `ruff check --fix`, then by hand):\n"
                                  f"{proc.stdout}{proc.stderr}")
