"""Capture node: synchronised depth + CameraInfo from every camera of config/cameras.yaml → CaptureScene service.

Subscribes to the realsense2_camera (or Gazebo bridge) topics of each camera with sensor-data QoS, pairs each depth
image with its CameraInfo (message_filters.ApproximateTimeSynchronizer), publishes the calibration
``parent_frame → <name>_link`` on /tf_static, and answers CaptureScene with the first frames newer than the request,
each with its base → optical transform (tf2). The capture is also published on ``views`` (latched) for fusion.
"""

from __future__ import annotations

import threading
import time

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from diffgrasp_ros.spin import spin_node

PARAMETERS = {
    "cameras_config": "",          # config/cameras.yaml; "" = share/diffgrasp_bringup/config/cameras.yaml
    "cameras": [""],               # camera names to use; [""] = every camera of cameras_config
    "base_frame": "world",         # frame of the capture (camera poses are looked up in it)
    "depth_topic": "/{name}/{name}/depth/image_rect_raw",   # per camera; {name} = camera name
    "info_topic": "/{name}/{name}/depth/camera_info",
    "sync_slop_s": 0.02,           # depth/CameraInfo pairing tolerance (s)
    "capture_timeout_s": 3.0,      # default CaptureScene timeout (s)
    "publish_calibration": True,   # publish parent_frame → <name>_link on /tf_static from cameras_config
                                   # (false in Gazebo: robot_state_publisher has the camera frames)
}


class CaptureNode(Node):
    def __init__(self) -> None:
        super().__init__("capture")
        for name, default in PARAMETERS.items():
            self.declare_parameter(name, default)
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        wanted = [c for c in p["cameras"] if c]
        self.rig = None
        if p["publish_calibration"] or not wanted:  # the rig file gives the calibration and/or the camera names
            from diffgrasp.perception.rig import load_rig

            from diffgrasp_ros.node_support import share_file

            self.rig = load_rig(p["cameras_config"] or share_file("config/cameras.yaml"), wanted or None)
        self.names = tuple(wanted) if wanted else self.rig.names
        self.base_frame = p["base_frame"]
        self.timeout_s = float(p["capture_timeout_s"])
        self._latest: dict[str, tuple] = {}
        self._lock = threading.Lock()

        import message_filters
        import tf2_ros
        from diffgrasp_interfaces.msg import MultiViewDepth
        from diffgrasp_interfaces.srv import CaptureScene
        from sensor_msgs.msg import CameraInfo, Image

        sensors = ReentrantCallbackGroup()
        self._syncs = []
        for cam in self.names:
            depth = message_filters.Subscriber(self, Image, p["depth_topic"].format(name=cam),
                                               qos_profile=qos_profile_sensor_data, callback_group=sensors)
            info = message_filters.Subscriber(self, CameraInfo, p["info_topic"].format(name=cam),
                                              qos_profile=qos_profile_sensor_data, callback_group=sensors)
            sync = message_filters.ApproximateTimeSynchronizer([depth, info], queue_size=5, slop=p["sync_slop_s"])
            sync.registerCallback(lambda d, i, name=cam: self._on_frame(name, d, i))
            self._syncs.append(sync)
        self.tf_buffer = tf2_ros.Buffer()
        self.tf_listener = tf2_ros.TransformListener(self.tf_buffer, self, spin_thread=False)
        if self.rig is not None and p["publish_calibration"]:
            self._static_tf = tf2_ros.StaticTransformBroadcaster(self)
            self._static_tf.sendTransform(self._calibration_transforms())
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.views_pub = self.create_publisher(MultiViewDepth, "views", latched)
        self.create_service(CaptureScene, "capture_scene", self._on_capture,
                            callback_group=MutuallyExclusiveCallbackGroup())
        self.get_logger().info(f"capturing {', '.join(self.names)} in {self.base_frame}")

    def _calibration_transforms(self) -> list:
        """cameras.yaml parent_to_link of every camera → TransformStamped (the driver publishes link → optical)."""
        from diffgrasp_ros.conversions import transform_to_ros
        from diffgrasp_ros.message_factory import RclpyFactory

        f = RclpyFactory()
        stamp = self.get_clock().now().nanoseconds
        return [transform_to_ros(f, cam.parent_to_link.matrix(f"{cam.name}.parent_to_link"), cam.parent_frame,
                                 f"{cam.name}_link", stamp) for cam in self.rig.cameras]

    def _on_frame(self, name: str, depth, info) -> None:
        with self._lock:
            self._latest[name] = (depth, info)

    def _on_capture(self, request, response):
        from diffgrasp_ros.action_messages import capture_response_to_ros
        from diffgrasp_ros.conversions import time_from_ros
        from diffgrasp_ros.message_factory import RclpyFactory

        f = RclpyFactory()
        codes = type(response)
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
        import tf2_ros
        from diffgrasp_interfaces.msg import MultiViewDepth
        from rclpy.time import Time

        views = MultiViewDepth()
        views.header.frame_id = self.base_frame
        views.header.stamp = self.get_clock().now().to_msg()
        for n in names:
            depth, info = fresh[n]
            try:
                tf = self.tf_buffer.lookup_transform(self.base_frame, depth.header.frame_id, Time())
            except tf2_ros.TransformException as err:
                return capture_response_to_ros(f, codes.MISSING_CALIBRATION,
                                               f"missing calibration for {n} ({depth.header.frame_id}): {err}", None)
            views.camera_names.append(n)
            views.depth.append(depth)
            views.camera_info.append(info)
            views.base_to_camera.append(tf)
        self.views_pub.publish(views)
        return capture_response_to_ros(f, codes.SUCCESS, "", views)


def main(args=None) -> None:
    spin_node(CaptureNode, num_threads=4, args=args)


if __name__ == "__main__":
    main()
