"""Helpers of the workspace-level static checks (a uniquely named module: every package's tests share one pytest
session, where ``import conftest`` would be ambiguous)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SRC = REPO / "src"
NODES_DIR = SRC / "diffgrasp_ros" / "diffgrasp_ros"


def node_parameters(executable: str) -> dict:
    """PARAMETERS of the node behind a diffgrasp_ros console script, read from its file without importing rclpy."""
    module = console_scripts("diffgrasp_ros")[executable].split(":")[0].split(".")[-1]
    tree = ast.parse((NODES_DIR / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PARAMETERS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def console_scripts(package: str) -> dict[str, str]:
    tree = ast.parse((SRC / package / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "entry_points":
                    scripts = ast.literal_eval(kw.value)["console_scripts"]
                    return dict(s.replace(" ", "").split("=", 1) for s in scripts)
    raise AssertionError(f"{package}/setup.py: no console_scripts")
