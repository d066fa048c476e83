"""Physics numbers of the MuJoCo scene (design notes §7), one layer below ``evaluate_config.py`` (whose defaults fill
them) and ``hand_scene.py`` (which builds the scene from them and re-exports the name): the import graph is one-way,
scene_params ← evaluate_config ← hand_scene."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SceneParams:
    """Physics numbers of the scene; the defaults (§7) live once, in EvaluateConfig (``scene_params()``)."""

    timestep: float
    impratio: float
    noslip_iterations: int
    friction: float
    torsional_friction: float
    object_mass: float
    kp: float
    force_limit: float


__all__ = ["SceneParams"]
