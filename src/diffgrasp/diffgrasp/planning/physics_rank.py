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
    test = dataclasses.replace(EvaluateConfig(), coacd=config.coacd)  # the physics test's own scene and ramps
    prepared = prepare_mesh(mesh, test, name=name, progress=False)
    model, index = build_scene(prepared.pieces, prepared.com, prepared.inertia, test.scene_params())
    displacement, rotation = SettleSimulator(model, index, test, threads=config.threads).settle(
        **phases, push_s=config.push_s)
    return SettleMotion(displacement, rotation, time.perf_counter() - t0, prepared.decomposition_seconds)


@dataclasses.dataclass
class PhaseChoice:
    """Per candidate (N,): the chosen squeeze (N, 22) and pregrasp joints (N, 22) and the motion they cause."""

    squeeze_joints: np.ndarray
    pregrasp_joints: np.ndarray
    motion: SettleMotion


def best_phase_variants(post, closed, index: np.ndarray, poses: dict[str, np.ndarray], file_object,
                        config) -> PhaseChoice:
    """Simulate candidates ``index`` (N,) of ``closed`` (ClosedGrasps, via GraspPostprocessor ``post``) with every
    squeeze amount × pregrasp opening of ``config.physics_rank`` and keep each candidate's least-moving pair.

    poses (file frame): pregrasp_position (N, 3), pregrasp_quat_wxyz (N, 4) (= the grasp's), grasp_position (N, 3),
    grasp_joints (N, 22). file_object: ObjectModel of the mesh in that frame. config: PlannerConfig.
    """
    rank = config.physics_rank
    pairs = [(s, o) for s in (rank.squeeze_rad or (config.post.squeeze_rad,))
             for o in (rank.pregrasp_open_rad or (config.post.pregrasp_open_rad,))]
    variants = [post.phases(closed, s, o) for s, o in pairs]
    squeezes = np.stack([ph["squeeze_joints"].cpu().numpy()[index] for ph in variants])  # (V, N, 22)
    openings = np.stack([ph["pregrasp_joints"].cpu().numpy()[index] for ph in variants])
    v, n = len(pairs), len(index)
    tile = lambda a: np.tile(a, (v, 1))  # noqa: E731  variant-major, as squeezes.reshape(v * n, 22)
    motion = settle_motion(file_object.mesh, file_object.name or "object", {
        "pregrasp_position": tile(poses["pregrasp_position"]), "pregrasp_quat_wxyz": tile(poses["pregrasp_quat_wxyz"]),
        "pregrasp_joints": openings.reshape(v * n, 22), "grasp_position": tile(poses["grasp_position"]),
        "grasp_quat_wxyz": tile(poses["pregrasp_quat_wxyz"]), "grasp_joints": tile(poses["grasp_joints"]),
        "squeeze_joints": squeezes.reshape(v * n, 22)}, rank)
    best = motion.score(rank).reshape(v, n).argmin(0)  # (N,) each candidate's best variant
    pick = best * n + np.arange(n)
    chosen = SettleMotion(motion.displacement_m[pick], motion.rotation_deg[pick], motion.seconds,
                          motion.decomposition_seconds)
    return PhaseChoice(squeezes[best, np.arange(n)], openings[best, np.arange(n)], chosen)


__all__ = ["PhaseChoice", "SettleMotion", "best_phase_variants", "settle_motion"]
