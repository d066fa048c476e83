"""ROS-free goal parsing and result/feedback building for our services and actions.

Goal parsers do the cheap checks of ``goal_callback`` and raise ``ValueError("<field>: <reason>")`` so a node can
reject naming the bad field. Builders fill every field (rosbags has no defaults), so a renamed interface field breaks
the tests. Error codes are the constants of the .srv/.action files (SUCCESS = 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diffgrasp.grasps import GraspSet
from diffgrasp_ros.conversions import (
    grasp_from_ros,
    grasp_set_from_ros,
    grasp_set_to_ros,
    header_to_ros,
    joint_trajectory_to_ros,
    loss_terms_to_ros,
)
from diffgrasp_ros.message_factory import MessageFactory
from diffgrasp_ros.sensor_conversions import Observation, observation_from_ros, observation_to_ros

PKG = "diffgrasp_interfaces"
EXECUTE_PHASES = ("pregrasp", "approach", "close", "squeeze", "lift")
PIPELINE_STAGES = ("capture", "fusion", "inference", "refinement", "execution")


def _finite_non_negative(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value}")
    return value


def _empty_grasp_set(f: MessageFactory, frame_id: str = "object", object_id: str = "") -> Any:
    return grasp_set_to_ros(f, GraspSet("", "", []), object_id=object_id, frame_id=frame_id)


def empty_observation(f: MessageFactory) -> Any:
    return observation_to_ros(f, Observation("", "", 0, np.eye(4), np.zeros((0, 3)), np.zeros((0, 3), np.int64),
                                             np.zeros((0, 3), np.float32), False, "", []))


# --- CaptureScene / FuseScene -----------------------------------------------------------------------------------------
def capture_request_to_ros(f: MessageFactory, camera_names: Sequence[str] = (), timeout_s: float = 0.0) -> Any:
    return f(f"{PKG}/srv/CaptureScene_Request", camera_names=list(camera_names),
             timeout_s=_finite_non_negative(timeout_s, "timeout_s"))


def fuse_request_to_ros(f: MessageFactory, views_msg: Any, object_id: str = "object", mesh_path: str = "") -> Any:
    return f(f"{PKG}/srv/FuseScene_Request", views=views_msg, object_id=str(object_id), mesh_path=str(mesh_path))


def capture_response_to_ros(f: MessageFactory, error_code: int, message: str, views_msg: Any | None) -> Any:
    """CaptureScene response; ``views_msg`` None → an empty MultiViewDepth."""
    if views_msg is None:
        views_msg = f(f"{PKG}/msg/MultiViewDepth", header=header_to_ros(f, ""), camera_names=[], depth=[],
                      camera_info=[], base_to_camera=[])
    return f(f"{PKG}/srv/CaptureScene_Response", error_code=int(error_code), message=str(message), views=views_msg)


def fuse_response_to_ros(f: MessageFactory, error_code: int, message: str, observation_msg: Any | None) -> Any:
    return f(f"{PKG}/srv/FuseScene_Response", error_code=int(error_code), message=str(message),
             observation=observation_msg if observation_msg is not None else empty_observation(f))


# --- PredictGrasps ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PredictRequest:
    observation: Observation
    num_grasps: int


def predict_goal_to_ros(f: MessageFactory, observation_msg: Any, num_grasps: int) -> Any:
    return f(f"{PKG}/action/PredictGrasps_Goal", observation=observation_msg, num_grasps=int(num_grasps))


def predict_goal_from_ros(goal: Any) -> PredictRequest:
    if goal.num_grasps < 1:
        raise ValueError(f"num_grasps: expected >= 1, got {goal.num_grasps}")
    observation = observation_from_ros(goal.observation)
    if len(observation.vertices) == 0 and not observation.mesh_path:
        raise ValueError("observation.mesh: empty and no mesh_path")
    return PredictRequest(observation, int(goal.num_grasps))


def predict_result_to_ros(f: MessageFactory, error_code: int, message: str, grasp_set_msg: Any | None = None,
                          inference_time_s: float = 0.0) -> Any:
    return f(f"{PKG}/action/PredictGrasps_Result", error_code=int(error_code), message=str(message),
             grasps=grasp_set_msg if grasp_set_msg is not None else _empty_grasp_set(f),
             inference_time_s=float(inference_time_s))


def predict_feedback_to_ros(f: MessageFactory, stage: str, progress: float) -> Any:
    return f(f"{PKG}/action/PredictGrasps_Feedback", stage=str(stage), progress=float(progress))


# --- RefineGrasps -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RefineRequest:
    """A validated RefineGrasps goal. initial_grasps None = the planner samples its own; weights: loss overrides."""

    observation: Observation
    initial_grasps: Any | None
    num_grasps: int
    max_iterations: int
    timeout_s: float
    seed: int
    weights: dict[str, float] = field(default_factory=dict)


def refine_goal_to_ros(f: MessageFactory, observation_msg: Any, num_grasps: int, initial_grasps_msg: Any | None = None,
                       max_iterations: int = 0, timeout_s: float = 0.0, seed: int = 0,
                       weights: Mapping[str, float] | None = None) -> Any:
    weights = dict(weights or {})
    return f(f"{PKG}/action/RefineGrasps_Goal", observation=observation_msg,
             initial_grasps=initial_grasps_msg if initial_grasps_msg is not None else _empty_grasp_set(f),
             num_grasps=int(num_grasps), max_iterations=int(max_iterations), timeout_s=float(timeout_s),
             seed=int(seed), weight_names=list(weights), weight_values=np.array(list(weights.values()), dtype=float))


def refine_goal_from_ros(goal: Any) -> RefineRequest:
    if goal.num_grasps < 1:
        raise ValueError(f"num_grasps: expected >= 1, got {goal.num_grasps}")
    timeout = _finite_non_negative(goal.timeout_s, "timeout_s")
    names, values = list(goal.weight_names), np.asarray(goal.weight_values, dtype=float)
    if len(names) != len(values):
        raise ValueError(f"weight_values: {len(values)} values for {len(names)} weight_names")
    if not (np.isfinite(values).all() and (values >= 0).all()):
        raise ValueError("weight_values: expected finite numbers >= 0")
    observation = observation_from_ros(goal.observation)
    if len(observation.vertices) == 0:
        raise ValueError("observation.mesh: empty (refinement needs the object mesh)")
    if not observation.watertight:
        raise ValueError("observation.mesh_is_watertight: false (refinement needs a watertight mesh)")
    initial = grasp_set_from_ros(goal.initial_grasps) if len(goal.initial_grasps.grasps) else None
    return RefineRequest(observation, initial, int(goal.num_grasps), int(goal.max_iterations), timeout,
                         int(goal.seed), {n: float(v) for n, v in zip(names, values, strict=True)})


def refine_feedback_to_ros(f: MessageFactory, iteration: int, max_iterations: int, best_loss: float,
                           loss_terms: Mapping[str, float] | None, elapsed_s: float) -> Any:
    progress = min(1.0, iteration / max_iterations) if max_iterations > 0 else 0.0
    return f(f"{PKG}/action/RefineGrasps_Feedback", iteration=int(iteration), max_iterations=int(max_iterations),
             best_loss=float(best_loss), best_loss_terms=loss_terms_to_ros(f, best_loss, loss_terms),
             progress=float(progress), elapsed_s=float(elapsed_s))


def refine_result_to_ros(f: MessageFactory, error_code: int, message: str, *, status: str = "",
                         grasp_set_msg: Any | None = None, iterations: int = 0, best_loss: float = math.nan,
                         loss_terms: Mapping[str, float] | None = None, planning_time_s: float = 0.0) -> Any:
    return f(f"{PKG}/action/RefineGrasps_Result", error_code=int(error_code), message=str(message),
             status=str(status), grasps=grasp_set_msg if grasp_set_msg is not None else _empty_grasp_set(f),
             iterations=int(iterations), best_loss=float(best_loss),
             best_loss_terms=loss_terms_to_ros(f, best_loss, loss_terms), planning_time_s=float(planning_time_s))


# --- ExecuteGrasp -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExecuteRequest:
    """A validated ExecuteGrasp goal; zeros in the goal were replaced by the node's defaults."""

    grasp: Any
    grasp_frame: str
    observation: Observation
    approach_distance_m: float
    lift_height_m: float
    velocity_scaling: float
    plan_only: bool


