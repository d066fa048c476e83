"""The diffgrasp nodes: capture, fusion, inference, refinement, execution (MoveItPy), orchestrator.

    ros2 launch diffgrasp_bringup pipeline.launch.py [use_sim_time:=false] [execution:=true] [device:=cpu]
        [planner_config:=<core planner YAML>] [fusion_config:=<core fusion YAML>] [checkpoint:=<network .pt>]
        [overrides:=<extra node parameter YAML>] [ros2_control_hardware:=mock|gazebo|none]

Node parameters come from config/ros/pipeline.yaml (+ ``overrides``); the execution node also gets the MoveIt
configuration (robot description, SRDF, kinematics, limits, controllers, planning pipelines, moveit_py.yaml) merged
into ONE dict with use_sim_time (moveit2#2219: only one parameter source counts for MoveItPy).

capture, fusion, inference, refinement and execution are rclpy lifecycle nodes, started as
``launch_ros.actions.LifecycleNode`` (explicit ``name`` and ``namespace=""``, which LifecycleNode requires) with the
parameter ``autostart: True``: each configures and activates itself once it is up. The orchestrator is a plain node.
"""

from __future__ import annotations

import yaml
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

ARGUMENTS = {
    "use_sim_time": ("false", "use /clock (Gazebo)"),
    "execution": ("true", "start the execution node (needs move_group-free MoveItPy + controllers)"),
    "device": ("cpu", "torch device for inference and refinement (cpu or cuda)"),
    "planner_config": ("", "core planner YAML (config/planner.yaml); empty = defaults"),
    "fusion_config": ("", "core fusion YAML (config/fusion.yaml); empty = defaults"),
    "checkpoint": ("", "network checkpoint; empty = the packaged one"),
    "overrides": ("", "extra node parameter YAML applied after config/ros/pipeline.yaml"),
    "ros2_control_hardware": ("mock", "hardware of the robot description given to MoveIt: mock, gazebo or none"),
}


def moveit_parameters(share: str, hardware: str, use_sim_time: bool) -> dict:
    """One dict with everything MoveItPy reads (see config/moveit/)."""
    from moveit_configs_utils import MoveItConfigsBuilder  # optional: only on a ROS machine with MoveIt

    config = (
        MoveItConfigsBuilder("ur10e_shadow", package_name="diffgrasp_bringup")
        .robot_description(file_path="urdf/robot_cell.urdf.xacro",
                           mappings={"ros2_control_hardware": hardware,
                                     "controllers_file": f"{share}/config/ros2_controllers.yaml"})
        .robot_description_semantic(file_path="config/moveit/ur10e_shadow.srdf")
        .robot_description_kinematics(file_path="config/moveit/kinematics.yaml")
        .joint_limits(file_path="config/moveit/joint_limits.yaml")
        .pilz_cartesian_limits(file_path="config/moveit/pilz_cartesian_limits.yaml")
        .trajectory_execution(file_path="config/moveit/moveit_controllers.yaml")
        .moveit_cpp(file_path="config/moveit/moveit_py.yaml")
        .to_moveit_configs()
    ).to_dict()
    # Planning pipelines from our files (the builder only looks in <share>/config/*_planning.yaml).
    for pipeline, filename in (("ompl", "ompl_planning.yaml"),
                               ("pilz_industrial_motion_planner", "pilz_industrial_motion_planner_planning.yaml")):
        with open(f"{share}/config/moveit/{filename}") as stream:
            config[pipeline] = yaml.safe_load(stream)
    config["use_sim_time"] = use_sim_time
    return config


def _nodes(context):
    share = FindPackageShare("diffgrasp_bringup").perform(context)
    arg = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    sim_time = arg["use_sim_time"].lower() == "true"
    params = [PathJoinSubstitution([FindPackageShare("diffgrasp_bringup"), "config", "ros", "pipeline.yaml"])]
    if arg["overrides"]:
        params.append(arg["overrides"])
    common = {"use_sim_time": sim_time}
    lifecycle = {"use_sim_time": sim_time, "autostart": True}  # configure + activate on start
    nodes = [
        LifecycleNode(package="diffgrasp_ros", executable="capture_node", name="capture", namespace="",
                      output="screen", parameters=[*params, lifecycle]),
        LifecycleNode(package="diffgrasp_ros", executable="fusion_node", name="fusion", namespace="",
                      output="screen", parameters=[*params, lifecycle, {"fusion_config": arg["fusion_config"]}]),
        LifecycleNode(package="diffgrasp_ros", executable="inference_node", name="inference", namespace="",
                      output="screen",
                      parameters=[*params, lifecycle, {"checkpoint": arg["checkpoint"], "device": arg["device"]}]),
        LifecycleNode(package="diffgrasp_ros", executable="refinement_node", name="refinement", namespace="",
                      output="screen",
                      parameters=[*params, lifecycle,
                                  {"planner_config": arg["planner_config"], "device": arg["device"]}]),
        Node(package="diffgrasp_ros", executable="orchestrator_node", name="orchestrator", output="screen",
             parameters=[*params, common]),
    ]
    if arg["execution"].lower() == "true":
        nodes.append(LifecycleNode(package="diffgrasp_ros", executable="execution_node", name="execution",
                                   namespace="", output="screen",
                                   parameters=[moveit_parameters(share, arg["ros2_control_hardware"], sim_time),
                                               *params, lifecycle]))
    return nodes


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, (default, text) in ARGUMENTS.items()]
        + [OpaqueFunction(function=_nodes)]
    )
