"""MuJoCo simulation: the physics test of grasps (design notes §7) and the robot scene.

Light on purpose: nothing heavy is imported here. Entry points (import the submodules):
``diffgrasp.sim.evaluate.evaluate_grasps`` / ``EvaluationReport``, ``diffgrasp.sim.evaluate_config.EvaluateConfig``,
``diffgrasp.sim.hand_scene`` (hand–object scene), ``diffgrasp.sim.grasp_test`` (the test of one grasp),
``diffgrasp.sim.render_grasp`` (PNG views),
``diffgrasp.sim.autoclose`` (close fingers until contact). ``evaluate_grasps`` and ``EvaluateConfig`` are also
available as attributes of this package (imported on first access).
"""

from __future__ import annotations

from typing import Any

__all__ = ["EvaluateConfig", "EvaluationReport", "evaluate_grasps"]


def __getattr__(name: str) -> Any:
    if name in ("evaluate_grasps", "EvaluationReport"):
        from diffgrasp.sim import evaluate
        return getattr(evaluate, name)
    if name == "EvaluateConfig":
        from diffgrasp.sim.evaluate_config import EvaluateConfig
        return EvaluateConfig
    raise AttributeError(f"module 'diffgrasp.sim' has no attribute {name!r}")
