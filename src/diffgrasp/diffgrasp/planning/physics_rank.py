"""Physics plausibility of planned grasps: how far each grasp's own closing and squeeze move the object in the
physics test's MuJoCo scene (diffgrasp.sim.settle), turned into a ranking score (lower is better)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import trimesh

from diffgrasp.planning.planner_config import PhysicsRankConfig


@dataclasses.dataclass
class SettleMotion:
    """Per grasp (N,): worst object displacement m and rotation deg during the settle and short pushes; seconds
    spent (decomposition included, also reported alone)."""

    displacement_m: np.ndarray
    rotation_deg: np.ndarray
    seconds: float
    decomposition_seconds: float

    def score(self, config: PhysicsRankConfig) -> np.ndarray:
        """(N,) rotation / rotation_scale + displacement / displacement_scale (inf: unstable simulation)."""
        return self.rotation_deg / config.rotation_scale_deg + self.displacement_m / config.displacement_scale_m


def settle_motion(mesh: trimesh.Trimesh, name: str, phases: dict[str, np.ndarray],
                  config: PhysicsRankConfig) -> SettleMotion:
    """Simulate the grasps' pregrasp → grasp → squeeze (and short pushes, ``config.push_s``) on ``mesh`` (its own
    frame, m).

    phases: pregrasp_position (N, 3), pregrasp_quat_wxyz (N, 4), pregrasp_joints (N, 22), grasp_position,
    grasp_quat_wxyz, grasp_joints, squeeze_joints — in the mesh's frame, as in the grasp file.
    """
    from diffgrasp.sim.evaluate import prepare_mesh
    from diffgrasp.sim.evaluate_config import EvaluateConfig
    from diffgrasp.sim.hand_scene import build_scene
    from diffgrasp.sim.settle import SettleSimulator

    t0 = time.perf_counter()
    test = EvaluateConfig()  # the physics test's own scene and ramps
    prepared = prepare_mesh(mesh, test, name=name, progress=False)
    model, index = build_scene(prepared.pieces, prepared.com, prepared.inertia, test.scene_params())
    displacement, rotation = SettleSimulator(model, index, test, threads=config.threads).settle(
        **phases, push_s=config.push_s)
    return SettleMotion(displacement, rotation, time.perf_counter() - t0, prepared.decomposition_seconds)


__all__ = ["SettleMotion", "settle_motion"]
