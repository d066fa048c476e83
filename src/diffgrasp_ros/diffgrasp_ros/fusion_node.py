"""Fusion node: FuseScene service (multi-view depth → watertight object mesh, cloud and object frame); lifecycle node.

Uses the request's views, or the latest capture received on ``views`` (latched MultiViewDepth of the capture node).
Publishes the ObjectObservation on ``observation`` (latched), the fused cloud on ``object_cloud`` (object frame) and
the object frame ``base_frame → <object_id>`` on /tf_static (latched: a subscriber that starts later still gets it;
a new fusion of the same object id replaces it). Fusion parameters: the core's ``config/fusion.yaml``.
"""

from __future__ import annotations

import threading
from typing import Any

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2

from diffgrasp.io import atomic_write
from diffgrasp.perception.fusion import FusionConfig, fuse
from diffgrasp_interfaces.msg import MultiViewDepth, ObjectObservation
from diffgrasp_interfaces.srv import FuseScene
from diffgrasp_ros.action_messages import fuse_response_to_ros
from diffgrasp_ros.conversions import time_from_ros, transform_to_ros
from diffgrasp_ros.lifecycle import Param, StageNode
from diffgrasp_ros.message_factory import RclpyFactory
from diffgrasp_ros.node_support import load_core_config
from diffgrasp_ros.sensor_conversions import (
    capture_from_views,
    multiview_from_ros,
    observation_from_fusion,
    observation_to_ros,
)
from diffgrasp_ros.spin import spin_node
from diffgrasp_ros.static_tf import StaticBroadcaster

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class FusionNode(StageNode):
    PARAMETERS = {
        "fusion_config": Param("", "core FusionConfig YAML (config/fusion.yaml); '' = the dataclass defaults"),
        "mesh_dir": Param("", "if set, every fused mesh is also written here as <object_id>.ply"),
        "publish_tf": Param(True, "publish base_frame → object_id on /tf_static"),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("fusion", **kwargs)
        self._latest_views = None
        self._lock = threading.Lock()
        self.create_subscription(MultiViewDepth, "views", self._on_views, LATCHED,
                                 callback_group=MutuallyExclusiveCallbackGroup())
        self.observation_pub = self.create_publisher(ObjectObservation, "observation", LATCHED)
        self.cloud_pub = self.create_publisher(PointCloud2, "object_cloud", LATCHED)
        self.static_tf = StaticBroadcaster(self)
        self.service = None

    def configure(self, params: dict[str, Any]) -> None:
        self.config = load_core_config(FusionConfig, params["fusion_config"])
        self.mesh_dir, self.publish_tf = params["mesh_dir"], bool(params["publish_tf"])
        self.service = self.create_service(FuseScene, "fuse_scene", self._on_fuse,
                                           callback_group=MutuallyExclusiveCallbackGroup())

    def cleanup(self) -> None:
        if self.service is not None:
            self.destroy_service(self.service)
            self.service = None

    def _on_views(self, msg: Any) -> None:
        with self._lock:
            self._latest_views = msg

    def _on_fuse(self, request: Any, response: Any) -> Any:
        f, codes = RclpyFactory(), FuseScene.Response
        if not self.active:
            return fuse_response_to_ros(f, codes.FAILED, "fusion node is not active", None)
        with self._lock:
            views_msg = request.views if len(request.views.camera_names) else self._latest_views
        if views_msg is None:
            return fuse_response_to_ros(f, codes.NO_CAPTURE, "no views in the request and none received", None)
        object_id = request.object_id or "object"
        try:
            views = multiview_from_ros(views_msg)
            result = fuse(capture_from_views(views), self.config)
        except ValueError as err:
            code = codes.EMPTY_OBJECT if "absent" in str(err) else codes.INVALID_REQUEST
            return fuse_response_to_ros(f, code, str(err), None)
        except RuntimeError as err:
            return fuse_response_to_ros(f, codes.FAILED, str(err), None)
        mesh_path = request.mesh_path or (f"{self.mesh_dir}/{object_id}.ply" if self.mesh_dir else "")
        stamp = time_from_ros(views_msg.header.stamp)
        obs = observation_from_fusion(result, object_id, views.base_frame, stamp, views.names, mesh_path)
        if mesh_path:
            mesh = result.mesh_in_object_frame()
            atomic_write(mesh_path, lambda tmp: mesh.export(tmp, file_type="ply"))
        msg = observation_to_ros(f, obs)
        self.observation_pub.publish(msg)
        self.cloud_pub.publish(msg.cloud)
        if self.publish_tf:
            self.static_tf.send([transform_to_ros(f, obs.object_to_world, obs.frame_id, object_id, stamp)])
        self.get_logger().info(f"fused {len(obs.vertices)} vertices from {', '.join(views.names)}")
        return fuse_response_to_ros(f, codes.SUCCESS, "", msg)


def main(args=None) -> None:
    spin_node(FusionNode, num_threads=2, args=args)


if __name__ == "__main__":
    main()
