"""Launch files parse (AST) and refer only to packages, executables, parameters, arguments and files that exist;
node parameter YAMLs only set declared parameters; sim bridge, controllers, SRDF and URDF agree with the nodes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from bringup_test_helpers import (
    REPO,
    SRC,
    FakeLaunchContext,
    console_scripts,
    launch_ros_evaluated,
    load_launch_file,
    merged_parameters,
    node_parameters,
)

LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))
OUR_PACKAGES = {"diffgrasp", "diffgrasp_interfaces", "diffgrasp_ros", "diffgrasp_training", "diffgrasp_bringup"}
ROS_PARAMS = {"use_sim_time"}  # parameters every rclpy node declares itself
# rclpy lifecycle nodes of diffgrasp_ros: started as launch_ros LifecycleNode with autostart (configure + activate).
LIFECYCLE_EXECUTABLES = {"capture_node", "fusion_node", "inference_node", "refinement_node", "execution_node"}
LIFECYCLE_PARAMS = {"autostart"}


def bringup_exec_depends() -> set[str]:
    from catkin_pkg.package import parse_package

    return {d.name for d in parse_package(str(SRC / "diffgrasp_bringup" / "package.xml")).exec_depends}


def call_name(node: ast.Call) -> str:
    return getattr(node.func, "id", getattr(node.func, "attr", ""))


def kwarg(node: ast.Call, name: str):
    return next((kw.value for kw in node.keywords if kw.arg == name), None)


def module_constants(tree: ast.Module) -> dict[str, ast.AST]:
    """Top-level and function-level ``NAME = value`` assignments (for resolving SHARE, common, ...)."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
    return out


def share_package(node: ast.AST, consts: dict) -> str | None:
    """The package of FindPackageShare("pkg") (directly or through a constant)."""
    if isinstance(node, ast.Name) and node.id in consts:
        node = consts[node.id]
    if isinstance(node, ast.Call) and call_name(node) == "FindPackageShare" and node.args:
        return ast.literal_eval(node.args[0])
    return None


def declared_arguments(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    consts = module_constants(tree)
    names = set(ast.literal_eval(ast.Dict(keys=consts["ARGUMENTS"].keys, values=[ast.Constant(0)] *
                                          len(consts["ARGUMENTS"].keys)))) if "ARGUMENTS" in consts else set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and call_name(node) == "DeclareLaunchArgument" and \
                isinstance(node.args[0], ast.Constant):
            names.add(node.args[0].value)
    return names


@pytest.fixture(scope="module")
def references() -> dict:
    """Everything the launch files refer to, collected from their ASTs."""
    refs = {"packages": set(), "files": set(), "nodes": [], "includes": [], "used_args": {}}
    for path in LAUNCH_FILES:
        tree = ast.parse(path.read_text())
        consts = module_constants(tree)
        refs["used_args"][path.name] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = call_name(node)
            if name == "FindPackageShare":
                refs["packages"].add(ast.literal_eval(node.args[0]))
            elif name == "LaunchConfiguration" and isinstance(node.args[0], ast.Constant):
                refs["used_args"][path.name].add(node.args[0].value)
            elif name == "PathJoinSubstitution" and isinstance(node.args[0], ast.List):
                parts = node.args[0].elts
                if share_package(parts[0], consts) == "diffgrasp_bringup" and \
                        all(isinstance(p, ast.Constant) for p in parts[1:]):
                    refs["files"].add("/".join(p.value for p in parts[1:]))
                elif share_package(parts[0], consts) is not None and all(isinstance(p, ast.Constant)
                                                                         for p in parts[1:]):
                    refs.setdefault("foreign_files", set()).add((share_package(parts[0], consts),
                                                                 "/".join(p.value for p in parts[1:])))
            elif name in ("Node", "LifecycleNode"):
                package = ast.literal_eval(kwarg(node, "package"))
                executable = ast.literal_eval(kwarg(node, "executable"))
                refs["packages"].add(package)
                params = kwarg(node, "parameters")
                dicts = []
                for element in (params.elts if isinstance(params, ast.List) else []):
                    if isinstance(element, ast.Name) and isinstance(consts.get(element.id), ast.Dict):
                        element = consts[element.id]
                    if isinstance(element, ast.Dict):
                        dicts.append({ast.literal_eval(k) for k in element.keys})
                node_name = kwarg(node, "name")
                namespace = kwarg(node, "namespace")
                refs["nodes"].append((path.name, package, executable,
                                      ast.literal_eval(node_name) if isinstance(node_name, ast.Constant) else None,
                                      set().union(*dicts) if dicts else set(), name,
                                      ast.literal_eval(namespace) if isinstance(namespace, ast.Constant) else None))
            elif name == "IncludeLaunchDescription":
                source = node.args[0]
                target = source.args[0] if isinstance(source, ast.Call) and source.args else None
                if isinstance(target, ast.Call) and call_name(target) == "PathJoinSubstitution":
                    parts = target.args[0].elts
                    launch_args = kwarg(node, "launch_arguments")
                    keys = set()
                    if isinstance(launch_args, ast.Call) and isinstance(launch_args.func.value, ast.Dict):
                        keys = {ast.literal_eval(k) for k in launch_args.func.value.keys}
                    refs["includes"].append((path.name, share_package(parts[0], consts),
                                             "/".join(ast.literal_eval(p) for p in parts[1:]), keys))
            for kw in node.keywords:  # MoveItConfigsBuilder(...).x(file_path="config/...")
                if kw.arg == "file_path" and isinstance(kw.value, ast.Constant):
                    refs["files"].add(kw.value.value)
    return refs


def test_launch_files_parse_and_define_generate_launch_description():
    assert {p.name for p in LAUNCH_FILES} >= {"robot.launch.py", "sim.launch.py", "pipeline.launch.py",
                                              "cameras.launch.py"}
    for path in LAUNCH_FILES:
        tree = ast.parse(path.read_text(), filename=str(path))
        assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body), path
        compile(tree, str(path), "exec")


