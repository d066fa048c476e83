"""Capture node: depth + CameraInfo from every camera of config/cameras.yaml → CaptureScene service (lifecycle node).

Subscribes to the realsense2_camera (or Gazebo bridge, or ``diffgrasp ros-sim``) topics of each camera with
sensor-data QoS, pairs each depth image with its CameraInfo by stamp, publishes the calibration
``parent_frame → <name>_link`` on /tf_static, and answers CaptureScene with the first frames newer than the request,
each with its base → optical transform (composed from /tf_static: the calibration and the driver's link → optical).
The capture is also published on ``views`` (latched) for fusion.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from diffgrasp.perception.rig import load_rig
from diffgrasp_interfaces.msg import MultiViewDepth
from diffgrasp_interfaces.srv import CaptureScene
from diffgrasp_ros.action_messages import capture_response_to_ros
from diffgrasp_ros.conversions import time_from_ros, transform_to_ros
from diffgrasp_ros.frame_pairing import FramePairer
from diffgrasp_ros.lifecycle import Param, StageNode
from diffgrasp_ros.message_factory import RclpyFactory
from diffgrasp_ros.node_support import share_file
from diffgrasp_ros.spin import spin_node
from diffgrasp_ros.static_tf import StaticBroadcaster, StaticListener, TransformNotFound

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class CaptureNode(StageNode):
    PARAMETERS = {
        "cameras_config": Param("", "config/cameras.yaml; '' = share/diffgrasp_bringup/config/cameras.yaml"),
        "cameras": Param([""], "camera names to use; [''] = every camera of cameras_config"),
        "base_frame": Param("world", "frame of the capture (camera poses are looked up in it)"),
        "depth_topic": Param("/{name}/{name}/depth/image_rect_raw", "depth topic per camera; {name} = camera name"),
        "info_topic": Param("/{name}/{name}/depth/camera_info", "CameraInfo topic per camera"),
        "sync_slop_s": Param(0.02, "depth/CameraInfo pairing tolerance (s)", (0.0, 1.0)),
        "capture_timeout_s": Param(3.0, "default CaptureScene timeout (s)", (0.0, 600.0)),
        "publish_calibration": Param(True, "publish parent_frame → <name>_link on /tf_static from cameras_config "
                                           "(false in Gazebo: robot_state_publisher has the camera frames)"),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("capture", **kwargs)
        self._latest: dict[str, tuple] = {}
        self._lock = threading.Lock()
        self._subscriptions_: list = []
        self.views_pub = self.capture_service = None
        self.tf = StaticListener(self, callback_group=ReentrantCallbackGroup())

    def configure(self, params: dict[str, Any]) -> None:
        wanted = [c for c in params["cameras"] if c]
        self.rig = load_rig(params["cameras_config"] or share_file("config/cameras.yaml"), wanted or None)
        self.names = tuple(wanted) if wanted else self.rig.names
        self.base_frame, self.timeout_s = params["base_frame"], float(params["capture_timeout_s"])
        sensors = ReentrantCallbackGroup()
        slop_ns = int(params["sync_slop_s"] * 1e9)
        self._pairers = {}
        for cam in self.names:
            pairer = FramePairer(lambda d, i, name=cam: self._on_frame(name, d, i),
                                 lambda m: time_from_ros(m.header.stamp), slop_ns)
            self._pairers[cam] = pairer
            self._subscriptions_ += [
                self.create_subscription(Image, params["depth_topic"].format(name=cam), pairer.add_depth,
                                         qos_profile_sensor_data, callback_group=sensors),
                self.create_subscription(CameraInfo, params["info_topic"].format(name=cam), pairer.add_info,
                                         qos_profile_sensor_data, callback_group=sensors)]
        if params["publish_calibration"]:
            self._static_tf = StaticBroadcaster(self)
            self._static_tf.send(self._calibration_transforms())
        self.views_pub = self.create_publisher(MultiViewDepth, "views", LATCHED)
        self.capture_service = self.create_service(CaptureScene, "capture_scene", self._on_capture,
                                                   callback_group=MutuallyExclusiveCallbackGroup())
        self.get_logger().info(f"capturing {', '.join(self.names)} in {self.base_frame}")

    def cleanup(self) -> None:
        for subscription in self._subscriptions_:
            self.destroy_subscription(subscription)
        if self.capture_service is not None:
            self.destroy_service(self.capture_service)
        if self.views_pub is not None:
            self.destroy_publisher(self.views_pub)
        self._subscriptions_, self.views_pub, self.capture_service = [], None, None
        with self._lock:
            self._latest.clear()

    def _calibration_transforms(self) -> list:
        """cameras.yaml parent_to_link of every camera → TransformStamped (the driver publishes link → optical)."""
        f = RclpyFactory()
        stamp = self.get_clock().now().nanoseconds
        return [transform_to_ros(f, cam.parent_to_link.matrix(f"{cam.name}.parent_to_link"), cam.parent_frame,
                                 f"{cam.name}_link", stamp) for cam in self.rig.cameras]

    def _on_frame(self, name: str, depth: Any, info: Any) -> None:
        with self._lock:
            self._latest[name] = (depth, info)

    def _on_capture(self, request: Any, response: Any) -> Any:
        f, codes = RclpyFactory(), CaptureScene.Response
        if not self.active:
            return capture_response_to_ros(f, codes.FAILED, "capture node is not active", None)
        names = list(request.camera_names) or list(self.names)
        unknown = sorted(set(names) - set(self.names))
        if unknown or request.timeout_s < 0:
            return capture_response_to_ros(f, codes.INVALID_REQUEST, f"camera_names: unknown {unknown}" if unknown
                                           else f"timeout_s: expected >= 0, got {request.timeout_s}", None)
        start_ns = self.get_clock().now().nanoseconds
        deadline = time.monotonic() + (request.timeout_s or self.timeout_s)
        while True:  # this service's group is not the sensors' group: frames keep arriving while we wait
            with self._lock:
                frames = {n: self._latest.get(n) for n in names}
            fresh = {n: fr for n, fr in frames.items() if fr and time_from_ros(fr[0].header.stamp) >= start_ns}
            if len(fresh) == len(names):
                break
            if time.monotonic() > deadline:
                missing = sorted(set(names) - set(fresh))
                return capture_response_to_ros(f, codes.TIMEOUT, f"no new frame from {', '.join(missing)}", None)
            time.sleep(0.01)
        views = MultiViewDepth()
        views.header.frame_id = self.base_frame
        views.header.stamp = self.get_clock().now().to_msg()
        for n in names:
            depth, info = fresh[n]
            try:
                matrix = self.tf.lookup(self.base_frame, depth.header.frame_id)
            except TransformNotFound as err:
                return capture_response_to_ros(f, codes.MISSING_CALIBRATION,
                                               f"missing calibration for {n} ({depth.header.frame_id}): {err}", None)
            views.camera_names.append(n)
            views.depth.append(depth)
            views.camera_info.append(info)
            views.base_to_camera.append(transform_to_ros(f, matrix, self.base_frame, depth.header.frame_id,
                                                         time_from_ros(depth.header.stamp)))
        self.views_pub.publish(views)
        return capture_response_to_ros(f, codes.SUCCESS, "", views)


def main(args=None) -> None:
    spin_node(CaptureNode, num_threads=4, args=args)


if __name__ == "__main__":
    main()
