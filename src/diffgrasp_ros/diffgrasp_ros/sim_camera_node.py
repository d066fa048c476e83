"""Simulated calibrated depth cameras for ``diffgrasp ros-sim``: what realsense2_camera publishes, from a render.

Per camera of the rig YAML (``config/cameras_sim.yaml``): ``/<name>/<name>/depth/image_rect_raw`` (16UC1 mm, 0 =
invalid) and ``/<name>/<name>/depth/camera_info`` with the same stamp, sensor-data QoS, frame
``<name>_depth_optical_frame``, and the driver's ``<name>_link → <name>_depth_optical_frame`` on /tf_static (the
calibration ``parent → <name>_link`` comes from the capture node, as on the robot). The depth is the core's simulated
D4xx rig (``diffgrasp.perception.simulate_capture``) looking at the true object resting on the table at
``object_xy``; ``noise_frames`` noise realisations are rendered once and published in turn at ``rate_hz``.
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from diffgrasp.geometry import ObjectModel
from diffgrasp.perception import load_rig, simulate_capture
from diffgrasp.sim.robot_scene import resting_pose
from diffgrasp_ros.conversions import transform_to_ros
from diffgrasp_ros.lifecycle import Param, declare_params
from diffgrasp_ros.message_factory import RclpyFactory
from diffgrasp_ros.node_support import share_file
from diffgrasp_ros.sensor_conversions import camera_info_to_ros, depth_to_ros
from diffgrasp_ros.spin import spin_node
from diffgrasp_ros.static_tf import StaticBroadcaster

PARAMETERS = {
    "cameras_config": Param("", "rig YAML with intrinsics; '' = config/cameras_sim.yaml"),
    "object": Param("", "the true object mesh (m)"),
    "object_xy": Param([0.0, 0.0], "where it rests on the table (world x, y; table top z = 0)"),
    "noise": Param("realsense", "depth noise: realsense or none"),
    "seed": Param(0, "noise seed of the first frame", (0, 2**31 - 1)),
    "noise_frames": Param(1, "noise realisations rendered and published in turn (1: every capture the same, as the "
                             "demo's one capture; more: which one a capture gets depends on timing)", (1, 100)),
    "rate_hz": Param(5.0, "publishing rate (Hz)", (0.1, 60.0)),
}


def optical_frame(name: str) -> str:
    return f"{name}_depth_optical_frame"


class SimCameraNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sim_cameras", **kwargs)
        p = declare_params(self, PARAMETERS)
        if not p["object"]:
            raise ValueError("object: the simulated cameras need the true object mesh")
        self.rig = load_rig(p["cameras_config"] or share_file("config/cameras_sim.yaml"))
        mesh = ObjectModel.from_file(p["object"]).mesh
        pose = resting_pose(mesh, tuple(float(v) for v in p["object_xy"]))
        self.captures = [simulate_capture(mesh, self.rig, noise=p["noise"], seed=int(p["seed"]) + 100 * i,
                                          object_to_world=pose) for i in range(int(p["noise_frames"]))]
        f = RclpyFactory()
        self.static_tf = StaticBroadcaster(self)
        self.static_tf.send([transform_to_ros(f, cam.link_to_optical.matrix(), f"{cam.name}_link",
                                              optical_frame(cam.name)) for cam in self.rig.cameras])
        self.publishers_ = {cam.name: (
            self.create_publisher(Image, f"/{cam.name}/{cam.name}/depth/image_rect_raw", qos_profile_sensor_data),
            self.create_publisher(CameraInfo, f"/{cam.name}/{cam.name}/depth/camera_info", qos_profile_sensor_data))
            for cam in self.rig.cameras}
        self.frame = 0
        self.create_timer(1.0 / float(p["rate_hz"]), self.publish)
        self.get_logger().info(f"{len(self.rig.cameras)} simulated cameras publishing at {p['rate_hz']} Hz")

    def publish(self) -> None:
        f = RclpyFactory()
        capture = self.captures[self.frame % len(self.captures)]
        self.frame += 1
        stamp = self.get_clock().now().nanoseconds
        for i, name in enumerate(capture.names):
            cam = self.rig.camera(name)
            image_pub, info_pub = self.publishers_[name]
            image_pub.publish(depth_to_ros(f, capture.depth[i], optical_frame(name), stamp, encoding="16UC1"))
            info_pub.publish(camera_info_to_ros(f, capture.intrinsics[i], cam.width, cam.height, optical_frame(name),
                                                stamp))


def main(args=None) -> None:
    spin_node(SimCameraNode, num_threads=1, args=args)


if __name__ == "__main__":
    main()
