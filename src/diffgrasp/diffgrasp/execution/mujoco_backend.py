"""MuJoCo execution backend: plan (reachability + collision filter) and run the phases in the robot scene.

The simulated world holds the true object (``mesh`` at ``object_pose_world`` given to the constructor); ``execute``
receives grasps with the *perceived* object pose, exactly as the robot would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
import trimesh

from diffgrasp.execution.backend import PHASES, ExecutionBackend, ExecutionResult, GraspPlan, Trajectories
from diffgrasp.execution.execution_config import ExecutionConfig
from diffgrasp.execution.grasp_planning import HAND, OBJECT, GraspPlanner
from diffgrasp.geometry.convex_decomposition import convex_pieces
from diffgrasp.grasps import Grasp
from diffgrasp.hand.names import COUPLED_FINGERS, JOINT_NAMES
from diffgrasp.sim.robot_scene import ARM_JOINT_NAMES, RobotScene, build_robot_scene, resting_pose

FrameCallback = Callable[[str, float, mujoco.MjModel, mujoco.MjData], None]
"""Called as ``callback(phase, sim_time_s, model, data)`` every ``render_every`` s of simulated time."""


def hand_ctrl_matrix(scene: RobotScene) -> tuple[np.ndarray, np.ndarray]:
    """(A,) hand actuator ids and (A, 24) matrix mapping canonical hand joint targets to their controls
    (tendon actuators ``rh_A_{FF,MF,RF,LF}J0`` take J1 + J2)."""
    ids, rows = [], []
    for name, act in sorted(scene.hand_ctrl.items(), key=lambda kv: kv[1]):
        row = np.zeros(len(JOINT_NAMES))
        joint = name.replace("rh_A_", "rh_")
        if joint.endswith("J0") and joint[3:5] in COUPLED_FINGERS:
            row[JOINT_NAMES.index(joint[:-1] + "1")] = row[JOINT_NAMES.index(joint[:-1] + "2")] = 1.0
        else:
            row[JOINT_NAMES.index(joint)] = 1.0
        ids.append(act)
        rows.append(row)
    return np.array(ids, dtype=int), np.stack(rows)


class MujocoExecutionBackend(ExecutionBackend):
    """Executes grasps with the UR10e + Shadow hand in MuJoCo.

    mesh: the true object (trimesh, its file frame, m); object_pose_world: (4, 4) where it rests (default: on the
    table centre); convex_parts: its convex pieces in the mesh frame (default: CoACD pieces from
    ``diffgrasp.geometry.convex_decomposition`` (cached) when ``config.convex_decomposition``, else the convex hull);
    cameras: see ``load_camera_poses``.
    """

    def __init__(self, mesh: trimesh.Trimesh, object_pose_world: np.ndarray | None = None,
                 config: ExecutionConfig = ExecutionConfig(), convex_parts: list[trimesh.Trimesh] | None = None,
                 cameras: dict[str, tuple[np.ndarray, float]] | None = None) -> None:
        self.config = config
        self.object_pose_world = resting_pose(mesh) if object_pose_world is None else np.asarray(object_pose_world)
        if convex_parts is None and config.convex_decomposition:
            convex_parts = [trimesh.Trimesh(v, f, process=False) for v, f in convex_pieces(mesh, progress=False)]
        self.scene = build_robot_scene(mesh, self.object_pose_world, convex_parts, config.scene, cameras)
        self.planner = GraspPlanner(self.scene, config)
        self._hand_ids, self._hand_map = hand_ctrl_matrix(self.scene)
        self._stop = threading.Event()

    def stop(self) -> None:
        """Hold the arm and hand where they are from the next control step on; ``execute`` returns ``cancelled``
        after ``config.stop_time`` s of simulated time at rest."""
        self._stop.set()

    @classmethod
    def from_file(cls, path: str | Path, scale: float = 1.0, **kwargs: Any) -> MujocoExecutionBackend:
        """Load the object mesh from ``path`` (m, times ``scale``)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"object mesh not found: {path}")
        mesh = trimesh.load(path, force="mesh")
        mesh.apply_scale(scale)
        return cls(mesh, **kwargs)

    def execute(self, grasps: Sequence[Grasp], object_pose_world: np.ndarray, render_camera: str | None = None,
                frame_callback: FrameCallback | None = None, seed: int = 0,
                phase_callback: Callable[[str], None] | None = None, **_: Any) -> ExecutionResult:
        """Plan and run the best feasible grasp. ``render_camera``: a camera name of the scene (e.g. ``overview``)
        whose frames are returned in ``result.frames``; ``frame_callback`` is called at the same times;
        ``phase_callback(phase)`` when a phase starts."""
        pose = np.asarray(object_pose_world, dtype=float)
        if pose.shape != (4, 4) or not np.isfinite(pose).all():
            raise ValueError(f"object_pose_world: expected a finite (4, 4) matrix, got shape {pose.shape}")
        if render_camera is not None and mujoco.mj_name2id(self.scene.model, mujoco.mjtObj.mjOBJ_CAMERA,
                                                           render_camera) < 0:
            raise ValueError(f"render_camera: no camera named {render_camera!r} in the scene")
        if len(grasps) == 0:
            return ExecutionResult(False, "home", "no_grasps", None, "no grasps given")
        self._stop.clear()
        start = time.perf_counter()
        plan, reports = self.planner.plan(grasps, pose, seed=seed)
        timings = {"plan": time.perf_counter() - start}
        if self._stop.is_set():
            return ExecutionResult(False, "home", "cancelled", None, "stopped before moving", timings=timings,
                                   candidates=reports, object_lifted=False)
        if plan is None:
            reasons = {r.reason for r in reports}
            reason = "collision" if "collision" in reasons else "unreachable"
            first = next(r for r in reports if r.reason == reason)
            message = f"no feasible grasp among {len(reports)}; grasp {first.grasp_index}: {first.message}"
            return ExecutionResult(False, "home", reason, None, message, timings=timings, candidates=reports)
        result = self.run(plan, render_camera, frame_callback, phase_callback)
        result.timings = {**timings, **result.timings}
        result.candidates = reports
        return result

    def run(self, plan: GraspPlan, render_camera: str | None = None, frame_callback: FrameCallback | None = None,
            phase_callback: Callable[[str], None] | None = None) -> ExecutionResult:
        """Simulate the plan's segments from a reset scene and judge the lift."""
        cfg, scene = self.config, self.scene
        m, d = scene.model, scene.data
        scene.reset()
        rest_z = float(d.xipos[scene.object_body][2])
        rest_pos = d.xipos[scene.object_body].copy()
        renderer = None
        if render_camera is not None:
            renderer = mujoco.Renderer(m, height=cfg.render_size[1], width=cfg.render_size[0])
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = int(cfg.render_shadows)
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        record_every = max(1, round(0.01 / m.opt.timestep))
        render_every = max(1, round(cfg.render_every / m.opt.timestep))
        rec_t, rec_arm, rec_hand, rec_obj, rec_phase, frames = [], [], [], [], [], []
        timings: dict[str, float] = {}
        phase_reached, step = "home", 0
        outcome: tuple[str, str] | None = None
        stop_steps = max(1, round(cfg.stop_time / m.opt.timestep))
        stopped_at: int | None = None
        try:
            for seg in plan.segments:
                if phase_callback is not None and seg.phase != phase_reached:
                    phase_callback(seg.phase)
                phase_reached = seg.phase
                wall = time.perf_counter()
                n_steps = max(1, round(seg.duration / m.opt.timestep))
                k = 0
                while k < n_steps or (stopped_at is not None and step - stopped_at < stop_steps):
                    if stopped_at is None and self._stop.is_set():  # hold here: targets = where the joints are
                        stopped_at = step
                        d.ctrl[scene.arm_ctrl] = d.qpos[scene.arm_qpos]
                        d.ctrl[self._hand_ids] = self._hand_map @ d.qpos[scene.hand_qpos]
                    if stopped_at is None:
                        arm, hand = seg.targets((k + 1) * m.opt.timestep)
                        d.ctrl[scene.arm_ctrl] = arm
                        d.ctrl[self._hand_ids] = self._hand_map @ hand
                    elif step - stopped_at >= stop_steps:
                        break
                    mujoco.mj_step(m, d)
                    step += 1
                    k += 1
                    if step % record_every == 0:
                        rec_t.append(d.time)
                        rec_arm.append(d.qpos[scene.arm_qpos].copy())
                        rec_hand.append(d.qpos[scene.hand_qpos].copy())
                        rec_obj.append(d.xipos[scene.object_body].copy())
                        rec_phase.append(seg.phase)
                    if step % render_every == 0 and (renderer is not None or frame_callback is not None):
                        if renderer is not None:
                            renderer.update_scene(d, camera=render_camera)
                            frames.append(renderer.render().copy())
                        if frame_callback is not None:
                            frame_callback(seg.phase, float(d.time), m, d)
                timings[seg.phase] = timings.get(seg.phase, 0.0) + time.perf_counter() - wall
                if stopped_at is not None:
                    outcome = ("cancelled", f"stopped during the {seg.phase} at {stopped_at * m.opt.timestep:.2f} s "
                                            "of simulated time")
                    break
                outcome = self._judge(seg.phase, rest_pos, rest_z)
                if outcome is not None:
                    break
        finally:
            if renderer is not None:
                renderer.close()
        lift = float(d.xipos[scene.object_body][2] - rest_z)
        timings["sim_time"] = float(d.time)
        if stopped_at is not None:
            timings["stop_sim_time"] = stopped_at * m.opt.timestep
        traj = Trajectories(time=np.array(rec_t), arm_names=ARM_JOINT_NAMES, arm=np.array(rec_arm).reshape(-1, 6),
                            hand_names=JOINT_NAMES, hand=np.array(rec_hand).reshape(-1, 24),
                            object_position=np.array(rec_obj).reshape(-1, 3), phase=rec_phase)
        reason, message = outcome if outcome is not None else ("ok", f"lifted {100 * lift:.1f} cm and held")
        return ExecutionResult(success=reason == "ok", phase_reached=phase_reached, reason=reason,
                               grasp_index=plan.grasp_index, message=message, timings=timings, trajectories=traj,
                               lift_height=lift, frames=frames, object_lifted=lift >= cfg.success_height)

    def _hand_touches_object(self) -> bool:
        d = self.scene.data
        if d.ncon == 0:
            return False
        geom = d.contact.geom[: d.ncon]
        cls = self.planner.geom_class
        return bool((((cls[geom[:, 0]] == HAND) & (cls[geom[:, 1]] == OBJECT))
                     | ((cls[geom[:, 0]] == OBJECT) & (cls[geom[:, 1]] == HAND))).any())

    def _judge(self, phase: str, rest_pos: np.ndarray, rest_z: float) -> tuple[str, str] | None:
        """Failure (reason, message) detected at the end of a segment of ``phase``, or None to continue."""
        cfg, d, scene = self.config, self.scene.data, self.scene
        pos = d.xipos[scene.object_body]
        moved = float(np.linalg.norm(pos - rest_pos))
        if phase in ("pregrasp", "approach") and moved > 0.02:
            return "collision", f"the object was pushed {100 * moved:.1f} cm during the {phase}"
        if phase == "lift" and pos[2] - rest_z < cfg.success_height:
            return "slip", f"object rose only {100 * (pos[2] - rest_z):.1f} cm during the lift"
        if phase == "hold" and (pos[2] - rest_z < cfg.success_height or not self._hand_touches_object()):
            return "slip", f"object dropped during the hold (height gain {100 * (pos[2] - rest_z):.1f} cm)"
        return None


__all__ = ["PHASES", "FrameCallback", "MujocoExecutionBackend", "hand_ctrl_matrix"]
