"""Grasp helpers of the embedded pipeline: frame changes, and the table-aware random initialisation.

The Shadow hand's forearm extends along −z of ``rh_palm`` (wrist joints at 0); the approach side is +y.

Frames: a grasp's palm pose is given in some object frame (design notes §4); the fused object frame of
``diffgrasp.perception.fuse`` has z = the table normal, so "above the table" is +z there.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from diffgrasp.geometry import ObjectModel
from diffgrasp.geometry.rotations import matrix_to_quaternion_xyzw, quaternion_xyzw_to_matrix
from diffgrasp.grasps import Grasp
from diffgrasp.hand import JointCoupling, ShadowHand
from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp.planning import PlannerConfig
from diffgrasp.planning.fast_object import GridObject
from diffgrasp.planning.initialization import initial_candidates
from diffgrasp.planning.power_starts import fit_thumbs

__all__ = ["approach_elevation_deg", "forearm_elevation_deg", "map_grasps", "upper_hemisphere_init"]


def map_grasps(grasps: list[Grasp], transform: np.ndarray) -> list[Grasp]:
    """Grasps (palm poses in frame A) → frame B, given ``transform`` (4, 4) A → B; joints unchanged."""
    R, t = transform[:3, :3], transform[:3, 3]

    def quat(q: Any) -> np.ndarray:
        m = R @ quaternion_xyzw_to_matrix(torch.as_tensor(np.asarray(q, float))).numpy()
        return matrix_to_quaternion_xyzw(torch.as_tensor(m)).numpy()

    out = []
    for g in grasps:  # a handful of grasps, output only
        extra = {}
        if g.pregrasp_palm_position is not None:
            extra["pregrasp_palm_position"] = R @ np.asarray(g.pregrasp_palm_position) + t
        if g.pregrasp_palm_quaternion_xyzw is not None:
            extra["pregrasp_palm_quaternion_xyzw"] = quat(g.pregrasp_palm_quaternion_xyzw)
        out.append(dataclasses.replace(g, palm_position=R @ np.asarray(g.palm_position) + t,
                                       palm_quaternion_xyzw=quat(g.palm_quaternion_xyzw), **extra))
    return out


def _palm_axis_elevation_deg(grasp, axis: int, sign: float, up: tuple[float, float, float]) -> float:
    direction = sign * quaternion_xyzw_to_matrix(torch.as_tensor(np.asarray(grasp.palm_quaternion_xyzw, float)))
    up_unit = np.asarray(up, float) / np.linalg.norm(up)
    return float(np.degrees(np.arcsin(np.clip(direction.numpy()[:, axis] @ up_unit, -1.0, 1.0))))


def approach_elevation_deg(grasp, up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> float:
    """Elevation (deg) above the table (normal ``up`` in the grasp's frame) of the palm's +y axis (away from the
    palmar side; the approach comes from there)."""
    return _palm_axis_elevation_deg(grasp, 1, 1.0, up)


def forearm_elevation_deg(grasp, up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> float:
    """Elevation (deg) of the palm's −z axis: the forearm's direction (fingers point along +z, wrist joints at 0)."""
    return _palm_axis_elevation_deg(grasp, 2, -1.0, up)


def upper_hemisphere_init(mesh, n: int, planner_cfg: PlannerConfig, min_elevation_deg: float, seed: int,
                          min_forearm_elevation_deg: float = -90.0) -> list[Grasp]:
    """n initial grasps from the planner's own random initialisation (``planning.initialization``; palm facing the
    convex hull at a standoff, random roll, pre-shape) that come from above the table (z = table normal in
    ``mesh``'s frame): the approach (the outward hull normal at the approach point = palm +y) at least
    ``min_elevation_deg`` above the horizontal, and the forearm (palm −z) at least ``min_forearm_elevation_deg``
    (the Shadow forearm is a thick body behind the palm: lying flat it hits the table). Drawn from a pool of 32 n;
    tops up with the candidates closest to both limits if too few qualify. Power starts (thick objects) get their
    thumbs fitted as in the planner, on an SDF grid of ``mesh`` built only for them."""
    coupling = JointCoupling(planner_cfg.coupling_ratio)
    rng = np.random.default_rng(seed)
    pos, rot, u = initial_candidates(mesh, 32 * n, coupling, planner_cfg.init_config, rng, torch.float64,
                                     thumb_fit=_grid_thumb_fit(mesh, planner_cfg, coupling))
    approach = np.degrees(np.arcsin(np.clip(rot[:, 2, 1].numpy(), -1.0, 1.0)))
    forearm = np.degrees(np.arcsin(np.clip(-rot[:, 2, 2].numpy(), -1.0, 1.0)))
    margin = np.minimum(approach - min_elevation_deg, forearm - min_forearm_elevation_deg)
    ok = np.flatnonzero(margin >= 0)
    pick = ok[:n] if len(ok) >= n else np.argsort(-margin, kind="stable")[:n]
    q22 = coupling.expand(u[pick]).numpy()
    quats = matrix_to_quaternion_xyzw(rot[pick]).numpy()
    return [Grasp(palm_position=pos[i].numpy(), palm_quaternion_xyzw=quats[j],
                  joints=dict(zip(FINGER_JOINT_NAMES, q22[j].tolist(), strict=True)))
            for j, i in enumerate(pick)]


def _grid_thumb_fit(mesh, planner_cfg: PlannerConfig, coupling: JointCoupling):
    """``fit_thumbs`` on the planner's hand and an SDF grid of ``mesh`` (both made on the first call: only objects
    thick enough for power starts pay for them)."""
    def fit(position: torch.Tensor, rotation: torch.Tensor, u: torch.Tensor, rng: np.random.Generator
            ) -> torch.Tensor:
        grid = GridObject(ObjectModel(mesh), planner_cfg.sdf_voxel_m)
        return fit_thumbs(ShadowHand(dtype=u.dtype), grid.signed_distance, coupling, planner_cfg.init_config,
                          position, rotation, u, rng)
    return fit
