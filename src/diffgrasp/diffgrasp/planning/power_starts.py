"""Power (enveloping) starts for objects too large for a fingertip grasp: palm on the surface, fingers pre-curled
around it, thumb placed by search.

Frames: the object mesh frame; palm conventions of design notes §3 (fingers +z, palmar side −y, thumb on +x).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from diffgrasp.hand import JointCoupling, ShadowHand
from diffgrasp.hand.names import COUPLED_FINGERS, THUMB_JOINT_NAMES
from diffgrasp.planning.planner_config import InitConfig

# Wrapping a cylinder of radius R with segments touching it at their middles turns each joint by (a + b) / (2R), a and
# b the lengths of the segments it joins (m): palm (skin point → knuckle, 2 × 0.04) and proximal phalanx (0.045) at
# J3; proximal and middle (0.025) at J2, and middle and distal (0.026) at J1, which J2 drives (coupled 1:1): their mean.
POWER_J3_ARC_M = (0.08 + 0.045) / 2
POWER_J2_ARC_M = ((0.045 + 0.025) / 2 + (0.025 + 0.026) / 2) / 2
POWER_ROLLS = 12  # finger directions tried per start when looking for the object's narrowest tangent direction

# palm position (B, 3), rotation (B, 3, 3), reduced joints u (B, U), generator → u with the thumb placed (B, U)
ThumbFit = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, np.random.Generator], torch.Tensor]


def power_shape(hull_vertices: np.ndarray, points: np.ndarray, normals: np.ndarray, rot: np.ndarray, u: np.ndarray,
                 power: np.ndarray, coupling: JointCoupling, config: InitConfig, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Turn the ``power`` (n,) bool starts into enveloping starts: palm rotation (n, 3, 3) rolled so the fingers
    point where the object is narrowest, reduced joints u (n, U) curled for the local radius → rot, u.

    hull_vertices (H, 3); points / normals (n, 3): hull points and outward normals; rot: palm axes (columns).
    """
    y_axis, e1 = rot[:, :, 1], rot[:, :, 2]  # palm −y faces the object; any finger direction as the reference
    e2 = np.cross(y_axis, e1)
    angles = np.linspace(0.0, np.pi, POWER_ROLLS, endpoint=False)
    directions = np.cos(angles)[None, :, None] * e1[:, None] + np.sin(angles)[None, :, None] * e2[:, None]
    projected = np.einsum("nrk,hk->nrh", directions, hull_vertices)  # (n, R, H)
    width = projected.max(-1) - projected.min(-1)
    best = width.argmin(1)
    # Fingers either way along the narrowest direction (thumb on either side), jittered.
    roll = angles[best] + np.pi * rng.integers(0, 2, size=len(best)) + \
        rng.normal(0.0, config.power_roll_jitter_rad, size=len(best))
    z_axis = np.cos(roll)[:, None] * e1 + np.sin(roll)[:, None] * e2
    power_rot = np.stack([np.cross(y_axis, z_axis), y_axis, z_axis], axis=-1)
    depth = np.einsum("nk,nhk->nh", normals, points[:, None] - hull_vertices[None]).max(1)
    radius = np.maximum(0.5 * np.minimum(depth, width.min(1)), config.power_min_radius_m)
    names = coupling.reduced_names
    u = u.copy()
    for finger in COUPLED_FINGERS:
        for joint, arc in (("J3", POWER_J3_ARC_M), ("J2", POWER_J2_ARC_M)):
            column = names.index(f"rh_{finger}{joint}")
            u[power, column] = config.power_curl * arc / radius[power]
    for name, value in config.power_thumb.items():
        u[power, names.index(name)] = value
    return np.where(power[:, None, None], power_rot, rot), u


def fit_thumbs(hand: ShadowHand, signed_distance: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
               coupling: JointCoupling, config: InitConfig, position: torch.Tensor, rotation: torch.Tensor,
               u: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Each start's thumb by search: of ``config.power_thumb_tries`` thumb configurations (the given one, then
    uniform within the limits), the one whose skin comes closest to the surface without penetrating it more than
    ``config.power_thumb_max_penetration_m`` (none does: the least penetrating). An opposed thumb's place around a
    large object depends on where the palm and fingers sit; a fixed pre-shape starts it deep inside or far away.

    position (B, 3), rotation (B, 3, 3), u (B, U) → u (B, U) with the thumb joints replaced.
    signed_distance: points (B, N, 3) → (distance (B, N) m, normals), e.g. the planner's SDF grid.
    """
    tries = config.power_thumb_tries
    b = u.shape[0]
    thumb = torch.as_tensor([coupling.reduced_names.index(n) for n in THUMB_JOINT_NAMES], device=u.device)
    lo, hi = (limit[thumb] for limit in coupling.limits(u.device, u.dtype))
    candidates = u[:, None].repeat(1, tries, 1)  # (B, T, U)
    draws = torch.as_tensor(rng.uniform(size=(b, tries - 1, len(thumb))), dtype=u.dtype, device=u.device)
    candidates[:, 1:, thumb] = lo + draws * (hi - lo)
    thumb_links = [i for i, link in enumerate(hand.palm_link_names) if link.startswith("rh_th")]
    on_thumb = torch.isin(hand.surface_link_index, torch.as_tensor(thumb_links, device=u.device))
    subset = hand.surface_subset(on_thumb.nonzero()[:, 0].cpu().numpy())
    points = hand.transform_points(subset, position.repeat_interleave(tries, 0), rotation.repeat_interleave(tries, 0),
                                   coupling.expand(candidates.reshape(b * tries, -1)))
    distance = signed_distance(points)[0].reshape(b, tries, -1)
    penetration = (-distance).clamp_min(0).amax(-1)
    gap = distance.amin(-1).clamp_min(0)
    score = torch.where(penetration <= config.power_thumb_max_penetration_m, gap, 1.0 + penetration)
    return candidates[torch.arange(b, device=u.device), score.argmin(1)]


__all__ = ["POWER_J2_ARC_M", "POWER_J3_ARC_M", "ThumbFit", "fit_thumbs", "power_shape"]
