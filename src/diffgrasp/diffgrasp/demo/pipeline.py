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

Stages, one function each, in order: load, capture, fusion, network (initial grasps), refine, verify (rehearsal and
re-planning), execute, outputs (pictures); the report is written last. A stage that cannot go on raises
:class:`_StageFailed` after recording itself; the run then ends with that reason.
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
import torch
import trimesh

from diffgrasp.config import to_dict
from diffgrasp.demo.config import DemoConfig, default_object_path, resolve_config_path
from diffgrasp.demo.execute import execute_grasps
from diffgrasp.demo.figures import save_camera_views, save_execution_frames, save_fusion_figure, save_grasp_views
from diffgrasp.demo.grasps import (
    approach_elevation_deg,
    forearm_elevation_deg,
    map_grasps,
    upper_hemisphere_init,
)
from diffgrasp.demo.progress import progress_bar, show_progress
from diffgrasp.demo.report import NO_LIFTABLE_GRASP, PipelineReport, StageLog
from diffgrasp.demo.verify import rehearse_grasps, verified_order
from diffgrasp.execution import ExecutionConfig, ExecutionResult
from diffgrasp.geometry import ObjectModel
from diffgrasp.geometry.planes import plane_in_frame
from diffgrasp.grasps import Grasp, GraspSet, save_grasps
from diffgrasp.io import atomic_write, atomic_write_json
from diffgrasp.network import CheckpointError, GraspPredictor
from diffgrasp.perception.capture import Capture, write_capture
from diffgrasp.perception.evaluate import chamfer
from diffgrasp.perception.fusion import FusionConfig, FusionResult, fuse
from diffgrasp.perception.rig import RigConfig, load_rig
from diffgrasp.perception.simulate import simulate_capture
from diffgrasp.planning import PlannerConfig, plan_grasps
from diffgrasp.sim.physics_test.render import save_png
from diffgrasp.sim.robot_scene import resting_pose

NO_CHECKPOINT_NOTE = "network: no packaged checkpoint, random init"

__all__ = ["NO_CHECKPOINT_NOTE", "run_pipeline"]


def run_pipeline(object_path: str | os.PathLike | None = None, output_dir: str | os.PathLike = "outputs/demo",
                 seed: int = 0, config: DemoConfig | None = None, progress: bool = True,
                 log: Callable[[str], None] | None = None) -> PipelineReport:
    """Run the embedded pipeline once on ``object_path`` (watertight mesh, metres; default: the bundled object).

    Raises FileNotFoundError / ValueError for bad input (missing or non-watertight mesh, missing rig file, bad
    config). Failures of later stages (no object found by fusion, no grasp, unreachable, slip) are reported in the
    returned :class:`PipelineReport` (``success`` False, ``reason``), not raised. progress: tqdm bars on stderr.
    """
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


class _StageFailed(Exception):
    """A stage could not go on (it has recorded itself as failed): the run ends with ``reason`` and ``message``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclasses.dataclass
class _Run:
    """One run: its inputs and settings, the true object (``true_mesh`` in its file frame at ``true_pose`` (4, 4),
    object file frame → world), and what the report collects (stage log, ``details``, ``files``, ``config``)."""

    object_path: Path
    output_dir: Path
    seed: int
    cfg: DemoConfig
    progress: bool
    start: float
    stages: StageLog
    rig_path: Path
    fusion_cfg: FusionConfig
    exec_cfg: ExecutionConfig
    true_mesh: trimesh.Trimesh
    true_pose: np.ndarray
    config: dict[str, Any]
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    files: list[str] = dataclasses.field(default_factory=list)

    def finish(self, success: bool, reason: str, message: str) -> PipelineReport:
        """The report, written to ``report.json`` (atomically, the last file)."""
        report = PipelineReport(str(self.object_path), str(self.output_dir), self.seed, success, reason, message,
                                self.stages.reports, self.details, self.files, self.config)
        self.files.append("report.json")
        atomic_write_json(self.output_dir / "report.json", report.to_dict())
        return report


@dataclasses.dataclass
class _Plan:
    """The planning outcome handed from stage to stage: ``grasps`` (fused object frame, best first), the planner
    settings used (with the table as its support plane), the initial grasps and the first refinement's seconds."""

    grasps: list[Grasp]
    planner: PlannerConfig
    initial: list[Grasp]
    refine_seconds: float


