"""Refinement node: RefineGrasps action server around ``diffgrasp.planning.plan_grasps`` (a lifecycle node).

- configure: reads the planner YAML; the action server exists from then on and accepts goals only while active.
- One goal at a time (a second one is rejected while one runs); invalid goals are rejected naming the field.
- Feedback every ``feedback_every`` iterations (the planner's progress callback); cancellation is checked between
  iterations (``should_cancel``) and returns the best grasps found so far with CANCELLED.
- MultiThreadedExecutor: goal/cancel requests are served while refinement runs (torch releases the GIL).
- ``rehearse_grasps: N`` (> 0): afterwards the best N grasps are rehearsed, as the embedded demo does, by the MuJoCo
  execution of the UR10e + Shadow hand on the perceived object (the observation's mesh, shrunk by
  ``rehearse_shrink_m``, at its perceived pose; cell from ``execution_config``) until ``rehearse_passes`` lifted; those
  that lifted go first, those that failed last (metric ``rehearsal_lifted`` 1/0). Off by default: it models the
  robot cell of config/execution.yaml (``diffgrasp ros-sim`` turns it on).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import trimesh

from diffgrasp.demo import DemoConfig
from diffgrasp.demo.grasps import approach_elevation_deg, forearm_elevation_deg
from diffgrasp.demo.verify import rehearse_grasps, verified_order
from diffgrasp.execution import ExecutionConfig
from diffgrasp.geometry import ObjectModel
from diffgrasp.grasps import GraspSet
from diffgrasp.planning.planner import plan_grasps
from diffgrasp.planning.planner_config import PlannerConfig
from diffgrasp_interfaces.action import RefineGrasps
from diffgrasp_ros.action_messages import refine_feedback_to_ros, refine_goal_from_ros, refine_result_to_ros
from diffgrasp_ros.conversions import grasp_set_to_ros
from diffgrasp_ros.lifecycle import ExclusiveActionServer, Param, StageNode
from diffgrasp_ros.message_factory import RclpyFactory
from diffgrasp_ros.node_support import apply_overrides, load_core_config
from diffgrasp_ros.spin import spin_node


class RefinementNode(StageNode):
    PARAMETERS = {
        "planner_config": Param("", "core PlannerConfig YAML (config/planner.yaml); '' = the dataclass defaults"),
        "device": Param("cpu", "torch device: cpu or cuda"),
        "feedback_every": Param(10, "publish feedback every N iterations", (1, 10000)),
        "min_approach_elevation_deg": Param(DemoConfig.min_approach_elevation_deg,
                                            "with a table in the observation: initial grasps approaching from lower "
                                            "than this above it are dropped (the planner starts others)",
                                            (-90.0, 90.0)),
        "min_forearm_elevation_deg": Param(DemoConfig.min_forearm_elevation_deg,
                                           "... and those whose forearm points lower than this", (-90.0, 90.0)),
        "rehearse_grasps": Param(0, "rehearse up to N refined grasps in MuJoCo on the perceived object (0 = off)",
                                 (0, 1000)),
        "rehearse_passes": Param(1, "stop the rehearsal after this many lifted", (1, 1000)),
        "rehearse_shrink_m": Param(0.0015, "the rehearsal's object is the observed mesh shrunk by this (m)",
                                   (0.0, 0.05)),
        "execution_config": Param("", "core ExecutionConfig YAML of the rehearsal; '' = the config/execution.yaml "
                                      "defaults"),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("refinement", **kwargs)
        self.server: ExclusiveActionServer | None = None
        self.config: PlannerConfig | None = None

    def configure(self, params: dict[str, Any]) -> None:
        self.config = load_core_config(PlannerConfig, params["planner_config"])
        self.execution_config = load_core_config(ExecutionConfig, params["execution_config"])
        self.device, self.feedback_every = params["device"], int(params["feedback_every"])
        self.server = ExclusiveActionServer(self, RefineGrasps, "refine_grasps", validate=self._validate,
                                            run=self._refine)

    def cleanup(self) -> None:
        if self.server is not None:
            self.server.destroy()
            self.server = None

    def _validate(self, goal: Any) -> None:
        req = refine_goal_from_ros(goal)
        apply_overrides(self.config, req.max_iterations, req.weights, req.timeout_s, self.feedback_every)

    def _refine(self, goal_handle: Any) -> Any:
        f, codes = RclpyFactory(), RefineGrasps.Result
        start = time.monotonic()
        try:
            req = refine_goal_from_ros(goal_handle.request)
            config = apply_overrides(self.config, req.max_iterations, req.weights, req.timeout_s, self.feedback_every)
        except ValueError as err:
            goal_handle.abort()
            return refine_result_to_ros(f, codes.INVALID_GOAL, str(err))
        obs = req.observation
        initial = None if req.initial_grasps is None else list(req.initial_grasps.grasps)
        if obs.support_plane:  # the table fusion saw: the planner keeps the hand above it, starts from above
            config = dataclasses.replace(config, support_plane=tuple(obs.support_plane))
            initial = self._from_above(initial, tuple(obs.support_plane[:3]))

        def progress(info) -> None:  # ProgressInfo, every optim.feedback_every iterations (set from feedback_every)
            goal_handle.publish_feedback(refine_feedback_to_ros(f, info.iteration, info.total_iterations,
                                                                info.best_loss, info.terms, info.elapsed_s))

        try:
            with tempfile.TemporaryDirectory() as tmp:  # ObjectModel validates a mesh file (watertight, units)
                path = Path(tmp) / f"{obs.object_id or 'object'}.ply"
                trimesh.Trimesh(obs.vertices, obs.faces, process=False).export(path)
                obj = ObjectModel.from_file(path)
                result = plan_grasps(obj, k=req.num_grasps, seed=req.seed, config=config, device=self.device,
                                     progress=progress, should_cancel=lambda: goal_handle.is_cancel_requested,
                                     initial_grasps=initial)
        except (ValueError, FileNotFoundError) as err:
            goal_handle.abort()
            return refine_result_to_ros(f, codes.INVALID_GOAL, str(err))
        grasps = list(result.grasps)
        if self.params["rehearse_grasps"] > 0 and grasps and result.status != "cancelled":
            grasps = self._rehearsed(obs, grasps, req.seed)
        grasp_set = GraspSet(obs.object_id, obs.mesh_path, grasps)
        set_msg = grasp_set_to_ros(f, grasp_set, object_id=obs.object_id, frame_id="object",
                                   stamp_ns=self.get_clock().now().nanoseconds, source="refined")
        fields = dict(status=result.status, grasp_set_msg=set_msg, iterations=result.iterations,
                      best_loss=result.best_loss, loss_terms=result.loss_terms,
                      planning_time_s=time.monotonic() - start)
        if result.status == "cancelled":
            goal_handle.canceled()
            return refine_result_to_ros(f, codes.CANCELLED, "cancelled: best grasps so far", **fields)
        if not grasps:
            goal_handle.abort()
            return refine_result_to_ros(f, codes.NO_VALID_GRASP, "no acceptable grasp", **fields)
        goal_handle.succeed()
        if result.status == "time_budget":
            return refine_result_to_ros(f, codes.TIME_BUDGET, "time budget reached", **fields)
        return refine_result_to_ros(f, codes.SUCCESS, "", **fields)

    def _from_above(self, grasps: list | None, up: tuple[float, float, float]) -> list | None:
        """Initial grasps approaching from above the table (as the demo's network stage keeps them); None if none."""
        if not grasps:
            return None
        kept = [g for g in grasps if approach_elevation_deg(g, up) >= self.params["min_approach_elevation_deg"]
                and forearm_elevation_deg(g, up) >= self.params["min_forearm_elevation_deg"]]
        self.get_logger().info(f"{len(kept)} of {len(grasps)} initial grasps approach from above the table")
        return kept or None

    def _rehearsed(self, obs: Any, grasps: list, seed: int) -> list:
        """Grasps reordered by a rehearsal on the perceived object (see the module docstring)."""
        mesh = trimesh.Trimesh(obs.vertices, obs.faces, process=False)
        rehearsal = rehearse_grasps(mesh, obs.object_to_world, grasps, self.execution_config,
                                    int(self.params["rehearse_grasps"]), int(self.params["rehearse_passes"]),
                                    seed=seed, shrink_m=float(self.params["rehearse_shrink_m"]))
        lifted, tested = set(rehearsal.passed), {r["rank"] for r in rehearsal.tested}
        for rank, grasp in enumerate(grasps):
            if rank in tested:
                grasp.metrics["rehearsal_lifted"] = float(rank in lifted)
        self.get_logger().info(f"rehearsal: {len(lifted)} of {len(tested)} tested lifted")
        return [grasps[i] for i in verified_order(len(grasps), rehearsal)]


def main(args=None) -> None:
    spin_node(RefinementNode, num_threads=3, args=args)


if __name__ == "__main__":
    main()
