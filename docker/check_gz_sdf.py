#!/usr/bin/env python3
"""Check that Gazebo keeps the whole cell: the SDF that ``gz sdf -p`` makes of the expanded Gazebo URDF still has
the table, every camera link with its sensor, and the arm and hand.

    xacro robot_cell.urdf.xacro cameras:=true sim_cameras:=true ros2_control_hardware:=gazebo \\
        controllers_file:=... -o cell.urdf          # the arguments of launch/sim.launch.py
    gz sdf -p cell.urdf > cell.sdf                   # sdformat's URDF parser, as `ros_gz_sim create` uses it
    python3 docker/check_gz_sdf.py cell.urdf cell.sdf

sdformat only warns when it drops a link (a massless link whose parent joint it does not lump, e.g. one fixed to
``world``), so ``gz sdf -p`` succeeds on a cell without table or cameras; this script fails instead (exit 1, one line
per missing element). Run by the ``test`` stage of docker/Dockerfile. Standard library only.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

ALWAYS = ("table", "base_link", "rh_palm")  # table (objects rest on it), arm base, the grasp frame's link


def expected(urdf_text: str) -> tuple[set[str], dict[str, str]]:
    """Links that must survive (ALWAYS + every link a Gazebo sensor is attached to) and sensor name → its link."""
    root = ET.fromstring(urdf_text)
    links = {link.get("name") for link in root.findall("link")}
    sensors = {}
    for gazebo in root.findall("gazebo"):
        for sensor in gazebo.findall("sensor"):
            sensors[sensor.get("name")] = gazebo.get("reference")
    return ({name for name in ALWAYS if name in links} | set(sensors.values())), sensors


def missing_from_sdf(urdf_text: str, sdf_text: str) -> list[str]:
    """What the URDF's Gazebo description has and the converted SDF lacks (empty: all kept)."""
    links, sensors = expected(urdf_text)
    problems = []
    if not sensors:
        problems.append("the URDF has no Gazebo sensors: expand it with cameras:=true sim_cameras:=true")
    if "table" not in links:
        problems.append("the URDF has no link 'table'")
    try:
        sdf = ET.fromstring(sdf_text)
    except ET.ParseError as error:
        return problems + [f"gz sdf -p did not print SDF ({error})"]
    sdf_links = {link.get("name"): link for link in sdf.iter("link")}
    for name in sorted(links):
        if name not in sdf_links:
            problems.append(f"link {name!r} is missing from the SDF (massless link dropped by sdformat?)")
    for sensor, link in sorted(sensors.items()):
        if link in sdf_links and not any(s.get("name") == sensor for s in sdf_links[link].iter("sensor")):
            problems.append(f"sensor {sensor!r} is missing from link {link!r} in the SDF")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: check_gz_sdf.py CELL.urdf CELL.sdf", file=sys.stderr)
        return 2
    with open(argv[0]) as urdf, open(argv[1]) as sdf:
        problems = missing_from_sdf(urdf.read(), sdf.read())
    for problem in problems:
        print(f"check_gz_sdf: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_gz_sdf: {argv[1]} keeps the table, the arm, the hand and every camera link and sensor")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
