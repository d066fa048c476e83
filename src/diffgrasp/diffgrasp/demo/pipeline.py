"""The embedded pipeline: simulated cameras → fusion → network → refinement → MuJoCo execution (``diffgrasp demo``).

Every stage is the core code the ROS nodes run. The simulated world holds the TRUE object (its file mesh at
``true_pose``, object file frame → world); the capture renders it, fusion perceives a mesh and an object frame
(``perceived_pose``, fused object frame → world), planning works on the fused mesh in that frame, and execution gets the
grasps with the PERCEIVED pose (as on the robot) while MuJoCo simulates the true object at the true pose.

``run_pipeline(object_path, output_dir, seed, config)`` → :class:`PipelineReport`; files written to ``output_dir``:
``report.json`` (atomically, last), ``cameras.png`` (depth views), ``fusion.png`` (fused mesh vs truth),
``grasp_NN.png`` (top grasps on the fused mesh), ``scene.png`` (the robot scene at rest), ``execution.png`` (frame
strip) and ``execution.gif`` (when a grasp was executed), ``capture/``
(the simulated capture, readable by ``diffgrasp fuse``), ``fused_mesh.obj`` (fused object frame), ``grasps.json``
(fused object frame, grasp file format), ``grasps_true_frame.json`` (the same grasps in the true mesh's frame, for
``diffgrasp evaluate``), ``trajectory.json`` (executed joint trajectories).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from diffgrasp.demo.config import DemoConfig
from diffgrasp.demo.grasps import (
    approach_elevation_deg,
    forearm_elevation_deg,
    map_grasps,
    table_plane_in_frame,
    upper_hemisphere_init,
)
from diffgrasp.io import atomic_write, atomic_write_json

REPORT_FORMAT = "diffgrasp.demo_report/1"
NO_LIFTABLE_GRASP = "no_liftable_grasp"
"""Report reason when verification is on and no rehearsed grasp lifted: nothing was executed."""
DEFAULT_OBJECT = ("objects", "057_racquetball.obj")
"""The demo's object. Not the 053 mini soccer ball any more: once fusion was made reproducible (the same scan in
every process), its seed-0 scan gave no grasp that lifts in the rehearsal — large round objects are the planner's weak
class (issue 21) — and the README's main job must not hang on one scan."""
NO_CHECKPOINT_NOTE = "network: no packaged checkpoint, random init"

__all__ = ["DEFAULT_OBJECT", "NO_CHECKPOINT_NOTE", "NO_LIFTABLE_GRASP", "PipelineReport", "StageReport",
           "default_object_path", "resolve_config_path", "run_pipeline"]


@dataclasses.dataclass
class StageReport:
    """One stage: ``status`` in {"ok", "skipped", "failed"}, wall ``seconds``, a one-line ``note``."""

    name: str
    status: str
    seconds: float
    note: str = ""


@dataclasses.dataclass
class PipelineReport:
    """Outcome of one pipeline run. success: the object was lifted and held. reason: the execution's reason
    (``ok``, ``unreachable``, ``collision``, ``slip``, ``no_grasps``), ``no_liftable_grasp`` (nothing lifted in the
    rehearsal: the arm was not moved) or the failed stage (``fusion_failed``,
    ``planning_failed``). details: per-stage numbers (JSON-ready). files: written paths relative to ``output_dir``."""

    object_path: str
    output_dir: str
    seed: int
    success: bool
    reason: str
    message: str
    stages: list[StageReport]
    details: dict[str, Any]
    files: list[str]
    config: dict[str, Any]

    @property
    def total_seconds(self) -> float:
        return float(sum(s.seconds for s in self.stages))

    def to_dict(self) -> dict[str, Any]:
        return {"format": REPORT_FORMAT, "object": self.object_path, "seed": self.seed, "success": self.success,
                "reason": self.reason, "message": self.message, "total_seconds": self.total_seconds,
                "stages": [dataclasses.asdict(s) for s in self.stages], **self.details, "files": self.files,
                "config": self.config}

    def table(self) -> str:
        """The stage table printed by ``diffgrasp demo``."""
        rows = [f"{'stage':<10} {'status':<8} {'time s':>7}  note"]
        rows += [f"{s.name:<10} {s.status:<8} {s.seconds:>7.2f}  {s.note}" for s in self.stages]
        rows.append(f"{'total':<10} {'':<8} {self.total_seconds:>7.2f}  "
                    f"{'LIFTED' if self.success else 'FAILED'} ({self.reason}): {self.message}")
        return "\n".join(rows)


