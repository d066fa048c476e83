"""Execution stage of the embedded pipeline: the robot scene in MuJoCo with the TRUE object at its true pose, the
grasps with the PERCEIVED pose (as on the robot), rendered frames for the pictures."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import trimesh

from diffgrasp.demo.progress import progress_bar
from diffgrasp.execution import ExecutionConfig, ExecutionResult, MujocoExecutionBackend
from diffgrasp.grasps import Grasp
from diffgrasp.sim.robot_scene import OVERVIEW_CAMERA, load_camera_poses

__all__ = ["execute_grasps"]


def execute_grasps(true_mesh: trimesh.Trimesh, true_pose: np.ndarray, grasps: list[Grasp], perceived_pose: np.ndarray,
                   exec_cfg: ExecutionConfig, rig_path: Path, seed: int, progress: bool, execute: bool = True
                   ) -> tuple[ExecutionResult | None, list[tuple[str, float]], np.ndarray]:
    """Build the MuJoCo scene with the true object (``true_mesh``, object file frame, at ``true_pose`` (4, 4) →
    world; the rig's cameras from ``rig_path``) and execute ``grasps`` (perceived object frame, best first; placed by
    ``perceived_pose`` (4, 4)) unless ``execute`` is false (result None). Returns the result, the (phase, sim time s)
    of every rendered frame and an overview picture (H, W, 3) uint8 of the scene at rest."""
    backend = MujocoExecutionBackend(true_mesh, object_pose_world=true_pose, config=exec_cfg,
                                     cameras=load_camera_poses(rig_path))
    scene = backend.scene
    scene.reset()
    width, height = exec_cfg.render_size
    renderer = mujoco.Renderer(scene.model, height=height, width=width)
    try:
        renderer.update_scene(scene.data, camera=OVERVIEW_CAMERA)
        scene_image = renderer.render().copy()
    finally:
        renderer.close()
    phases: list[tuple[str, float]] = []
    bar = progress_bar(progress and execute, None, "execute")

    def on_frame(phase: str, sim_time: float, model, data) -> None:
        phases.append((phase, sim_time))
        if bar is not None:
            bar.set_description(f"execute: {phase}", refresh=False)
            bar.update(1)

    if not execute:
        return None, phases, scene_image
    try:
        result = backend.execute(grasps, perceived_pose, render_camera=OVERVIEW_CAMERA, frame_callback=on_frame,
                                 seed=seed)
    finally:
        if bar is not None:
            bar.close()
    return result, phases, scene_image
