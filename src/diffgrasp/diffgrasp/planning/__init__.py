"""Grasp planning: initialisation, batched differentiable refinement, post-processing, ranking (design notes §6)."""

from diffgrasp.planning.plan_result import PlanResult, ProgressInfo
from diffgrasp.planning.planner import plan_grasps
from diffgrasp.planning.planner_config import (InitConfig, OptimConfig, PhysicsRankConfig, PlannerConfig,
                                              PostprocessConfig, ReseedConfig)

__all__ = ["InitConfig", "OptimConfig", "PhysicsRankConfig", "PlanResult", "PlannerConfig", "PostprocessConfig",
           "ProgressInfo", "ReseedConfig", "plan_grasps"]