def test_launch_packages_are_declared(references):
    missing = sorted(references["packages"] - bringup_exec_depends() - {"diffgrasp_bringup"})
    assert not missing, f"launch files use packages missing from diffgrasp_bringup/package.xml: {missing}"


def test_launch_files_exist(references, repo):
    referenced = sorted(references["files"])
    assert {"config/ros/pipeline.yaml", "config/ros/gz_bridge.yaml", "urdf/robot_cell.urdf.xacro",
            "config/ros2_controllers.yaml", "config/moveit/ur10e_shadow.srdf"} <= set(referenced)
    for pipeline_file in ("ompl_planning.yaml", "pilz_industrial_motion_planner_planning.yaml"):
        referenced.append(f"config/moveit/{pipeline_file}")  # loaded by name in pipeline.launch.py
    missing = [f for f in referenced if not (repo / f).exists()]
    assert not missing, ("files referenced by launch/*.launch.py are missing from the repository (installed into "
                         f"share/diffgrasp_bringup): {missing}")


def test_launch_nodes_use_existing_executables_and_declared_parameters(references):
    ours = console_scripts("diffgrasp_ros")
    seen = set()
    for launch, package, executable, name, param_keys, kind, _ in references["nodes"]:
        if package != "diffgrasp_ros":
            continue
        assert executable in ours, f"{launch}: diffgrasp_ros has no executable {executable!r}"
        declared = set(node_parameters(executable)) | ROS_PARAMS
        if kind == "LifecycleNode":
            declared |= LIFECYCLE_PARAMS
        undeclared = param_keys - declared
        assert not undeclared, f"{launch}: {executable} does not declare {sorted(undeclared)}"
        seen.add(executable)
    assert seen == {"capture_node", "fusion_node", "inference_node", "refinement_node", "execution_node",
                    "orchestrator_node"}


def test_included_launch_files_and_arguments_exist(references, repo):
    for launch, package, relative, keys in references["includes"]:
        if package != "diffgrasp_bringup":
            assert package in bringup_exec_depends(), f"{launch}: includes from undeclared package {package}"
            continue
        target = repo / relative
        assert target.exists(), f"{launch}: includes missing {relative}"
        unknown = keys - declared_arguments(target)
        assert not unknown, f"{launch}: passes undeclared argument(s) {sorted(unknown)} to {relative}"


def test_used_launch_arguments_are_declared(references):
    for path in LAUNCH_FILES:
        undeclared = references["used_args"][path.name] - declared_arguments(path)
        assert not undeclared, f"{path.name}: LaunchConfiguration of undeclared argument(s) {sorted(undeclared)}"


