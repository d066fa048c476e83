"""Every package.xml parses with catkin_pkg (format 3) and lists what the code imports; interface packages list
every definition file and depend on every package their definitions use; ament_python scripts go to lib/<pkg>."""

from __future__ import annotations

import ast
import configparser
import re
import sys
from pathlib import Path

import pytest
from bringup_test_helpers import SRC

PACKAGES = {"diffgrasp": "ament_cmake", "diffgrasp_interfaces": "ament_cmake", "diffgrasp_ros": "ament_python",
            "diffgrasp_training": "ament_python", "diffgrasp_bringup": "ament_cmake"}
# Python import name → rosdep key / ROS package providing it.
IMPORT_TO_PACKAGE = {"moveit": "moveit_py", "numpy": "python3-numpy", "yaml": "python3-yaml",
                     "scipy": "python3-scipy", "catkin_pkg": "python3-catkin-pkg",
                     "matplotlib": "python3-matplotlib", "tensorboard": "python3-tensorboard"}
# Installed from pip by the core's requirements (rosdep has no keys for the pins); allowed without a manifest entry.
PIP_PROVIDED = {"torch", "trimesh", "rosbags", "open3d", "mujoco", "warp", "tqdm", "PIL", "mcap", "mcap_ros2", "ray"}


def manifest(package: str):
    from catkin_pkg.package import parse_package

    return parse_package(str(SRC / package / "package.xml"))


def imported_modules(package_dir: Path) -> set[str]:
    names = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package,build_type", PACKAGES.items())
def test_package_xml_parses_as_format_3(package, build_type):
    pkg = manifest(package)
    pkg.validate()
    assert pkg.package_format == 3 and pkg.name == package
    assert pkg.get_build_type() == build_type
    assert pkg.licenses == ["Apache-2.0"]


@pytest.mark.parametrize("package", ["diffgrasp_ros", "diffgrasp_training"])
def test_python_packages_declare_what_they_import(package):
    pkg = manifest(package)
    declared = {d.name for d in pkg.build_depends + pkg.exec_depends + pkg.build_export_depends}
    imports = imported_modules(SRC / package / package)
    missing = []
    for module in sorted(imports):
        if module in sys.stdlib_module_names or module == package or module in PIP_PROVIDED:
            continue
        if IMPORT_TO_PACKAGE.get(module, module) not in declared:
            missing.append(f"{module} (→ {IMPORT_TO_PACKAGE.get(module, module)})")
    assert not missing, f"{package}/package.xml lacks dependencies for imports: {missing}"


@pytest.mark.parametrize("package", ["diffgrasp_ros", "diffgrasp_training"])
def test_ament_python_layout(package):
    root = SRC / package
    assert (root / "resource" / package).is_file()
    cfg = configparser.ConfigParser()
    cfg.read(root / "setup.cfg")
    assert cfg["install"]["install_scripts"] == f"$base/lib/{package}"
    assert cfg["develop"]["script_dir"] == f"$base/lib/{package}"
    setup = (root / "setup.py").read_text()
    assert '"share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]' in setup
    assert f'PACKAGE = "{package}"' in setup


def test_interfaces_cmake_lists_every_definition_and_manifest_has_every_dependency():
    root = SRC / "diffgrasp_interfaces"
    cmake = (root / "CMakeLists.txt").read_text()
    files = sorted(str(p.relative_to(root)) for kind in ("msg", "srv", "action") for p in (root / kind).glob("*"))
    listed = sorted(re.findall(r'"((?:msg|srv|action)/\w+\.(?:msg|srv|action))"', cmake))
    assert files == listed
    used = set()
    for path in root.glob("*/*.*"):
        if path.suffix in (".msg", ".srv", ".action"):
            used |= set(re.findall(r"^\s*(\w+)/\w+(?:\[\])?\s", path.read_text(), flags=re.M))
    used -= {"diffgrasp_interfaces"}
    pkg = manifest("diffgrasp_interfaces")
    depends = {d.name for d in pkg.build_depends} & {d.name for d in pkg.exec_depends}
    assert used <= depends, f"interfaces use {sorted(used - depends)} without <depend>"
    for dep in used:
        assert dep in cmake, f"{dep} missing from rosidl_generate_interfaces DEPENDENCIES / find_package"
    assert "action_msgs" in depends  # actions need it
    assert "rosidl_interface_packages" in [g.name for g in pkg.member_of_groups]


def test_bringup_installs_the_top_level_folders(repo):
    cmake = (SRC / "diffgrasp_bringup" / "CMakeLists.txt").read_text()
    assert "install(DIRECTORY ../../launch ../../config ../../urdf" in cmake
    for folder in ("launch", "config", "urdf"):
        assert (SRC / "diffgrasp_bringup" / ".." / ".." / folder).resolve() == repo / folder


def test_colcon_meta_names_real_packages(repo):
    import json

    meta = json.loads((repo / "colcon.meta").read_text())
    assert set(meta["names"]) <= set(PACKAGES)
    assert meta["names"]["diffgrasp_ros"]["pytest-args"][:2] == ["-m", "not hardware and not gpu"]