def default_object_path() -> Path:
    """The bundled default object (``diffgrasp/data/objects/057_racquetball.obj``)."""
    from diffgrasp.data import data_path

    return data_path(*DEFAULT_OBJECT)


def resolve_config_path(path: str) -> Path:
    """A relative config path in the working directory, else in the repository root above this package."""
    p = Path(path)
    if p.is_absolute() or p.is_file():
        return p
    repo = Path(__file__).resolve().parents[4] / p
    if repo.is_file():
        return repo
    raise FileNotFoundError(f"config file not found: {p} (run from the repository root or give an absolute path)")


class _Stages:
    """Times stages and collects their reports."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.reports: list[StageReport] = []
        self.log = log

    def add(self, name: str, start: float, note: str = "", status: str = "ok") -> None:
        self.reports.append(StageReport(name, status, time.perf_counter() - start, note))
        self.log(f"[{name}] {status} in {self.reports[-1].seconds:.1f} s  {note}")


def _load_true_object(object_path: Path):
    """The true object (ObjectModel, validated watertight) — bad input raises FileNotFoundError/ValueError."""
    from diffgrasp.geometry import ObjectModel

    if not object_path.is_file():
        raise FileNotFoundError(f"object mesh not found: {object_path}")
    return ObjectModel.from_file(object_path)


def run_pipeline(object_path: str | os.PathLike | None = None, output_dir: str | os.PathLike = "outputs/demo",
                 seed: int = 0, config: DemoConfig | None = None, progress: bool = True,
                 log: Callable[[str], None] | None = None) -> PipelineReport:
    """Run the embedded pipeline once on ``object_path`` (watertight mesh, metres; default: the bundled object).

    Raises FileNotFoundError / ValueError for bad input (missing or non-watertight mesh, missing rig file, bad
    config). Failures of later stages (no object found by fusion, no grasp, unreachable, slip) are reported in the
    returned :class:`PipelineReport` (``success`` False, ``reason``), not raised. progress: tqdm bars on stderr.
    """
    import torch

    cfg = config or DemoConfig()
    log = log or (lambda msg: print(msg, file=sys.stderr) if progress else None)
    object_path = Path(object_path) if object_path is not None else default_object_path()
    output_dir = Path(output_dir)
    threads = torch.get_num_threads()
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    try:
        return _run(object_path, output_dir, seed, cfg, progress, log)
    finally:
        torch.set_num_threads(threads)


def _run(object_path: Path, output_dir: Path, seed: int, cfg: DemoConfig, progress: bool,
         log: Callable[[str], None]) -> PipelineReport:
    from diffgrasp.config import load_config, to_dict
    from diffgrasp.execution import ExecutionConfig
    from diffgrasp.perception import FusionConfig, load_rig
    from diffgrasp.sim.robot_scene import resting_pose

    stages = _Stages(log)
    details: dict[str, Any] = {}
    files: list[str] = []
    t = run_start = time.perf_counter()
    true_obj = _load_true_object(object_path)
    rig_path = resolve_config_path(cfg.cameras)
    rig = load_rig(rig_path)
    fusion_cfg = load_config(FusionConfig, resolve_config_path(cfg.fusion_config) if cfg.fusion_config else None)
    exec_cfg = load_config(ExecutionConfig,
                           resolve_config_path(cfg.execution_config) if cfg.execution_config else None)
    exec_cfg = dataclasses.replace(exec_cfg, render_every=cfg.render_every, render_size=tuple(cfg.render_size))
    planner_cfg = cfg.planner
    true_mesh = true_obj.mesh
    true_pose = resting_pose(true_mesh, tuple(cfg.object_xy))  # ONE true pose for the capture and the simulator
    output_dir.mkdir(parents=True, exist_ok=True)
    stages.add("load", t, f"{object_path.name}: {len(true_mesh.faces)} faces, "
                          f"extents {np.round(true_mesh.extents * 1000).astype(int).tolist()} mm")
    config_dict = {"demo": to_dict(cfg), "planner": to_dict(planner_cfg), "fusion": to_dict(fusion_cfg),
                   "execution": to_dict(exec_cfg), "cameras_file": str(rig_path)}

    def finish(success: bool, reason: str, message: str) -> PipelineReport:
        report = PipelineReport(str(object_path), str(output_dir), seed, success, reason, message, stages.reports,
                                details, files, config_dict)
        files.append("report.json")
        atomic_write_json(output_dir / "report.json", report.to_dict())
        return report

    # ---- capture: the four simulated D435 cameras see the true object on the table
    from diffgrasp.demo.figures import save_camera_views
    from diffgrasp.perception import fuse, simulate_capture, write_capture

    t = time.perf_counter()
    capture = simulate_capture(true_mesh, rig, noise=cfg.noise, seed=seed, object_to_world=true_pose)
    write_capture(output_dir / "capture", capture)
    focus = true_pose[:3, :3] @ true_mesh.bounds.mean(axis=0) + true_pose[:3, 3]  # zoom of the picture only
    zoom = max(0.03, 0.75 * float(true_mesh.extents.max()))
    cameras_png = save_camera_views(output_dir / "cameras.png", capture, focus, zoom_range_m=zoom)
    files += ["capture/capture.json", cameras_png.name]
    valid = float(np.isfinite(capture.depth).mean())
    stages.add("capture", t, f"{len(capture.names)} cameras {capture.shape[1]}x{capture.shape[0]}, noise "
                             f"{cfg.noise}, {100 * valid:.0f}% valid pixels")

    # ---- fusion: perceived mesh and object frame
    from diffgrasp.demo.figures import save_fusion_figure
    from diffgrasp.perception.evaluate import chamfer

    t = time.perf_counter()
    try:
        fusion = fuse(capture, fusion_cfg)
    except ValueError as err:
        stages.add("fusion", t, str(err), status="failed")
        return finish(False, "fusion_failed", f"fusion: {err}")
    fused_obj_mesh = fusion.mesh_in_object_frame()
    true_world = true_mesh.copy().apply_transform(true_pose)
    ch = chamfer(fusion.mesh, true_world, samples=20000, seed=seed)
    centre_err = float(np.linalg.norm(fusion.object_to_world[:3, 3] - true_world.bounds.mean(axis=0)))
    atomic_write(output_dir / "fused_mesh.obj", lambda p: fused_obj_mesh.export(p, file_type="obj"))
    files += ["fused_mesh.obj", save_fusion_figure(output_dir / "fusion.png", true_world, fusion.mesh, ch).name]
    details["perception"] = {"fused_faces": int(len(fusion.mesh.faces)), "watertight": bool(fusion.mesh.is_watertight),
                             "chamfer_mean_mm": 1000 * ch["mean"], "chamfer_p95_mm": 1000 * ch["p95"],
                             "centre_error_mm": 1000 * centre_err, "fusion_timings_s": fusion.timings,
                             "perceived_pose_world": fusion.object_to_world.tolist(),
                             "table_plane_world": fusion.table_plane.tolist(),
                             "table_plane_object_frame": table_plane_in_frame(fusion.table_plane,
                                                                              fusion.object_to_world).tolist(),
                             "true_pose_world": true_pose.tolist()}
    stages.add("fusion", t, f"{len(fusion.mesh.faces)} faces, chamfer {1000 * ch['mean']:.1f} mm "
                            f"(p95 {1000 * ch['p95']:.1f}), centre error {1000 * centre_err:.1f} mm")

    # ---- network: initial grasps, or random initialisation when no checkpoint is packaged
    from diffgrasp.geometry import ObjectModel

    t = time.perf_counter()
    try:
        fused_obj = ObjectModel(fused_obj_mesh, name=f"{object_path.stem}_fused", source="fusion")
    except ValueError as err:
        stages.add("network", t, f"fused mesh unusable: {err}", status="failed")
        return finish(False, "fusion_failed", f"fused mesh: {err}")
    initial = _network_stage(fused_obj_mesh, cfg, planner_cfg, seed, stages, details, t)

    # ---- refinement on the fused mesh (fused object frame)
    from diffgrasp.planning import plan_grasps

    t = time.perf_counter()
    bar = _progress_bar(progress, planner_cfg.optim.iterations, "refine")
    try:
        # The table seen by fusion, in the fused object frame: the planner keeps the hand above it.
        table = table_plane_in_frame(fusion.table_plane, fusion.object_to_world)
        planner_cfg = dataclasses.replace(planner_cfg, support_plane=tuple(float(x) for x in table))
        plan = plan_grasps(fused_obj, k=cfg.num_grasps, seed=seed, config=planner_cfg, initial_grasps=initial,
                           progress=None if bar is None else lambda info: _advance(bar, info))
    except (ValueError, RuntimeError) as err:
        stages.add("refine", t, str(err), status="failed")
        return finish(False, "planning_failed", f"planning: {err}")
    finally:
        if bar is not None:
            bar.close()
    refine_seconds = time.perf_counter() - t
    grasps = _enough_fingers(plan.grasps, cfg.min_touching_fingers)
    to_true = np.linalg.inv(true_pose) @ fusion.object_to_world
    _save_grasp_files(output_dir, fused_obj.name, object_path, grasps, to_true)
    files += ["grasps.json", "grasps_true_frame.json"]
    q1 = [g.metrics.get("q1_exact", float("nan")) for g in grasps]
    details["planning"] = {"status": plan.status, "iterations": plan.iterations, "num_candidates": plan.num_candidates,
                           "num_grasps": len(grasps), "rejected": plan.num_rejected, "timings_s": plan.timings_s,
                           "best_q1_exact": float(q1[0]) if q1 else None}
    stages.add("refine", t, f"{len(grasps)} grasps from {plan.num_candidates} candidates, {plan.iterations} it "
                            f"({plan.status}), best Q1 {q1[0] if q1 else float('nan'):.3f}",
               status="ok" if grasps else "failed")

    # ---- verification: rehearse the ranked grasps on the perceived object (fused mesh at the perceived pose); when
    # none lifts there, re-plan with another seed (at most verify_replans times) and rehearse again
    ranks = list(range(len(grasps)))
    if cfg.verify_grasps > 0 and grasps:
        from diffgrasp.demo.verify import rehearse_grasps, verified_order

        t = time.perf_counter()
        rounds = []
        round_start = time.perf_counter()
        for attempt in range(cfg.verify_replans + 1):
            if attempt > 0:
                # the last round's seconds: its refinement and rehearsal (the first round's refinement came earlier)
                pace = time.perf_counter() - round_start + (refine_seconds if attempt == 1 else 0.0)
                if time.perf_counter() - run_start + pace > cfg.time_limit_s:
                    rounds.append({"skipped": f"another round would pass the {cfg.time_limit_s:g} s limit"})
                    break
                round_start = time.perf_counter()
                round_seed = seed + 1000 * attempt
                if not details["network"].get("used"):
                    initial = upper_hemisphere_init(fused_obj_mesh, cfg.planner.min_candidates, planner_cfg,
                                                    cfg.min_approach_elevation_deg, round_seed,
                                                    cfg.min_forearm_elevation_deg)
                try:
                    replan = plan_grasps(fused_obj, k=cfg.num_grasps, seed=round_seed, config=planner_cfg,
                                         initial_grasps=initial)
                except (ValueError, RuntimeError) as err:
                    rounds.append({"seed": round_seed, "error": str(err)})
                    break
                if not replan.grasps:
                    rounds.append({"seed": round_seed, "error": "no grasps"})
                    continue
                grasps = _enough_fingers(replan.grasps, cfg.min_touching_fingers)
                details["planning"].update(num_grasps=len(grasps), replanned_seed=round_seed,
                                           best_q1_exact=grasps[0].metrics.get("q1_exact"))
                _save_grasp_files(output_dir, fused_obj.name, object_path, grasps, to_true)
            rehearsal = rehearse_grasps(fused_obj_mesh, fusion.object_to_world, grasps, exec_cfg, cfg.verify_grasps,
                                        cfg.verify_passes, seed=seed, shrink_m=cfg.verify_shrink_m)
            rounds.append({"seed": seed + 1000 * attempt, **rehearsal.to_dict()})
            if rehearsal.passed:
                break
        ranks = verified_order(len(grasps), rehearsal)
        grasps = [grasps[i] for i in ranks]
        details["verification"] = {**rehearsal.to_dict(), "order": ranks, "rounds": rounds}
        stages.add("verify", t, f"rehearsal on the fused mesh (shrunk {1000 * cfg.verify_shrink_m:g} mm): "
                                f"{len(rehearsal.passed)} of {len(rehearsal.tested)} "
                                f"tested lifted (ranks {rehearsal.passed}), {len(rounds)} planning round(s)",
                   status="ok" if rehearsal.passed else "failed")
    # never execute what is known to fail: when nothing lifted in the rehearsal the arm stays where it is
    known_to_fail = cfg.verify_grasps > 0 and bool(grasps) and not details["verification"]["passed"]

    # ---- execution in MuJoCo: true object at the true pose, grasps with the perceived pose
    t = time.perf_counter()
    result, phases, scene_image = _execute(true_mesh, true_pose, grasps, fusion.object_to_world, exec_cfg, rig_path,
                                           seed, progress, execute=not known_to_fail)
    if result is None:
        message = (f"no liftable grasp found: none of the {len(details['verification']['tested'])} grasps rehearsed "
                   f"in {len(details['verification']['rounds'])} planning round(s) lifted the perceived object; the "
                   "arm was not moved")
        details["execution"] = {"skipped": message, "grasp_index": None, "planner_rank": None}
        stages.add("execute", t, "skipped: no rehearsed grasp lifted the perceived object", status="skipped")
        outcome = (False, NO_LIFTABLE_GRASP, message)
    else:
        outcome = (result.success, result.reason, result.message)
        _record_execution(result, ranks, details, files, output_dir, stages, t)

    # ---- pictures of the grasps and the execution
    from diffgrasp.demo.figures import save_execution_frames, save_grasp_views
    from diffgrasp.sim.render_grasp import save_png

    t = time.perf_counter()
    files.append(save_png(output_dir / "scene.png", scene_image, "scene: UR10e + Shadow hand at home, true object, "
                                                                  "overview camera").name)
    shown = grasps[: cfg.top_grasps]
    files += [p.name for p in save_grasp_views(output_dir, fused_obj_mesh, shown, object_path.stem)]
    if result is not None:
        files += [p.name for p in save_execution_frames(output_dir, result.frames, phases, cfg.gif,
                                                        cfg.render_every)]
    stages.add("outputs", t, f"{len(files)} files in {output_dir}")
    return finish(*outcome)


def _record_execution(result, ranks: list[int], details: dict[str, Any], files: list[str], output_dir: Path,
                      stages: _Stages, t: float) -> None:
    """The execution's result into the report (and its trajectory into trajectory.json)."""
    exec_dict = result.to_dict()
    if result.trajectories is not None:
        atomic_write_json(output_dir / "trajectory.json", exec_dict.pop("trajectories"))
        files.append("trajectory.json")
    else:
        exec_dict.pop("trajectories")
    exec_dict["planner_rank"] = None if result.grasp_index is None else ranks[result.grasp_index]
    details["execution"] = exec_dict
    note = f"grasp {result.grasp_index}, phase {result.phase_reached}: {result.message}"
    stages.add("execute", t, note, status="ok" if result.success else "failed")