@pytest.mark.parametrize("name", ["pipeline.yaml", "sim_overrides.yaml"])
def test_parameter_yaml_sets_only_declared_parameters(name, references, repo):
    data = yaml.safe_load((repo / "config" / "ros" / name).read_text())
    by_node = {n: exe for _, pkg, exe, n, *_ in references["nodes"] if pkg == "diffgrasp_ros" and n}
    assert set(data) <= set(by_node), f"{name}: sections for unknown nodes {sorted(set(data) - set(by_node))}"
    for node, section in data.items():
        params = node_parameters(by_node[node])
        values = section["ros__parameters"]
        undeclared = set(values) - set(params) - ROS_PARAMS
        assert not undeclared, f"{name}: {node} does not declare {sorted(undeclared)}"
        for key, value in values.items():  # same type as the declared default (rclpy rejects a type change)
            assert type(value) is type(params[key]) or (isinstance(value, list) and isinstance(params[key], list)), \
                f"{name}: {node}.{key} = {value!r} has another type than the default {params[key]!r}"
    if name == "pipeline.yaml":  # the shipped file documents every parameter with its default
        for node, exe in by_node.items():
            assert set(data[node]["ros__parameters"]) == set(node_parameters(exe)), node


def test_gz_bridge_matches_sim_cameras_and_capture_topics(repo):
    bridge = yaml.safe_load((repo / "config" / "ros" / "gz_bridge.yaml").read_text())
    required = {"ros_topic_name", "gz_topic_name", "ros_type_name", "gz_type_name", "direction"}
    for entry in bridge:
        assert required <= set(entry), entry
        assert entry["direction"] in {"GZ_TO_ROS", "ROS_TO_GZ", "BIDIRECTIONAL"}
    topics = {e["ros_topic_name"] for e in bridge}
    assert "/clock" in topics
    overrides = yaml.safe_load((repo / "config" / "ros" / "sim_overrides.yaml").read_text())["capture"]
    capture = overrides["ros__parameters"]
    cell = (repo / "urdf" / "robot_cell.urdf.xacro").read_text()
    cell_cameras = re.findall(r'camera_mount name="(\w+)"', cell)
    assert sorted(capture["cameras"]) == sorted(cell_cameras)
    for cam in capture["cameras"]:
        assert capture["depth_topic"].format(name=cam) in topics
        assert capture["info_topic"].format(name=cam) in topics


def test_execution_parameters_match_srdf_urdf_and_controllers(repo):
    params = yaml.safe_load((repo / "config" / "ros" / "pipeline.yaml").read_text())["execution"]["ros__parameters"]
    defaults = node_parameters("execution_node")
    srdf = (repo / "config" / "moveit" / "ur10e_shadow.srdf").read_text()
    assert f'<group name="{params["planning_group"]}"' in srdf
    urdf = (repo / "urdf" / "robot_cell.urdf").read_text()
    links = set(re.findall(r'<link name="([^"]+)"', urdf))
    assert params["palm_link"] in links and params["base_frame"] in links
    missing = sorted(set(defaults["hand_links"]) - links)
    assert not missing, f"execution_node hand_links not in the URDF: {missing}"
    controller = params["hand_action"].strip("/").split("/")[0]
    for path in ("config/ros2_controllers.yaml", "config/moveit/moveit_controllers.yaml"):
        assert controller in (repo / path).read_text(), f"{controller} missing from {path}"


def test_cell_xacro_expands_with_the_sim_mappings_and_has_the_canonical_joints(repo, tmp_path):
    """The exact xacro arguments sim.launch.py passes; yourdfpy loads the result with the 24 hand joint names."""
    xacro = pytest.importorskip("xacro")
    yourdfpy = pytest.importorskip("yourdfpy")
    from diffgrasp.hand.names import JOINT_NAMES

    doc = xacro.process_file(str(repo / "urdf" / "robot_cell.urdf.xacro"),
                             mappings={"cameras": "true", "sim_cameras": "true", "ros2_control_hardware": "gazebo",
                                       "controllers_file": str(repo / "config" / "ros2_controllers.yaml")})
    out = tmp_path / "cell.urdf"
    out.write_text(doc.toxml())
    robot = yourdfpy.URDF.load(str(out), build_scene_graph=False, load_meshes=False, load_collision_meshes=False)
    assert set(JOINT_NAMES) <= set(robot.joint_names)
    text = out.read_text()
    assert "gz_ros2_control::GazeboSimROS2ControlPlugin" in text and text.count('type="rgbd_camera"') == 4


