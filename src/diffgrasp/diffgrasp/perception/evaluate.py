"""Fused vs true geometry: chamfer distance, and a one-call simulate → fuse for comparisons (bench, fused-vs-true
planning). The fused mesh is mapped into the true object's file frame with the capture's ``object_pose_world``, so
grasps
planned on it are directly comparable with (and testable on) the true mesh."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from diffgrasp.perception.capture import Capture, pose_from_json
from diffgrasp.perception.fusion import FusionConfig, FusionResult, fuse
from diffgrasp.perception.rig import RigConfig
from diffgrasp.perception.simulate import load_mesh, ring_rig, simulate_capture

__all__ = ["chamfer", "fused_mesh_in_object_frame", "SimulatedFusion", "simulate_and_fuse"]


def chamfer(a: trimesh.Trimesh, b: trimesh.Trimesh, samples: int = 30000, seed: int = 0) -> dict[str, float]:
    """Symmetric surface chamfer between meshes (same frame), m: ``mean`` = (mean a→b + mean b→a) / 2, ``p95`` of
    the pooled distances, ``a_to_b``, ``b_to_a``; ``samples`` area-weighted points per surface."""
    pa = trimesh.sample.sample_surface(a, samples, seed=seed)[0]
    pb = trimesh.sample.sample_surface(b, samples, seed=seed + 1)[0]
    dab = cKDTree(pb).query(pa)[0]
    dba = cKDTree(pa).query(pb)[0]
    return {"mean": float((dab.mean() + dba.mean()) / 2), "p95": float(np.percentile(np.r_[dab, dba], 95)),
            "a_to_b": float(dab.mean()), "b_to_a": float(dba.mean())}


def fused_mesh_in_object_frame(result: FusionResult, object_pose_world: np.ndarray | dict) -> trimesh.Trimesh:
    """The fused (world-frame) mesh expressed in the object file's frame, given the placement (4, 4) or the
    capture.json ``{"position", "quaternion_xyzw"}``."""
    T = pose_from_json(object_pose_world, "object_pose_world") if isinstance(object_pose_world, dict) \
        else np.asarray(object_pose_world, dtype=float)
    m = result.mesh.copy()
    m.apply_transform(np.linalg.inv(T))
    return m


@dataclass
class SimulatedFusion:
    """capture: the simulated capture; result: fusion (world frame); mesh_object_frame: fused mesh in the true object's
    file frame (watertight; plan on it and compare with planning on the true mesh); chamfer: vs the true mesh (m)."""

    capture: Capture
    result: FusionResult
    mesh_object_frame: trimesh.Trimesh
    chamfer: dict[str, float]


def simulate_and_fuse(mesh: str | os.PathLike | trimesh.Trimesh, rig: RigConfig | None = None,
                      noise: str = "realsense", seed: int = 0, config: FusionConfig | None = None,
                      chamfer_samples: int = 30000) -> SimulatedFusion:
    """Render ``mesh`` resting on the table for ``rig`` (default: 4-camera ring), fuse, map back to the file frame."""
    true = load_mesh(mesh)
    capture = simulate_capture(true, rig or ring_rig(4), noise=noise, seed=seed)
    result = fuse(capture, config)
    fused = fused_mesh_in_object_frame(result, capture.metadata["object_pose_world"])
    return SimulatedFusion(capture, result, fused, chamfer(fused, true, chamfer_samples, seed))
