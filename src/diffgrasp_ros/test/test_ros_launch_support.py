"""The robot description of robot.launch.py and sim.launch.py (issue 22: one home, diffgrasp_ros.launch_support).

launch / launch_ros are not installable off ROS machines: the launch files are imported with the recording stand-ins
of diffgrasp_bringup's static checks (bringup_test_helpers.load_launch_file), and the robot_state_publisher each one
starts is checked down to the xacro command line it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BRINGUP_TESTS = Path(__file__).resolve().parents[2] / "diffgrasp_bringup" / "test"
SUPPORT = "diffgrasp_ros.launch_support"


@pytest.fixture()
def helpers(monkeypatch):
    monkeypatch.syspath_prepend(str(BRINGUP_TESTS))
    import bringup_test_helpers

    # launch_support imports launch/launch_ros: import it afresh under each test's stand-ins, and drop it afterwards
    sys.modules.pop(SUPPORT, None)
    yield bringup_test_helpers
    sys.modules.pop(SUPPORT, None)


def _render(value, context) -> str:
    """The text a substitution (or a list of them) stands for at launch time; xacro found on PATH as ``xacro``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_render(part, context) for part in value)
    if value.kind == "FindExecutable":
        return value.kwargs["name"]
    return value.perform(context)


def _robot_state_publisher(helpers, monkeypatch, launch_file: str):
    module = helpers.load_launch_file(helpers.REPO / "launch" / launch_file, monkeypatch)
    description = module.generate_launch_description()
    actions = [a for a in description.args[0] if a.kind == "Node"
               and a.kwargs.get("package") == "robot_state_publisher"]
    assert len(actions) == 1, f"{launch_file}: one robot_state_publisher expected"
    return actions[0]


@pytest.mark.parametrize(("launch_file", "mappings", "extra"), [
    ("robot.launch.py", "cameras:=false ros2_control_hardware:=mock", {}),
    ("sim.launch.py", "cameras:=true sim_cameras:=true ros2_control_hardware:=gazebo", {"use_sim_time": True}),
])
def test_robot_description_is_the_xacro_output_as_a_string(helpers, monkeypatch, launch_file, mappings, extra):
    node = _robot_state_publisher(helpers, monkeypatch, launch_file)
    assert node.kwargs["executable"] == "robot_state_publisher" and node.kwargs["output"] == "screen"
    (parameters,) = node.kwargs["parameters"]
    assert set(parameters) == {"robot_description", *extra}
    assert {k: parameters[k] for k in extra} == extra
    value = parameters["robot_description"]
    # a string parameter: without value_type=str launch_ros would try to read the URDF as YAML
    assert value.kind == "ParameterValue" and value.kwargs == {"value_type": str}
    (command,) = value.args
    assert command.kind == "Command"
    context = helpers.FakeLaunchContext({})
    share = helpers.REPO
    assert _render(command.args[0], context) == (f"xacro {share}/urdf/robot_cell.urdf.xacro {mappings} "
                                                 f"controllers_file:={share}/config/ros2_controllers.yaml")
