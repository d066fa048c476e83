"""Packaged run-time assets (hand and arm models, contact candidates, checkpoints) and their path accessors."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent


def data_path(*parts: str) -> Path:
    """Path of a packaged asset, e.g. ``data_path("models", "shadow_hand", "right_hand.xml")``."""
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"packaged asset not found: {path}")
    return path


def shadow_hand_mjcf() -> Path:
    """MJCF of the Shadow right hand (MuJoCo Menagerie, Apache-2.0)."""
    return data_path("models", "shadow_hand", "right_hand.xml")


def ur10e_mjcf() -> Path:
    """MJCF of the UR10e arm (MuJoCo Menagerie, BSD-3-Clause)."""
    return data_path("models", "ur10e", "ur10e.xml")
