"""MuJoCo simulation, in three subpackages with one job each (import their modules; nothing heavy is imported here).

``physics_test``: the physics test of grasps (design notes §7), the judge of every planner: ``evaluate.evaluate_grasps``
→ ``evaluation_report.EvaluationReport``, its ``evaluate_config.EvaluateConfig``, the hand–object scene
(``hand_scene``), the test of one grasp (``trial``), PNG views of the scene (``render``) and test grasps closed until
contact (``autoclose``).

``physics_rank``: the planner's default ``GraspScorer`` (``scorer.SettleScorer``): the physics test's scene, closed,
squeezed and pushed for many grasps at once with ``mujoco.rollout`` (``settle.SettleSimulator``).

``robot_scene``: the UR10e + Shadow hand + table + object + cameras scene of execution and the simulated cameras.

``evaluate_grasps``, ``EvaluationReport`` and ``EvaluateConfig`` are also attributes of this package (imported on first
access).
"""

from __future__ import annotations

from typing import Any

__all__ = ["EvaluateConfig", "EvaluationReport", "evaluate_grasps"]


def __getattr__(name: str) -> Any:
    if name == "evaluate_grasps":
        from diffgrasp.sim.physics_test.evaluate import evaluate_grasps  # mujoco: on first access only
        return evaluate_grasps
    if name == "EvaluationReport":
        from diffgrasp.sim.physics_test.evaluation_report import EvaluationReport
        return EvaluationReport
    if name == "EvaluateConfig":
        from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
        return EvaluateConfig
    raise AttributeError(f"module 'diffgrasp.sim' has no attribute {name!r}")
