"""The Gazebo description keeps the whole cell. Gazebo (``ros_gz_sim create``) converts the URDF with sdformat's URDF
parser, which lumps each link hanging on a fixed joint into its parent, except below ``world``, and drops, with only a
warning, every link that is left without mass (sdformat14 parser_urdf.cc: CreateSDF, ReduceFixedJoints). A massless
table or camera link fixed to ``world`` vanishes: objects fall to the ground plane and the cameras have no sensors.
(The real conversion, ``gz sdf -p``, runs in the Docker test stage: docker/check_gz_sdf.py.)"""

from __future__ import annotations

import ast
import importlib.util
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from bringup_test_helpers import REPO

CAMERA_LINKS = {"cam0_link", "cam1_link", "cam2_link", "cam3_link"}


def sim_mappings() -> dict[str, str]:
    """The xacro arguments sim.launch.py gives robot_cell.urdf.xacro (controllers_file: the repository's)."""
    tree = ast.parse((REPO / "launch" / "sim.launch.py").read_text())
    commands = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Command"]
    assert len(commands) == 1, "sim.launch.py: one xacro Command expected"
    text = " ".join(n.value for n in ast.walk(commands[0]) if isinstance(n, ast.Constant) and isinstance(n.value, str))
    mappings = dict(re.findall(r"(\w+):=(\w+)", text))
    assert {"cameras", "sim_cameras", "ros2_control_hardware"} <= set(mappings), mappings
    return {**mappings, "controllers_file": str(REPO / "config" / "ros2_controllers.yaml")}


def expand_sim_cell() -> str:
    xacro = pytest.importorskip("xacro")
    return xacro.process_file(str(REPO / "urdf" / "robot_cell.urdf.xacro"), mappings=sim_mappings()).toxml()


def mass(link: ET.Element) -> float:
    inertial = link.find("inertial")
    return 0.0 if inertial is None or inertial.find("mass") is None else float(inertial.find("mass").get("value"))


def sdformat_links(root: ET.Element) -> tuple[dict[str, float], dict[str, str]]:
    """What sdformat's URDF parser makes of ``root``: {SDF link: its mass after fixed-joint lumping} and {dropped
    URDF link: why}. A link is lumped into its parent when its parent joint is fixed, the parent is not ``world`` and
    the joint is not marked preserveFixedJoint/disableFixedJointLumping; a link that stays on its own needs mass > 0,
    else it and whatever was lumped into it are dropped."""
    links = {link.get("name"): link for link in root.findall("link")}
    preserved = {g.get("reference") for g in root.findall("gazebo")
                 if g.find("preserveFixedJoint") is not None or g.find("disableFixedJointLumping") is not None}
    parent_joint = {j.find("child").get("link"): j for j in root.findall("joint")}

    def owner(name: str) -> str:
        joint = parent_joint.get(name)
        if joint is None or joint.get("type") != "fixed" or joint.get("name") in preserved:
            return name
        parent = joint.find("parent").get("link")
        return name if parent == "world" else owner(parent)

    totals: dict[str, float] = {}
    for name, link in links.items():
        if name != "world":
            totals[owner(name)] = totals.get(owner(name), 0.0) + mass(link)
    kept = {name: m for name, m in totals.items() if m > 0}
    dropped = {name: f"lumped into massless {owner(name)!r}" if owner(name) != name else "massless, not lumped"
               for name in links if name != "world" and owner(name) not in kept}
    return kept, dropped


def assert_valid_inertial(link: ET.Element) -> None:
    name = link.get("name")
    inertial = link.find("inertial")
    assert inertial is not None, f"link {name!r} has no <inertial>: sdformat drops it (fixed to world, no mass)"
    assert inertial.find("origin") is not None, name
    assert mass(link) > 0, f"link {name!r}: mass {mass(link)} (must be > 0)"
    attrs = inertial.find("inertia").attrib
    inertia = np.array([[float(attrs["ixx"]), float(attrs["ixy"]), float(attrs["ixz"])],
                        [float(attrs["ixy"]), float(attrs["iyy"]), float(attrs["iyz"])],
                        [float(attrs["ixz"]), float(attrs["iyz"]), float(attrs["izz"])]])
    principal = np.linalg.eigvalsh(inertia)
    assert np.all(np.diag(inertia) > 0) and np.all(principal > 0), f"link {name!r}: inertia not positive definite"
    a, b, c = principal
    assert a + b >= c and a + c >= b and b + c >= a, f"link {name!r}: inertia violates the triangle inequality"


