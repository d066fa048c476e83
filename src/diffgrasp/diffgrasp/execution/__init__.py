"""Grasp execution: the backend interface (phases as data, results) and the MuJoCo backend with UR10e IK."""

from diffgrasp.execution.backend import (
    PHASES,
    REASONS,
    CandidateReport,
    ExecutionBackend,
    ExecutionResult,
    GraspPlan,
    Segment,
    Trajectories,
)
from diffgrasp.execution.execution_config import ExecutionConfig, IKConfig
from diffgrasp.execution.grasp_planning import GraspPlanner
from diffgrasp.execution.ik import IKResult, SerialChain, solve_dls, solve_ik
from diffgrasp.execution.mujoco_backend import MujocoExecutionBackend

__all__ = [
    "PHASES", "REASONS", "CandidateReport", "ExecutionBackend", "ExecutionConfig", "ExecutionResult", "GraspPlan",
    "GraspPlanner", "IKConfig", "IKResult", "MujocoExecutionBackend", "SerialChain", "Segment", "Trajectories",
    "solve_dls", "solve_ik",
]