def _run(object_path: Path, output_dir: Path, seed: int, cfg: DemoConfig, progress: bool,
         log: Callable[[str], None]) -> PipelineReport:
    run, rig = _load(object_path, output_dir, seed, cfg, progress, log)
    try:
        capture = _capture(run, rig)
        fusion, fused_mesh = _fuse(run, capture)
        fused, initial = _propose(run, fused_mesh)
        plan = _refine(run, fusion, fused, initial)
        ranks = _verify(run, fusion, fused, plan)
        outcome, result, phases, scene_image = _execute(run, plan.grasps, ranks, fusion.object_to_world)
    except _StageFailed as failed:
        return run.finish(False, failed.reason, failed.message)
    _outputs(run, scene_image, fused.mesh, plan.grasps, result, phases)
    return run.finish(*outcome)


def _load(object_path: Path, output_dir: Path, seed: int, cfg: DemoConfig, progress: bool,
          log: Callable[[str], None]) -> tuple[_Run, RigConfig]:
    """Stage "load": the true object (validated), the rig and the stage configurations; creates ``output_dir``.
    Bad input raises (FileNotFoundError, ValueError) before anything is written."""
    stages = StageLog(log)
    t = time.perf_counter()
    true_mesh = _load_true_object(object_path).mesh
    rig_path = resolve_config_path(cfg.cameras)
    rig = load_rig(rig_path)
    fusion_cfg, exec_cfg = cfg.fusion, cfg.execution
    true_pose = resting_pose(true_mesh, tuple(cfg.object_xy))  # ONE true pose for the capture and the simulator
    output_dir.mkdir(parents=True, exist_ok=True)
    stages.add("load", t, f"{object_path.name}: {len(true_mesh.faces)} faces, "
                          f"extents {np.round(true_mesh.extents * 1000).astype(int).tolist()} mm")
    config = {"demo": to_dict(cfg), "planner": to_dict(cfg.planner), "fusion": to_dict(fusion_cfg),
              "execution": to_dict(exec_cfg), "cameras_file": str(rig_path)}
    run = _Run(object_path, output_dir, seed, cfg, progress, t, stages, rig_path, fusion_cfg, exec_cfg, true_mesh,
               true_pose, config)
    return run, rig


def _load_true_object(object_path: Path) -> ObjectModel:
    """The true object (ObjectModel, validated watertight) — bad input raises FileNotFoundError/ValueError."""
    if not object_path.is_file():
        raise FileNotFoundError(f"object mesh not found: {object_path}")
    return ObjectModel.from_file(object_path)


def _capture(run: _Run, rig: RigConfig) -> Capture:
    """Stage "capture": the simulated D435 cameras of ``rig`` see the true object on the table; written to
    ``capture/`` with the depth views in ``cameras.png``."""
    t = time.perf_counter()
    mesh, pose = run.true_mesh, run.true_pose
    capture = simulate_capture(mesh, rig, noise=run.cfg.noise, seed=run.seed, object_to_world=pose)
    write_capture(run.output_dir / "capture", capture)
    focus = pose[:3, :3] @ mesh.bounds.mean(axis=0) + pose[:3, 3]  # zoom of the picture only
    zoom = max(0.03, 0.75 * float(mesh.extents.max()))
    cameras_png = save_camera_views(run.output_dir / "cameras.png", capture, focus, zoom_range_m=zoom)
    run.files += ["capture/capture.json", cameras_png.name]
    valid = float(np.isfinite(capture.depth).mean())
    run.stages.add("capture", t, f"{len(capture.names)} cameras {capture.shape[1]}x{capture.shape[0]}, noise "
                                 f"{run.cfg.noise}, {100 * valid:.0f}% valid pixels")
    return capture