def execute_goal_from_ros(goal: Any, defaults: Mapping[str, float]) -> ExecuteRequest:
    """``defaults``: approach_distance_m, lift_height_m, velocity_scaling used where the goal has 0."""
    grasp = grasp_from_ros(goal.grasp)
    observation = observation_from_ros(goal.observation)
    frame = goal.grasp.header.frame_id
    if frame not in ("object", observation.frame_id):
        raise ValueError(f"grasp.header.frame_id: {frame!r} is neither 'object' nor the observation frame "
                         f"{observation.frame_id!r}")
    values = {}
    for name in ("approach_distance_m", "lift_height_m", "velocity_scaling"):
        v = _finite_non_negative(getattr(goal, name), name)
        values[name] = v if v > 0 else float(defaults[name])
    if values["velocity_scaling"] > 1.0:
        raise ValueError(f"velocity_scaling: expected (0, 1], got {values['velocity_scaling']}")
    return ExecuteRequest(grasp, frame, observation, plan_only=bool(goal.plan_only), **values)


def execute_feedback_to_ros(f: MessageFactory, phase: str) -> Any:
    if phase not in EXECUTE_PHASES:
        raise ValueError(f"phase: expected one of {', '.join(EXECUTE_PHASES)}, got {phase!r}")
    progress = (EXECUTE_PHASES.index(phase) + 1) / len(EXECUTE_PHASES)
    return f(f"{PKG}/action/ExecuteGrasp_Feedback", phase=phase, progress=float(progress))


def execute_result_to_ros(f: MessageFactory, error_code: int, message: str, *, phase_reached: str = "",
                          failed_phase: str = "", trajectories: Sequence[Any] = (), object_lifted: bool = False) -> Any:
    return f(f"{PKG}/action/ExecuteGrasp_Result", error_code=int(error_code), message=str(message),
             phase_reached=str(phase_reached), failed_phase=str(failed_phase), trajectories=list(trajectories),
             object_lifted=bool(object_lifted))


