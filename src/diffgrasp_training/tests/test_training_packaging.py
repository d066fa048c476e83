"""The training package is a real ament_python skeleton: manifest, marker, scripts dir, entry points resolvable."""

from __future__ import annotations

import ast
import configparser
import importlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def test_training_package_is_an_ament_python_package():
    from catkin_pkg.package import parse_package

    pkg = parse_package(str(PACKAGE_DIR / "package.xml"))
    assert pkg.package_format == 3 and pkg.name == "diffgrasp_training"
    assert pkg.get_build_type() == "ament_python"
    assert "diffgrasp" in {d.name for d in pkg.exec_depends}
    assert (PACKAGE_DIR / "resource" / "diffgrasp_training").is_file()
    cfg = configparser.ConfigParser()
    cfg.read(PACKAGE_DIR / "setup.cfg")
    assert cfg["install"]["install_scripts"] == "$base/lib/diffgrasp_training"  # where `ros2 run` looks
    assert cfg["develop"]["script_dir"] == "$base/lib/diffgrasp_training"


def test_training_entry_points_resolve_to_a_callable_main():
    tree = ast.parse((PACKAGE_DIR / "setup.py").read_text())
    scripts = next(ast.literal_eval(kw.value)["console_scripts"] for node in ast.walk(tree)
                   if isinstance(node, ast.Call) for kw in node.keywords if kw.arg == "entry_points")
    entries = dict(s.replace(" ", "").split("=") for s in scripts)
    assert set(entries) == {"train", "diffgrasp-train"}
    import sys

    sys.path.insert(0, str(PACKAGE_DIR))
    try:
        for target in set(entries.values()):
            module, func = target.split(":")
            assert callable(getattr(importlib.import_module(module), func)), target
    finally:
        sys.path.remove(str(PACKAGE_DIR))
