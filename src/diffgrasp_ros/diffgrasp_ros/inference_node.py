"""Inference node: PredictGrasps action around the grasp network (object-centred depth views → grasps).

The network is loaded once at start (``checkpoint``, "" = the packaged one). Goals are validated in the goal callback
(rejected naming the bad field); cancellation is honoured between rendering and inference.
"""

from __future__ import annotations

import time

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from diffgrasp_ros.spin import spin_node

PARAMETERS = {
    "checkpoint": "",        # network checkpoint (.pt); "" = the packaged checkpoint
    "device": "cpu",         # torch device: cpu or cuda
}


class InferenceNode(Node):
    def __init__(self) -> None:
        super().__init__("inference")
        for name, default in PARAMETERS.items():
            self.declare_parameter(name, default)
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        from diffgrasp.network import GraspPredictor

        self.predictor = GraspPredictor(p["checkpoint"] or None, device=p["device"])
        from diffgrasp_interfaces.action import PredictGrasps

        self.server = ActionServer(self, PredictGrasps, "predict_grasps", execute_callback=self._execute,
                                   goal_callback=self._on_goal, cancel_callback=lambda _: CancelResponse.ACCEPT,
                                   callback_group=ReentrantCallbackGroup())
        self.get_logger().info(f"network loaded on {p['device']}")

    def _on_goal(self, goal) -> GoalResponse:
        from diffgrasp_ros.action_messages import predict_goal_from_ros

        try:
            predict_goal_from_ros(goal)
        except ValueError as err:
            self.get_logger().warn(f"rejected PredictGrasps goal: {err}")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _execute(self, goal_handle):
        import trimesh
        from diffgrasp.grasps import GraspSet
        from diffgrasp_interfaces.action import PredictGrasps

        from diffgrasp_ros.action_messages import predict_feedback_to_ros, predict_goal_from_ros, predict_result_to_ros
        from diffgrasp_ros.conversions import grasp_set_to_ros
        from diffgrasp_ros.message_factory import RclpyFactory

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
        except (RuntimeError, FileNotFoundError) as err:
            goal_handle.abort()
            return predict_result_to_ros(f, codes.FAILED, str(err))
        grasp_set = GraspSet(obs.object_id, obs.mesh_path, grasps)
        msg = grasp_set_to_ros(f, grasp_set, object_id=obs.object_id, frame_id="object",
                               stamp_ns=self.get_clock().now().nanoseconds, source="network")
        goal_handle.succeed()
        return predict_result_to_ros(f, codes.SUCCESS, "", msg, time.monotonic() - start)


def main(args=None) -> None:
    spin_node(InferenceNode, num_threads=2, args=args)


if __name__ == "__main__":
    main()