def _fuse(run: _Run, capture: Capture) -> tuple[FusionResult, trimesh.Trimesh]:
    """Stage "fusion": the perceived mesh (world) and object frame, and the mesh in that frame (returned, and
    written to ``fused_mesh.obj``); ``fusion.png`` and its distance to the truth in the report. Raises
    _StageFailed ``fusion_failed``."""
    t = time.perf_counter()
    try:
        fusion = fuse(capture, run.fusion_cfg)
    except ValueError as err:
        run.stages.add("fusion", t, str(err), status="failed")
        raise _StageFailed("fusion_failed", f"fusion: {err}") from err
    fused_obj_mesh = fusion.mesh_in_object_frame()
    true_world = run.true_mesh.copy().apply_transform(run.true_pose)
    ch = chamfer(fusion.mesh, true_world, samples=20000, seed=run.seed)
    centre_err = float(np.linalg.norm(fusion.object_to_world[:3, 3] - true_world.bounds.mean(axis=0)))
    atomic_write(run.output_dir / "fused_mesh.obj", lambda p: fused_obj_mesh.export(p, file_type="obj"))
    run.files += ["fused_mesh.obj",
                  save_fusion_figure(run.output_dir / "fusion.png", true_world, fusion.mesh, ch).name]
    run.details["perception"] = {
        "fused_faces": int(len(fusion.mesh.faces)), "watertight": bool(fusion.mesh.is_watertight),
        "chamfer_mean_mm": 1000 * ch["mean"], "chamfer_p95_mm": 1000 * ch["p95"],
        "centre_error_mm": 1000 * centre_err, "fusion_timings_s": fusion.timings,
        "perceived_pose_world": fusion.object_to_world.tolist(), "table_plane_world": fusion.table_plane.tolist(),
        "table_plane_object_frame": plane_in_frame(fusion.table_plane, fusion.object_to_world).tolist(),
        "true_pose_world": run.true_pose.tolist()}
    run.stages.add("fusion", t, f"{len(fusion.mesh.faces)} faces, chamfer {1000 * ch['mean']:.1f} mm "
                                f"(p95 {1000 * ch['p95']:.1f}), centre error {1000 * centre_err:.1f} mm")
    return fusion, fused_obj_mesh


def _propose(run: _Run, mesh: trimesh.Trimesh) -> tuple[ObjectModel, list[Grasp]]:
    """Stage "network": the fused object (ObjectModel of ``mesh``, fused object frame, z = table normal) and the
    initial grasps in that frame: the network's predictions, or the planner's random initialisation when no
    checkpoint is packaged; either way only approaches from above ``min_approach_elevation_deg`` (and forearms above
    ``min_forearm_elevation_deg``) are kept (the table is below the object). A checkpoint given explicitly must load
    (CheckpointError). Raises _StageFailed ``fusion_failed`` when the fused mesh is unusable."""
    cfg = run.cfg
    t = time.perf_counter()
    try:
        fused = ObjectModel(mesh, name=f"{run.object_path.stem}_fused", source="fusion")
    except ValueError as err:
        run.stages.add("network", t, f"fused mesh unusable: {err}", status="failed")
        raise _StageFailed("fusion_failed", f"fused mesh: {err}") from err
    try:
        predictor = GraspPredictor(cfg.network_checkpoint or None)
    except CheckpointError as err:
        if cfg.network_checkpoint:
            raise
        grasps = upper_hemisphere_init(mesh, cfg.planner.min_candidates, cfg.planner, cfg.min_approach_elevation_deg,
                                       run.seed, cfg.min_forearm_elevation_deg)
        run.details["network"] = {"used": False, "note": NO_CHECKPOINT_NOTE, "error": str(err),
                                  "initial_grasps": len(grasps)}
        run.stages.add("network", t, f"{NO_CHECKPOINT_NOTE} ({len(grasps)} candidates from above: approach >= "
                                     f"{cfg.min_approach_elevation_deg:g} deg, forearm >= "
                                     f"{cfg.min_forearm_elevation_deg:g} deg)", status="skipped")
        return fused, grasps
    n = min(cfg.network_grasps, predictor.config.num_grasps)
    predicted = predictor.predict(mesh, num_grasps=n)
    grasps = [g for g in predicted if approach_elevation_deg(g) >= cfg.min_approach_elevation_deg
              and forearm_elevation_deg(g) >= cfg.min_forearm_elevation_deg]
    run.details["network"] = {"used": True, "checkpoint": cfg.network_checkpoint or "packaged",
                              "predicted": len(predicted), "initial_grasps": len(grasps)}
    run.stages.add("network", t, f"{len(predicted)} predicted, {len(grasps)} from above the table kept as initial "
                                 "candidates")
    return fused, grasps


