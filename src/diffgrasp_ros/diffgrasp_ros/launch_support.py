"""The robot description of the cell, shared by launch/robot.launch.py and launch/sim.launch.py.

Each launch file writes its own xacro command, ``Command([*CELL_XACRO, "<its mappings> controllers_file:=",
<controllers YAML>])``: which variant of urdf/robot_cell.urdf.xacro it runs (cameras, simulated cameras, ros2_control
hardware) stays readable in the launch file, where the bringup checks read it. ``cell_state_publisher`` turns that
command into the robot_state_publisher that publishes /robot_description.

For launch files only: this module imports launch and launch_ros (diffgrasp_bringup's dependencies); no node imports
it.
"""

from __future__ import annotations

from typing import Any

from launch.substitutions import FindExecutable, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

CELL_XACRO = [FindExecutable(name="xacro"), " ",
              PathJoinSubstitution([FindPackageShare("diffgrasp_bringup"), "urdf", "robot_cell.urdf.xacro"]), " "]
"""The start of the xacro command line: ``xacro <share>/urdf/robot_cell.urdf.xacro `` (the mappings follow)."""


def cell_state_publisher(xacro: Any, **parameters: Any) -> Any:
    """robot_state_publisher with ``robot_description`` = the output of ``xacro`` (a launch ``Command``), plus
    ``parameters`` (e.g. ``use_sim_time=True``).

    The description is a ``ParameterValue`` with ``value_type=str``: launch_ros would otherwise try to read the URDF
    text as YAML.
    """
    return Node(package="robot_state_publisher", executable="robot_state_publisher", output="screen",
                parameters=[{"robot_description": ParameterValue(xacro, value_type=str), **parameters}])


__all__ = ["CELL_XACRO", "cell_state_publisher"]
