"""Inference node: PredictGrasps action around the grasp network (object-centred depth views → grasps).

A lifecycle node: the network is loaded on configure (``checkpoint``, "" = the packaged one) and freed on cleanup.
Goals are validated in the goal callback (rejected naming the bad field); cancellation is honoured between rendering
and inference.
"""

from __future__ import annotations

import time
from typing import Any

import trimesh

from diffgrasp.grasps import GraspSet
from diffgrasp.network import GraspPredictor
from diffgrasp_interfaces.action import PredictGrasps
from diffgrasp_ros.action_messages import predict_feedback_to_ros, predict_goal_from_ros, predict_result_to_ros
from diffgrasp_ros.conversions import grasp_set_to_ros
from diffgrasp_ros.lifecycle import ExclusiveActionServer, Param, StageNode
from diffgrasp_ros.message_factory import RclpyFactory
from diffgrasp_ros.spin import spin_node


class InferenceNode(StageNode):
    PARAMETERS = {
        "checkpoint": Param("", "network checkpoint (.pt); '' = the packaged checkpoint"),
        "device": Param("cpu", "torch device: cpu or cuda"),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("inference", **kwargs)
        self.predictor: GraspPredictor | None = None
        self.server: ExclusiveActionServer | None = None

    def configure(self, params: dict[str, Any]) -> None:
        self.predictor = GraspPredictor(params["checkpoint"] or None, device=params["device"])
        self.server = ExclusiveActionServer(self, PredictGrasps, "predict_grasps", validate=predict_goal_from_ros,
                                            run=self._predict)
        self.get_logger().info(f"network loaded on {params['device']}")

    def cleanup(self) -> None:
        if self.server is not None:
            self.server.destroy()
        self.server, self.predictor = None, None

    def _predict(self, goal_handle: Any) -> Any:
        f, codes = RclpyFactory(), PredictGrasps.Result
        start = time.monotonic()
        try:
            req = predict_goal_from_ros(goal_handle.request)
            obs = req.observation
            source = (trimesh.Trimesh(obs.vertices, obs.faces, process=False) if len(obs.vertices)
                      else trimesh.load(obs.mesh_path, force="mesh"))
            goal_handle.publish_feedback(predict_feedback_to_ros(f, "rendering", 0.0))
            views, centre = self.predictor.views(source)
            if goal_handle.is_cancel_requested:
                goal_handle.canceled()
                return predict_result_to_ros(f, codes.CANCELLED, "cancelled before inference")
            goal_handle.publish_feedback(predict_feedback_to_ros(f, "inference", 0.5))
            grasps = self.predictor.predict_views(views, centre, req.num_grasps)
        except ValueError as err:
            goal_handle.abort()
            return predict_result_to_ros(f, codes.INVALID_GOAL, str(err))
        grasp_set = GraspSet(obs.object_id, obs.mesh_path, grasps)
        msg = grasp_set_to_ros(f, grasp_set, object_id=obs.object_id, frame_id="object",
                               stamp_ns=self.get_clock().now().nanoseconds, source="network")
        goal_handle.succeed()
        return predict_result_to_ros(f, codes.SUCCESS, "", msg, time.monotonic() - start)


def main(args=None) -> None:
    spin_node(InferenceNode, num_threads=2, args=args)


if __name__ == "__main__":
    main()