def _refine(run: _Run, fusion: FusionResult, fused: ObjectModel, initial: list[Grasp]) -> _Plan:
    """Stage "refine": the planner on the fused mesh (fused object frame), kept above the table that fusion saw;
    grasps with too few touching fingers go last (``_enough_fingers``); ``grasps.json`` and
    ``grasps_true_frame.json``. Raises _StageFailed ``planning_failed``."""
    cfg = run.cfg
    t = time.perf_counter()
    bar = progress_bar(run.progress, cfg.planner.optim.iterations, "refine")
    try:
        # The table seen by fusion, in the fused object frame: the planner keeps the hand above it.
        table = plane_in_frame(fusion.table_plane, fusion.object_to_world)
        planner = dataclasses.replace(cfg.planner, support_plane=tuple(float(x) for x in table))
        plan = plan_grasps(fused, k=cfg.num_grasps, seed=run.seed, config=planner, initial_grasps=initial,
                           progress=None if bar is None else lambda info: show_progress(bar, info))
    except (ValueError, RuntimeError) as err:
        run.stages.add("refine", t, str(err), status="failed")
        raise _StageFailed("planning_failed", f"planning: {err}") from err
    finally:
        if bar is not None:
            bar.close()
    refine_seconds = time.perf_counter() - t
    grasps = _enough_fingers(plan.grasps, cfg.min_touching_fingers)
    _save_grasp_files(run, fused.name, grasps, fusion.object_to_world)
    run.files += ["grasps.json", "grasps_true_frame.json"]
    q1 = [g.metrics.get("q1_exact", float("nan")) for g in grasps]
    run.details["planning"] = {"status": plan.status, "iterations": plan.iterations,
                               "num_candidates": plan.num_candidates, "num_grasps": len(grasps),
                               "rejected": plan.num_rejected, "timings_s": plan.timings_s,
                               "best_q1_exact": float(q1[0]) if q1 else None}
    run.stages.add("refine", t, f"{len(grasps)} grasps from {plan.num_candidates} candidates, {plan.iterations} it "
                                f"({plan.status}), best Q1 {q1[0] if q1 else float('nan'):.3f}",
                   status="ok" if grasps else "failed")
    return _Plan(grasps, planner, initial, refine_seconds)


