"""The physical robot cell: cameras, calibration, robot description, controllers, and the diffgrasp pipeline.

    ros2 launch diffgrasp_bringup robot.launch.py [hardware:=mock|external] [cameras:=true]
        [cameras_config:=<cameras.yaml>] [device:=cuda] [planner_config:=...] [checkpoint:=...]

hardware:=mock runs ros2_control's mock components for arm + hand (a dry run of the whole stack on any machine);
hardware:=external expects the arm and hand controller managers to run already (UR driver, Shadow hand bridge) and
provides arm_controller/hand_controller FollowJointTrajectory servers under the names of config/ros2_controllers.yaml.
The robot description is urdf/robot_cell.urdf.xacro with cameras:=false: the capture node publishes the calibrated
world → <cam>_link transforms and realsense2_camera the optical frames.
"""

from __future__ import annotations

from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, RegisterEventHandler
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import Command, EqualsSubstitution, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from diffgrasp_ros.launch_support import CELL_XACRO, cell_state_publisher
from launch import LaunchDescription

SHARE = FindPackageShare("diffgrasp_bringup")
ARGUMENTS = {
    "hardware": ("mock", "mock (ros2_control mock components) or external (drivers already running)"),
    "cameras": ("true", "start one realsense2_camera node per camera of cameras_config"),
    "cameras_config": (PathJoinSubstitution([SHARE, "config", "cameras.yaml"]), "camera rig + calibration"),
    "device": ("cpu", "torch device for inference/refinement"),
    "planner_config": ("", "core planner YAML; empty = defaults"),
    "fusion_config": ("", "core fusion YAML; empty = defaults"),
    "checkpoint": ("", "network checkpoint; empty = packaged"),
}


def generate_launch_description() -> LaunchDescription:
    args = [DeclareLaunchArgument(n, default_value=d, description=t) for n, (d, t) in ARGUMENTS.items()]
    controllers = PathJoinSubstitution([SHARE, "config", "ros2_controllers.yaml"])
    robot_state_publisher = cell_state_publisher(Command([
        *CELL_XACRO, "cameras:=false ros2_control_hardware:=mock controllers_file:=", controllers]))
    mock = IfCondition(EqualsSubstitution(LaunchConfiguration("hardware"), "mock"))
    control_node = Node(package="controller_manager", executable="ros2_control_node", output="screen",
                        parameters=[controllers], remappings=[("~/robot_description", "/robot_description")],
                        condition=mock)
    broadcaster = Node(package="controller_manager", executable="spawner", condition=mock,
                       arguments=["joint_state_broadcaster", "--controller-manager", "/controller_manager"])
    trajectory_controllers = Node(package="controller_manager", executable="spawner", condition=mock,
                                  arguments=["arm_controller", "hand_controller", "--controller-manager",
                                             "/controller_manager"])
    cameras = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution([SHARE, "launch", "cameras.launch.py"])),
        launch_arguments={"cameras_config": LaunchConfiguration("cameras_config")}.items(),
        condition=IfCondition(LaunchConfiguration("cameras")))
    pipeline = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution([SHARE, "launch", "pipeline.launch.py"])),
        launch_arguments={"device": LaunchConfiguration("device"),
                          "planner_config": LaunchConfiguration("planner_config"),
                          "fusion_config": LaunchConfiguration("fusion_config"),
                          "checkpoint": LaunchConfiguration("checkpoint"),
                          "ros2_control_hardware": "mock"}.items())
    return LaunchDescription([
        *args, robot_state_publisher, control_node, broadcaster,
        RegisterEventHandler(OnProcessExit(target_action=broadcaster, on_exit=[trajectory_controllers])),
        cameras, pipeline,
    ])