def _enough_fingers(grasps: list, minimum: int) -> list:
    """Grasps with at least ``minimum`` touching fingers (planner metric), best first; all of them if none has."""
    enough = [g for g in grasps if g.metrics.get("touching_fingers", minimum) >= minimum]
    return enough or list(grasps)


def _save_grasp_files(output_dir: Path, fused_name: str, object_path: Path, grasps: list,
                      to_true: np.ndarray) -> None:
    """``grasps.json`` (fused object frame) and ``grasps_true_frame.json`` (the true mesh's frame)."""
    from diffgrasp.grasps import GraspSet, save_grasps

    save_grasps(output_dir / "grasps.json", GraspSet(fused_name, "fused_mesh.obj", grasps))
    save_grasps(output_dir / "grasps_true_frame.json",
                GraspSet(object_path.stem, str(object_path), map_grasps(grasps, to_true)))


def _network_stage(mesh, cfg: DemoConfig, planner_cfg, seed: int, stages: _Stages, details: dict[str, Any],
                   t: float) -> list:
    """Initial grasps (fused object frame, z = table normal): the network's predictions, or the planner's random
    initialisation when no checkpoint is packaged; either way only approaches from above ``min_approach_elevation_deg``
    are kept (the table is below the object). A checkpoint given explicitly must load."""
    from diffgrasp.network import CheckpointError, GraspPredictor

    try:
        predictor = GraspPredictor(cfg.network_checkpoint or None)
    except CheckpointError as err:
        if cfg.network_checkpoint:
            raise
        grasps = upper_hemisphere_init(mesh, cfg.planner.min_candidates, planner_cfg, cfg.min_approach_elevation_deg,
                                       seed, cfg.min_forearm_elevation_deg)
        details["network"] = {"used": False, "note": NO_CHECKPOINT_NOTE, "error": str(err),
                              "initial_grasps": len(grasps)}
        stages.add("network", t, f"{NO_CHECKPOINT_NOTE} ({len(grasps)} candidates from above: approach >= "
                                 f"{cfg.min_approach_elevation_deg:g} deg, forearm >= "
                                 f"{cfg.min_forearm_elevation_deg:g} deg)", status="skipped")
        return grasps
    n = min(cfg.network_grasps, predictor.config.num_grasps)
    predicted = predictor.predict(mesh, num_grasps=n)
    grasps = [g for g in predicted if approach_elevation_deg(g) >= cfg.min_approach_elevation_deg
              and forearm_elevation_deg(g) >= cfg.min_forearm_elevation_deg]
    details["network"] = {"used": True, "checkpoint": cfg.network_checkpoint or "packaged",
                          "predicted": len(predicted), "initial_grasps": len(grasps)}
    stages.add("network", t, f"{len(predicted)} predicted, {len(grasps)} from above the table kept as initial "
                             "candidates")
    return grasps


def _progress_bar(enabled: bool, total: int, desc: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="it", file=sys.stderr, leave=False)


def _advance(bar, info) -> None:
    bar.n = min(info.iteration, bar.total)
    bar.set_postfix(loss=f"{info.best_loss:.4f}", refresh=False)
    bar.refresh()


def _execute(true_mesh, true_pose: np.ndarray, grasps: list, perceived_pose: np.ndarray, exec_cfg, rig_path: Path,
             seed: int, progress: bool, execute: bool = True):
    """Build the MuJoCo scene with the true object and execute (unless ``execute`` is false: result None); returns
    the result, the (phase, sim time) of every rendered frame and an overview picture (H, W, 3) of the scene at
    rest."""
    import mujoco

    from diffgrasp.execution import MujocoExecutionBackend
    from diffgrasp.sim.robot_scene import OVERVIEW_CAMERA, load_camera_poses

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
    bar = _progress_bar(progress and execute, None, "execute")

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