def _verify(run: _Run, fusion: FusionResult, fused: ObjectModel, plan: _Plan) -> list[int]:
    """Stage "verify": rehearse the ranked grasps on the perceived object (the fused mesh at the perceived pose);
    when none lifts there, re-plan with another seed (at most ``verify_replans`` times, within ``time_limit_s``) and
    rehearse again. Reorders ``plan.grasps`` (lifters first, see ``verified_order``) and returns the planner rank of
    each; off (ranks unchanged) with ``verify_grasps`` 0 or no grasps."""
    cfg = run.cfg
    if not (cfg.verify_grasps > 0 and plan.grasps):
        return list(range(len(plan.grasps)))
    t = time.perf_counter()
    rounds: list[dict[str, Any]] = []
    round_start = time.perf_counter()
    for attempt in range(cfg.verify_replans + 1):
        if attempt > 0:
            # the last round's seconds: its refinement and rehearsal (the first round's refinement came earlier)
            pace = time.perf_counter() - round_start + (plan.refine_seconds if attempt == 1 else 0.0)
            if time.perf_counter() - run.start + pace > cfg.time_limit_s:
                rounds.append({"skipped": f"another round would pass the {cfg.time_limit_s:g} s limit"})
                break
            round_start = time.perf_counter()
            round_seed = run.seed + 1000 * attempt
            try:
                replanned = _replan(run, fused, fusion.object_to_world, plan, round_seed)
            except (ValueError, RuntimeError) as err:
                rounds.append({"seed": round_seed, "error": str(err)})
                break
            if not replanned:
                rounds.append({"seed": round_seed, "error": "no grasps"})
                continue
        rehearsal = rehearse_grasps(fused.mesh, fusion.object_to_world, plan.grasps, run.exec_cfg, cfg.verify_grasps,
                                    cfg.verify_passes, seed=run.seed, shrink_m=cfg.verify_shrink_m)
        rounds.append({"seed": run.seed + 1000 * attempt, **rehearsal.to_dict()})
        if rehearsal.passed:
            break
    ranks = verified_order(len(plan.grasps), rehearsal)
    plan.grasps = [plan.grasps[i] for i in ranks]
    run.details["verification"] = {**rehearsal.to_dict(), "order": ranks, "rounds": rounds}
    run.stages.add("verify", t, f"rehearsal on the fused mesh (shrunk {1000 * cfg.verify_shrink_m:g} mm): "
                                f"{len(rehearsal.passed)} of {len(rehearsal.tested)} "
                                f"tested lifted (ranks {rehearsal.passed}), {len(rounds)} planning round(s)",
                   status="ok" if rehearsal.passed else "failed")
    return ranks


def _replan(run: _Run, fused: ObjectModel, perceived_pose: np.ndarray, plan: _Plan, seed: int) -> bool:
    """Plan again with ``seed`` (fresh random initial grasps unless the network gave them). When it gives grasps,
    they replace ``plan.grasps`` and the grasp files (True); False when it gives none. The planner's ValueError /
    RuntimeError propagate."""
    cfg = run.cfg
    if not run.details["network"].get("used"):
        plan.initial = upper_hemisphere_init(fused.mesh, cfg.planner.min_candidates, plan.planner,
                                             cfg.min_approach_elevation_deg, seed, cfg.min_forearm_elevation_deg)
    replan = plan_grasps(fused, k=cfg.num_grasps, seed=seed, config=plan.planner, initial_grasps=plan.initial)
    if not replan.grasps:
        return False
    plan.grasps = _enough_fingers(replan.grasps, cfg.min_touching_fingers)
    run.details["planning"].update(num_grasps=len(plan.grasps), replanned_seed=seed,
                                   best_q1_exact=plan.grasps[0].metrics.get("q1_exact"))
    _save_grasp_files(run, fused.name, plan.grasps, perceived_pose)
    return True