# Core ExecutionResult.reason → ExecuteGrasp error code constant name.
REASON_TO_ERROR = {"ok": "SUCCESS", "unreachable": "PLANNING_FAILED", "collision": "PLANNING_FAILED",
                   "slip": "OBJECT_NOT_LIFTED", "no_grasps": "INVALID_GOAL", "cancelled": "CANCELLED",
                   "control": "CONTROL_FAILED"}


def execution_result_to_ros(f: MessageFactory, result: Any, result_type: Any) -> Any:
    """Core ``ExecutionResult`` → ExecuteGrasp result. ``result_type`` provides the error constants (the message
    class of the backend: rclpy or rosbags). Recorded trajectories become one JointTrajectory per phase (arm + hand
    joints, times from the start of the phase)."""
    code = getattr(result_type, REASON_TO_ERROR.get(result.reason, "FAILED"))
    trajectories = []
    traj = getattr(result, "trajectories", None)
    if traj is not None and len(traj.time):
        names = list(traj.arm_names) + list(traj.hand_names)
        values = np.concatenate([traj.arm, traj.hand], axis=1)
        phases = np.asarray(traj.phase)
        for phase in dict.fromkeys(traj.phase):  # phases in order of appearance
            idx = np.flatnonzero(phases == phase)
            times = traj.time[idx] - traj.time[idx[0]]
            keep = np.concatenate([[True], np.diff(times) > 0])
            trajectories.append(joint_trajectory_to_ros(f, names, times[keep], values[idx][keep]))
    failed = "" if result.success else result.phase_reached
    # object_lifted only from a measurement (the backend's ExecutionResult.object_lifted); None = not measured
    lifted = getattr(result, "object_lifted", None)
    message = result.message or result.reason
    if lifted is None and result.success:
        message += " (object not sensed: object_lifted is false)"
    return execute_result_to_ros(f, code, message, phase_reached=result.phase_reached,
                                 failed_phase=failed, trajectories=trajectories, object_lifted=bool(lifted))


# --- GraspObject ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GraspObjectRequest:
    object_id: str
    num_candidates: int
    refine: bool
    execute: bool
    timeout_s: float


def grasp_object_goal_from_ros(goal: Any) -> GraspObjectRequest:
    if goal.num_candidates < 1:
        raise ValueError(f"num_candidates: expected >= 1, got {goal.num_candidates}")
    return GraspObjectRequest(goal.object_id or "object", int(goal.num_candidates), bool(goal.refine),
                              bool(goal.execute), _finite_non_negative(goal.timeout_s, "timeout_s"))


def grasp_object_goal_to_ros(f: MessageFactory, request: GraspObjectRequest) -> Any:
    return f(f"{PKG}/action/GraspObject_Goal", object_id=request.object_id, num_candidates=request.num_candidates,
             refine=request.refine, execute=request.execute, timeout_s=request.timeout_s)


def grasp_object_feedback_to_ros(f: MessageFactory, stage: str, best_quality: float = math.nan) -> Any:
    if stage not in PIPELINE_STAGES:
        raise ValueError(f"stage: expected one of {', '.join(PIPELINE_STAGES)}, got {stage!r}")
    progress = PIPELINE_STAGES.index(stage) / len(PIPELINE_STAGES)
    return f(f"{PKG}/action/GraspObject_Feedback", stage=stage, progress=float(progress),
             best_quality=float(best_quality))


def grasp_object_result_to_ros(f: MessageFactory, error_code: int, message: str, *, failed_stage: str = "",
                               observation_msg: Any | None = None, candidates_msg: Any | None = None,
                               executed_index: int = -1, object_lifted: bool = False) -> Any:
    return f(f"{PKG}/action/GraspObject_Result", error_code=int(error_code), message=str(message),
             failed_stage=str(failed_stage),
             observation=observation_msg if observation_msg is not None else empty_observation(f),
             candidates=candidates_msg if candidates_msg is not None else _empty_grasp_set(f),
             executed_index=int(executed_index), object_lifted=bool(object_lifted))


__all__ = [
    "EXECUTE_PHASES", "PIPELINE_STAGES", "REASON_TO_ERROR", "ExecuteRequest", "GraspObjectRequest", "PredictRequest",
    "RefineRequest", "capture_request_to_ros", "capture_response_to_ros", "fuse_request_to_ros",
    "predict_goal_to_ros", "empty_observation", "execute_feedback_to_ros",
    "execute_goal_from_ros", "execute_result_to_ros", "execution_result_to_ros", "fuse_response_to_ros",
    "grasp_object_feedback_to_ros", "grasp_object_goal_from_ros", "grasp_object_goal_to_ros",
    "grasp_object_result_to_ros", "predict_feedback_to_ros", "predict_goal_from_ros", "predict_result_to_ros",
    "refine_feedback_to_ros", "refine_goal_from_ros", "refine_goal_to_ros", "refine_result_to_ros",
]