def test_gazebo_cell_table_and_camera_links_have_inertials():
    root = ET.fromstring(expand_sim_cell())
    links = {link.get("name"): link for link in root.findall("link")}
    sensor_links = {g.get("reference") for g in root.findall("gazebo") if g.find("sensor") is not None}
    assert sensor_links == CAMERA_LINKS
    for name in sorted(sensor_links | {"table"}):
        assert_valid_inertial(links[name])


@pytest.mark.parametrize("description", ["sim", "committed"])
def test_sdformat_keeps_every_link_of_the_cell(description):
    """No URDF link (but ``world``) is lost in the conversion: each one either has mass or is lumped into a link
    that has. Checked on the Gazebo expansion and on the committed robot_cell.urdf (MoveIt's description)."""
    text = expand_sim_cell() if description == "sim" else (REPO / "urdf" / "robot_cell.urdf").read_text()
    root = ET.fromstring(text)
    kept, dropped = sdformat_links(root)
    assert not dropped, f"sdformat would drop: {dropped}"
    assert {"table", "base_link", "rh_palm"} | CAMERA_LINKS <= set(kept)
    if description == "sim":
        for gazebo in root.findall("gazebo"):  # every sensor sits on a link that exists in the SDF
            if gazebo.find("sensor") is not None:
                assert gazebo.get("reference") in kept, gazebo.get("reference")


def load_check_script():
    path = REPO / "docker" / "check_gz_sdf.py"
    assert path.is_file(), "docker/check_gz_sdf.py (the Docker test stage's gz sdf -p check) is missing"
    spec = importlib.util.spec_from_file_location("check_gz_sdf", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_gz_sdf(urdf_text: str, drop: set[str] = frozenset(), drop_sensors: set[str] = frozenset()) -> str:
    """An SDF shaped like `gz sdf -p` output (single-quoted attributes) for the links sdformat keeps."""
    root = ET.fromstring(urdf_text)
    kept, _ = sdformat_links(root)
    sensors = {}
    for gazebo in root.findall("gazebo"):
        for sensor in gazebo.findall("sensor"):
            sensors.setdefault(gazebo.get("reference"), []).append(sensor.get("name"))
    body = []
    for link in sorted(set(kept) - set(drop)):
        inner = "".join(f"<sensor name='{s}' type='rgbd_camera'/>" for s in sensors.get(link, [])
                        if s not in drop_sensors)
        body.append(f"<link name='{link}'><inertial><mass>{kept[link]}</mass></inertial>{inner}</link>")
    return f"<sdf version='1.11'><model name='ur10e_shadow'>{''.join(body)}</model></sdf>"


def test_gz_sdf_check_script_reports_missing_table_cameras_and_sensors():
    check = load_check_script()
    urdf = expand_sim_cell()
    assert check.missing_from_sdf(urdf, fake_gz_sdf(urdf)) == []
    problems = check.missing_from_sdf(urdf, fake_gz_sdf(urdf, drop={"table", "cam2_link"}))
    assert len(problems) == 2 and any("'table'" in p for p in problems) and any("'cam2_link'" in p for p in problems)
    problems = check.missing_from_sdf(urdf, fake_gz_sdf(urdf, drop_sensors={"cam1"}))
    assert len(problems) == 1 and "'cam1'" in problems[0]
    assert check.missing_from_sdf(urdf, "Error: not SDF")  # gz sdf printed no XML
    no_cameras = re.sub(r"<gazebo reference=\"cam\d_link\">.*?</gazebo>", "", urdf, flags=re.S)
    assert any("no Gazebo sensors" in p for p in check.missing_from_sdf(no_cameras, fake_gz_sdf(urdf)))