def test_cameras_launch_passes_the_serial_as_a_plain_string(tmp_path, monkeypatch):
    """realsense2_camera compares its string parameter serial_no with the device serial as is. In a parameters dict
    launch_ros keeps a str a str (YAML dump + load), so the command line's "'<serial>'" quoting would reach the driver
    with the quotes and no camera would match."""
    rig = tmp_path / "cameras.yaml"
    rig.write_text("cameras:\n"
                   "- name: cam_a\n  serial: '123456789012'\n"
                   "- name: cam_b\n  serial: 123456789013\n"     # unquoted: YAML loads an int
                   "- name: cam_c\n")                            # no serial: the first device found
    module = load_launch_file(REPO / "launch" / "cameras.launch.py", monkeypatch)
    context = FakeLaunchContext({"cameras_config": str(rig), "depth_profile": "848x480x30", "use_sim_time": "false"})
    nodes = {action.kwargs["name"]: action for action in module._cameras(context)}
    assert set(nodes) == {"cam_a", "cam_b", "cam_c"}
    expected = {"cam_a": "123456789012", "cam_b": "123456789013", "cam_c": ""}
    for name, serial in expected.items():
        assert nodes[name].kwargs["package"] == "realsense2_camera"
        value = merged_parameters(nodes[name])["serial_no"]
        assert value == serial and isinstance(value, str), f"{name}: serial_no = {value!r}, expected {serial!r}"
        given = launch_ros_evaluated(value)  # what the driver receives
        assert given == serial and isinstance(given, str), f"{name}: the driver would get serial_no = {given!r}"


def test_pipeline_starts_lifecycle_nodes_with_autostart(monkeypatch):
    """capture, fusion, inference, refinement and execution are rclpy lifecycle nodes: launch_ros LifecycleNode
    (name and namespace="" given) with autostart: True; the orchestrator stays a plain Node; the execution node
    still gets the MoveIt dict (robot description) first."""
    module = load_launch_file(REPO / "launch" / "pipeline.launch.py", monkeypatch)
    moveit = {"robot_description": "<robot name='ur10e_shadow'/>", "use_sim_time": False}
    monkeypatch.setattr(module, "moveit_parameters", lambda share, hardware, use_sim_time: moveit)
    args = {name: default for name, (default, _) in module.ARGUMENTS.items()}
    actions = module._nodes(FakeLaunchContext({**args, "execution": "true"}))
    by_executable = {a.kwargs["executable"]: a for a in actions if a.kwargs.get("package") == "diffgrasp_ros"}
    assert set(by_executable) == LIFECYCLE_EXECUTABLES | {"orchestrator_node"}
    for executable in sorted(LIFECYCLE_EXECUTABLES):
        action = by_executable[executable]
        assert action.kind == "LifecycleNode", f"{executable} is started as {action.kind}, not LifecycleNode"
        assert action.kwargs.get("namespace") == "" and action.kwargs.get("name"), executable
        params = merged_parameters(action)
        assert params.get("autostart") is True, f"{executable}: autostart = {params.get('autostart')!r}"
        assert params["use_sim_time"] is False
    orchestrator = by_executable["orchestrator_node"]
    assert orchestrator.kind == "Node" and "autostart" not in merged_parameters(orchestrator)
    assert by_executable["execution_node"].kwargs["parameters"][0] is moveit
    assert by_executable["fusion_node"].kwargs["name"] == "fusion"  # the section names of config/ros/pipeline.yaml


def test_every_launch_file_starts_the_lifecycle_nodes_as_lifecycle_nodes(references):
    started = [n for n in references["nodes"] if n[1] == "diffgrasp_ros" and n[2] in LIFECYCLE_EXECUTABLES]
    assert {n[2] for n in started} == LIFECYCLE_EXECUTABLES
    for launch, _, executable, name, param_keys, kind, namespace in started:
        assert kind == "LifecycleNode", f"{launch}: {executable} started as {kind}"
        assert name and namespace == "", f"{launch}: {executable} needs name= and namespace=''"
        assert "autostart" in param_keys, f"{launch}: {executable} without autostart"
