"""Grasp planning: initialisation, batched differentiable refinement, post-processing, ranking (design notes §6)."""

from diffgrasp.planning.deadline import Deadline
from diffgrasp.planning.plan_result import PlanResult, ProgressInfo
from diffgrasp.planning.planner import plan_grasps
from diffgrasp.planning.planner_config import (
    BudgetConfig,
    InitConfig,
    OptimConfig,
    PhysicsRankConfig,
    PlannerConfig,
    PostprocessConfig,
    ReseedConfig,
)
from diffgrasp.planning.scoring import GraspScorer, GraspSimulator, ScorerFactory

__all__ = ["BudgetConfig", "Deadline", "GraspScorer", "GraspSimulator", "InitConfig", "OptimConfig",
           "PhysicsRankConfig", "PlanResult", "PlannerConfig", "PostprocessConfig", "ProgressInfo", "ReseedConfig",
           "ScorerFactory", "plan_grasps"]
