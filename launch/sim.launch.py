"""Gazebo Harmonic simulation of the cell: world with table + object, arm + hand + four depth cameras, controllers
(gz_ros2_control), the camera/clock bridge, and the diffgrasp pipeline with use_sim_time.

    ros2 launch diffgrasp_bringup sim.launch.py [gui:=true] [world:=<world.sdf>] [device:=cpu] [pipeline:=true]

Order: gz sim (world) → robot_state_publisher (robot_cell.urdf.xacro, ros2_control_hardware:=gazebo,
sim_cameras:=true) → ros_gz_sim create (from /robot_description) → on exit: joint_state_broadcaster → on exit:
arm_controller + hand_controller. ros_gz_bridge (config/ros/gz_bridge.yaml) brings /clock and the cameras' depth
images + CameraInfo into ROS; the capture node reads them with config/ros/sim_overrides.yaml.
"""

from __future__ import annotations

from launch.actions import (
    AppendEnvironmentVariable,
    DeclareLaunchArgument,
    IncludeLaunchDescription,
    RegisterEventHandler,
)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import Command, LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from diffgrasp_ros.launch_support import CELL_XACRO, cell_state_publisher
from launch import LaunchDescription

SHARE = FindPackageShare("diffgrasp_bringup")
ARGUMENTS = {
    "world": (PathJoinSubstitution([SHARE, "config", "ros", "gz_world.sdf"]), "Gazebo world (table + object)"),
    "gui": ("true", "start the Gazebo GUI (false: server only, -s)"),
    "pipeline": ("true", "start the diffgrasp nodes"),
    "device": ("cpu", "torch device for inference/refinement"),
    "planner_config": ("", "core planner YAML; empty = defaults"),
    "checkpoint": ("", "network checkpoint; empty = packaged"),
}


def generate_launch_description() -> LaunchDescription:
    args = [DeclareLaunchArgument(n, default_value=d, description=t) for n, (d, t) in ARGUMENTS.items()]
    controllers = PathJoinSubstitution([SHARE, "config", "ros2_controllers.yaml"])
    # Meshes are referenced as package://diffgrasp/...: let Gazebo resolve them from the install prefix.
    resources = AppendEnvironmentVariable("GZ_SIM_RESOURCE_PATH",
                                          PathJoinSubstitution([FindPackageShare("diffgrasp"), ".."]))
    gz_args = PythonExpression(["'-r -v 3 ' + ('' if '", LaunchConfiguration("gui"), "' == 'true' else '-s ') + '",
                                LaunchConfiguration("world"), "'"])
    gazebo = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution([FindPackageShare("ros_gz_sim"), "launch",
                                                            "gz_sim.launch.py"])),
        launch_arguments={"gz_args": gz_args, "on_exit_shutdown": "true"}.items())
    robot_state_publisher = cell_state_publisher(Command([
        *CELL_XACRO, "cameras:=true sim_cameras:=true ros2_control_hardware:=gazebo controllers_file:=", controllers]),
        use_sim_time=True)
    spawn = Node(package="ros_gz_sim", executable="create", output="screen",
                 arguments=["-topic", "robot_description", "-name", "diffgrasp"])
    bridge = Node(package="ros_gz_bridge", executable="parameter_bridge", output="screen",
                  parameters=[{"config_file": PathJoinSubstitution([SHARE, "config", "ros", "gz_bridge.yaml"]),
                               "use_sim_time": True}])
    broadcaster = Node(package="controller_manager", executable="spawner",
                       arguments=["joint_state_broadcaster", "--controller-manager", "/controller_manager"],
                       parameters=[{"use_sim_time": True}])
    trajectory_controllers = Node(package="controller_manager", executable="spawner",
                                  arguments=["arm_controller", "hand_controller", "--controller-manager",
                                             "/controller_manager"],
                                  parameters=[{"use_sim_time": True}])
    pipeline = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution([SHARE, "launch", "pipeline.launch.py"])),
        launch_arguments={"use_sim_time": "true", "ros2_control_hardware": "gazebo",
                          "device": LaunchConfiguration("device"),
                          "planner_config": LaunchConfiguration("planner_config"),
                          "checkpoint": LaunchConfiguration("checkpoint"),
                          "overrides": PathJoinSubstitution([SHARE, "config", "ros", "sim_overrides.yaml"])}.items(),
        condition=IfCondition(LaunchConfiguration("pipeline")))
    return LaunchDescription([
        *args, resources, gazebo, robot_state_publisher, spawn, bridge,
        RegisterEventHandler(OnProcessExit(target_action=spawn, on_exit=[broadcaster])),
        RegisterEventHandler(OnProcessExit(target_action=broadcaster, on_exit=[trajectory_controllers])),
        pipeline,
    ])
