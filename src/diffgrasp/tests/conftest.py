"""Shared fixtures: seeded RNGs, paths to the development objects (../shared/objects, skipped when absent)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_OBJECTS = Path(os.environ.get("DIFFGRASP_SHARED", REPO_ROOT.parent / "shared")) / "objects"


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def shared_objects() -> Path:
    """Folder of the YCB development meshes (../shared/objects); tests using it skip when it is absent."""
    if not SHARED_OBJECTS.is_dir():
        pytest.skip(f"development objects not found at {SHARED_OBJECTS}")
    return SHARED_OBJECTS
