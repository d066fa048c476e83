"""One realsense2_camera node per camera of config/cameras.yaml (depth only, sensor-data QoS, 848x480x30).

    ros2 launch diffgrasp_bringup cameras.launch.py [cameras_config:=<cameras.yaml>] [depth_profile:=848x480x30]

Each camera gets camera_namespace = camera_name = its name (topics /<name>/<name>/depth/image_rect_raw and
.../depth/camera_info, 16UC1 mm; frames <name>_link → <name>_depth_optical_frame, published by the driver).
Calibration (world → <name>_link) is published by the capture node from the same file.

The serial number goes into the parameter dict as a plain Python ``str`` (``serial_parameter``). launch_ros keeps a
``str`` in a parameters dict a string (it dumps it to YAML and loads it back), so the quoting trick of the command line
(``serial_no:="'<serial>'"``) must not be used here: in a dict the quotes would stay part of the value, and
realsense2_camera, which compares ``serial_no`` (a string parameter) with the device's serial character by
character, would never find its camera.
"""

from __future__ import annotations

import yaml
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

ARGUMENTS = {
    "cameras_config": (PathJoinSubstitution([FindPackageShare("diffgrasp_bringup"), "config", "cameras.yaml"]),
                       "camera rig file (names, serials, calibration)"),
    "depth_profile": ("848x480x30", "depth resolution and rate, WxHxFPS"),
    "use_sim_time": ("false", "use /clock"),
}


def serial_parameter(serial) -> str:
    """The realsense2_camera ``serial_no`` for a parameters dict: the serial as a plain string, no quotes ('' = any
    device). An unquoted all-digit serial in the YAML loads as an int; it becomes its decimal string again."""
    if serial is None:
        return ""
    if isinstance(serial, bool) or not isinstance(serial, (str, int)):
        raise ValueError(f"camera serial must be a string, got {serial!r}")
    return str(serial).strip().strip("'\"")


def _cameras(context):
    with open(LaunchConfiguration("cameras_config").perform(context)) as stream:
        rig = yaml.safe_load(stream) or {}
    profile = LaunchConfiguration("depth_profile").perform(context)
    nodes = []
    for camera in rig.get("cameras", []):
        name = camera["name"]
        nodes.append(Node(
            package="realsense2_camera", executable="realsense2_camera_node", namespace=name, name=name,
            output="screen",
            parameters=[{
                "serial_no": serial_parameter(camera.get("serial")),
                "camera_name": name,
                "camera_namespace": name,
                "enable_depth": True,
                "enable_color": False,
                "enable_infra1": False,
                "enable_infra2": False,
                "depth_module.depth_profile": profile,
                "align_depth.enable": False,      # we fuse in 3-D with the depth intrinsics
                "pointcloud.enable": False,
                "depth_qos": "SENSOR_DATA",
                "publish_tf": True,
                "use_sim_time": LaunchConfiguration("use_sim_time"),
            }]))
    if not nodes:
        raise RuntimeError(f"no cameras in {LaunchConfiguration('cameras_config').perform(context)}")
    return nodes


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text)
         for name, (default, text) in ARGUMENTS.items()]
        + [OpaqueFunction(function=_cameras)]
    )