def _execute(run: _Run, grasps: list[Grasp], ranks: list[int], perceived_pose: np.ndarray
             ) -> tuple[tuple[bool, str, str], ExecutionResult | None, list[tuple[str, float]], np.ndarray]:
    """Stage "execute": MuJoCo with the true object at the true pose, the grasps with the perceived pose. Never
    executes what is known to fail: when nothing lifted in the rehearsal the arm stays where it is (result None,
    reason ``no_liftable_grasp``). Returns the outcome (success, reason, message), the result, the (phase, sim
    time) of each rendered frame and the overview picture of the scene at rest."""
    cfg = run.cfg
    known_to_fail = cfg.verify_grasps > 0 and bool(grasps) and not run.details["verification"]["passed"]
    t = time.perf_counter()
    result, phases, scene_image = execute_grasps(run.true_mesh, run.true_pose, grasps, perceived_pose, run.exec_cfg,
                                                 run.rig_path, run.seed, run.progress, execute=not known_to_fail)
    if result is None:
        verification = run.details["verification"]
        message = (f"no liftable grasp found: none of the {len(verification['tested'])} grasps rehearsed "
                   f"in {len(verification['rounds'])} planning round(s) lifted the perceived object; the "
                   "arm was not moved")
        run.details["execution"] = {"skipped": message, "grasp_index": None, "planner_rank": None}
        run.stages.add("execute", t, "skipped: no rehearsed grasp lifted the perceived object", status="skipped")
        return (False, NO_LIFTABLE_GRASP, message), result, phases, scene_image
    _record_execution(run, result, ranks, t)
    return (result.success, result.reason, result.message), result, phases, scene_image


def _record_execution(run: _Run, result: ExecutionResult, ranks: list[int], t: float) -> None:
    """The execution's result into the report (and its trajectory into trajectory.json)."""
    exec_dict = result.to_dict()
    if result.trajectories is not None:
        atomic_write_json(run.output_dir / "trajectory.json", exec_dict.pop("trajectories"))
        run.files.append("trajectory.json")
    else:
        exec_dict.pop("trajectories")
    exec_dict["planner_rank"] = None if result.grasp_index is None else ranks[result.grasp_index]
    run.details["execution"] = exec_dict
    note = f"grasp {result.grasp_index}, phase {result.phase_reached}: {result.message}"
    run.stages.add("execute", t, note, status="ok" if result.success else "failed")


def _outputs(run: _Run, scene_image: np.ndarray, fused_mesh: trimesh.Trimesh, grasps: list[Grasp],
             result: ExecutionResult | None, phases: list[tuple[str, float]]) -> None:
    """Stage "outputs": ``scene.png``, ``grasp_NN.png`` of the top grasps on the fused mesh (fused object frame) and,
    when a grasp was executed, ``execution.png`` / ``execution.gif``."""
    cfg, output_dir = run.cfg, run.output_dir
    t = time.perf_counter()
    run.files.append(save_png(output_dir / "scene.png", scene_image, "scene: UR10e + Shadow hand at home, true "
                                                                     "object, overview camera").name)
    shown = grasps[: cfg.top_grasps]
    run.files += [p.name for p in save_grasp_views(output_dir, fused_mesh, shown, run.object_path.stem)]
    if result is not None:
        run.files += [p.name for p in save_execution_frames(output_dir, result.frames, phases, cfg.gif,
                                                            cfg.execution.render_every)]
    run.stages.add("outputs", t, f"{len(run.files)} files in {output_dir}")


def _enough_fingers(grasps: list[Grasp], minimum: int) -> list[Grasp]:
    """Grasps with at least ``minimum`` touching fingers (planner metric), best first; all of them if none has."""
    enough = [g for g in grasps if g.metrics.get("touching_fingers", minimum) >= minimum]
    return enough or list(grasps)


def _save_grasp_files(run: _Run, fused_name: str, grasps: list[Grasp], perceived_pose: np.ndarray) -> None:
    """``grasps.json`` (fused object frame) and ``grasps_true_frame.json`` (the true mesh's frame: fused object
    frame → world by ``perceived_pose`` (4, 4), world → true mesh frame by the inverse true pose)."""
    to_true = np.linalg.inv(run.true_pose) @ perceived_pose
    save_grasps(run.output_dir / "grasps.json", GraspSet(fused_name, "fused_mesh.obj", grasps))
    save_grasps(run.output_dir / "grasps_true_frame.json",
                GraspSet(run.object_path.stem, str(run.object_path), map_grasps(grasps, to_true)))
