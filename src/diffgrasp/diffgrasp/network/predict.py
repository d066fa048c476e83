"""Grasps from the network, in the object file's frame and the grasp file format (``diffgrasp.grasps.Grasp``)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from diffgrasp._checks import check_finite, check_shape
from diffgrasp.geometry.rotations import matrix_to_quaternion_xyzw
from diffgrasp.grasps import Grasp
from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_LIMITS
from diffgrasp.network.checkpoint import LoadedCheckpoint, load_checkpoint
from diffgrasp.network.model import GraspNet, GraspPrediction
from diffgrasp.network.preprocessing import render_views


def prediction_to_grasps(prediction: GraspPrediction, centre: np.ndarray, index: int = 0) -> list[Grasp]:
    """Grasps of object ``index`` of a batch prediction, mapped from the object-centred frame to the object frame
    (palm position + ``centre`` (3,) m; orientation and joints unchanged)."""
    pos = prediction.position[index].detach().double().cpu().numpy() + np.asarray(centre, dtype=float)
    quat = matrix_to_quaternion_xyzw(prediction.rotation[index].detach().double().cpu()).numpy()
    joints = prediction.joints[index].detach().double().cpu().numpy()
    lo = np.array([JOINT_LIMITS[n][0] for n in FINGER_JOINT_NAMES])
    hi = np.array([JOINT_LIMITS[n][1] for n in FINGER_JOINT_NAMES])
    joints = np.clip(joints, lo, hi)  # float rounding only: the sigmoid already keeps them inside
    return [Grasp(palm_position=pos[g], palm_quaternion_xyzw=quat[g] / np.linalg.norm(quat[g]),
                  joints={n: float(v) for n, v in zip(FINGER_JOINT_NAMES, joints[g], strict=True)})
            for g in range(pos.shape[0])]


class GraspPredictor:
    """A loaded network ready to predict; reuse one for many objects (loading costs more than inference)."""

    def __init__(self, checkpoint: str | os.PathLike | LoadedCheckpoint | GraspNet | None = None,
                 device: str | torch.device = "cpu", threads: int | None = 1) -> None:
        """checkpoint: a checkpoint path (None = the packaged one), a loaded checkpoint or a GraspNet.

        threads: torch CPU threads during a forward pass (restored afterwards); None = leave torch's setting. One
        thread is the default: a batch of one object gains nothing from more, and on a shared CPU OpenMP threads
        waiting for each other can cost 100× (measured 1.3 ms vs 190 ms on the 2 shared development cores)."""
        if isinstance(checkpoint, GraspNet):
            model = checkpoint
        else:
            loaded = checkpoint if isinstance(checkpoint, LoadedCheckpoint) else load_checkpoint(checkpoint,
                                                                                                 device=device)
            model = loaded.model
        self.model = model.to(device).eval()
        self.config = model.config
        self.device = torch.device(device)
        self.threads = threads

    def views(self, source: Any) -> tuple[np.ndarray, np.ndarray]:
        """Object → (views (V, H, W) m, centre (3,) m in the object frame); see ``preprocessing.render_views``."""
        return render_views(source, self.config)

    @torch.no_grad()
    def predict_views(self, views: np.ndarray | torch.Tensor, centre: np.ndarray | None = None,
                      num_grasps: int | None = None) -> list[Grasp]:
        """Object-centred views (V, H, W) m (0 or NaN = no hit) → grasps in the object frame (centre (3,) m added)."""
        cfg = self.config
        v = torch.as_tensor(np.asarray(views, dtype=np.float32) if not isinstance(views, torch.Tensor) else views,
                            dtype=torch.float32, device=self.device)
        check_shape("views", v, (cfg.num_views, cfg.image_size, cfg.image_size))
        if not (torch.isfinite(v) & (v > 0)).any():
            raise ValueError("views: no pixel sees the object (all 0 / NaN); is the object within the view?")
        centre = np.zeros(3) if centre is None else np.asarray(centre, dtype=float)
        check_shape("centre", centre, (3,))
        check_finite("centre", centre)
        n = cfg.num_grasps if num_grasps is None else int(num_grasps)
        if not 1 <= n <= cfg.num_grasps:
            raise ValueError(f"num_grasps: must be between 1 and {cfg.num_grasps} (the network's G), got {num_grasps}")
        previous = torch.get_num_threads()
        if self.threads is not None and self.device.type == "cpu":
            torch.set_num_threads(self.threads)
        try:
            prediction = self.model(v[None])
        finally:
            torch.set_num_threads(previous)
        return prediction_to_grasps(prediction, centre)[:n]

    def predict(self, source: Any, num_grasps: int | None = None) -> list[Grasp]:
        """Mesh path / mesh / ObjectModel / fused mesh / point cloud → grasps in the object's own frame."""
        views, centre = self.views(source)
        return self.predict_views(views, centre, num_grasps)


def predict_grasps(mesh_or_views: Any, checkpoint: str | os.PathLike | None = None, num_grasps: int | None = None,
                   device: str | torch.device = "cpu", centre: np.ndarray | None = None,
                   threads: int | None = 1) -> list[Grasp]:
    """Predict grasps for one object, in the object file's frame (design notes §4: ``rh_palm`` pose + 22 joints).

    mesh_or_views: a mesh path, trimesh.Trimesh, ObjectModel, FusionResult (grasps in its object frame, see
    ``preprocessing.as_geometry``), point cloud (N, 3), or precomputed
    object-centred views (V, H, W) m — then ``centre`` (3,) is the object-centred frame's origin in the object frame
    (default 0). checkpoint: network checkpoint path (default: the packaged one). num_grasps: the first n of the
    network's G outputs (default all). threads: see :class:`GraspPredictor`. Joints lie within the limits;
    quaternions are unit xyzw. For many objects build one :class:`GraspPredictor` and reuse it.
    """
    predictor = GraspPredictor(checkpoint, device=device, threads=threads)
    if isinstance(mesh_or_views, np.ndarray | torch.Tensor) and mesh_or_views.ndim == 3:
        return predictor.predict_views(mesh_or_views, centre, num_grasps)
    if centre is not None:
        raise ValueError("centre: only used with precomputed views; for a mesh or cloud it is computed")
    return predictor.predict(mesh_or_views, num_grasps)


__all__ = ["GraspPredictor", "predict_grasps", "prediction_to_grasps"]
