"""Fixtures of the workspace-level static checks (helpers live in bringup_test_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bringup_test_helpers import REPO


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
