"""The init stage: the candidates refinement starts from (planning frame), per method.

Given grasps (``initial_grasps``) come first; otherwise the network's predictions (``init: network``, a
``network_share`` of the candidates) and random starts around the convex hull (diffgrasp.planning.initialization)
for the rest. With a support plane, starts from below it are dropped (random ones: drawn four times over).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch

from diffgrasp.geometry.rotations import quaternion_xyzw_to_matrix
from diffgrasp.grasps import Grasp
from diffgrasp.hand import JointCoupling, ShadowHand
from diffgrasp.network import CheckpointError, predict_grasps
from diffgrasp.planning.context import PlanContext
from diffgrasp.planning.initialization import initial_candidates, jittered_copies
from diffgrasp.planning.power_starts import fit_thumbs

Poses = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # palm position (B, 3) m, rotation (B, 3, 3), u (B, 18) rad


def configured_starts(ctx: PlanContext, n: int, initial_grasps: list[Grasp] | None) -> Poses:
    """Our planner's starts: the given grasps, else ``config.init`` (network: a ``network_share`` of them from the
    network) filled up with random starts."""
    init = ctx.config.init_config
    return _starts(ctx, n, initial_grasps, init.network_share if ctx.config.init == "network" else None)


def random_starts(ctx: PlanContext, n: int, initial_grasps: list[Grasp] | None) -> Poses:
    """The given grasps, else random starts only: the DexGraspNet-style baseline keeps its own initialisation
    (palm and pinch starts; not our power starts)."""
    return _starts(ctx, n, initial_grasps, None, power=False)


def network_starts(ctx: PlanContext, n: int, initial_grasps: list[Grasp] | None) -> Poses:
    """The given grasps, else all the network's predictions (at least n, jittered copies beyond them), nothing
    random and none dropped for the support plane (the network-only method returns the network's own grasps)."""
    return _starts(ctx, n, initial_grasps, 1.0, fill_random=False)


def _starts(ctx: PlanContext, n: int, initial_grasps: list[Grasp] | None, network_share: float | None,
            fill_random: bool = True, power: bool = True) -> Poses:
    hand, plane = ctx.hand, ctx.plane
    parts = []
    if initial_grasps:
        parts.append(grasps_to_tensors(initial_grasps, ctx.coupling, hand.dtype, hand.device, ctx.to_canonical))
    elif network_share is not None:
        p, r, u = network_candidates(ctx, round(n * network_share), all_predictions=not fill_random)
        if plane is not None and fill_random:  # as for random starts: none from below the table
            keep = clear_of_plane(hand, p, r, plane).nonzero()[:, 0]
            p, r, u = p[keep], r[keep], u[keep]
        parts.append((p, r, u))
    have = sum(p[0].shape[0] for p in parts)
    if have < n and fill_random:
        want = n - have
        # With a support plane, approach only from its free side: draw more, keep palms facing down or sideways.
        draw = want if plane is None else 4 * want
        init = ctx.config.init_config if power else dataclasses.replace(ctx.config.init_config, power_fraction=0.0)
        thumb_fit = functools.partial(fit_thumbs, hand, ctx.grid.signed_distance, ctx.coupling, init)
        p, r, u = initial_candidates(ctx.obj.mesh, draw, ctx.coupling, init, ctx.rng, hand.dtype, hand.device,
                                     thumb_fit)
        if plane is not None:
            clear = clear_of_plane(hand, p, r, plane)
            keep = torch.cat([clear.nonzero()[:, 0], (~clear).nonzero()[:, 0]])[:want]  # pad if too few
            p, r, u = p[keep], r[keep], u[keep]
        parts.append((p, r, u))
    return tuple(torch.cat([p[i] for p in parts]) for i in range(3))


def grasps_to_tensors(grasps: list[Grasp], coupling: JointCoupling, dtype: torch.dtype, device: torch.device,
                      transform: np.ndarray) -> Poses:
    """Grasps (object file frame) → palm position (B, 3), rotation (B, 3, 3) in the frame ``transform`` maps to, u."""
    pos = np.array([g.palm_position for g in grasps]) @ transform[:3, :3].T + transform[:3, 3]
    quat = torch.tensor(np.array([g.palm_quaternion_xyzw for g in grasps]), dtype=torch.float64)
    rot = torch.as_tensor(transform[:3, :3]) @ quaternion_xyzw_to_matrix(quat)
    q22 = torch.tensor(np.array([g.joint_vector() for g in grasps]), dtype=dtype, device=device)
    return (torch.as_tensor(pos, dtype=dtype, device=device), rot.to(device, dtype), coupling.reduce(q22))


def clear_of_plane(hand: ShadowHand, position: torch.Tensor, rotation: torch.Tensor, plane: np.ndarray
                   ) -> torch.Tensor:
    """(B,) bool: the palm approaches from the plane's free side (its +y no more than ~12° below the plane) and the
    forearm housing starts above the plane (a table)."""
    up = torch.as_tensor(plane[:3], dtype=rotation.dtype, device=rotation.device)
    forearm = hand.forearm_hull_points(position, rotation) @ up + float(plane[3])
    return (rotation[:, :, 1] @ up > -0.2) & (forearm.amin(1) > 0)


def network_candidates(ctx: PlanContext, n: int, all_predictions: bool = False) -> Poses:
    """n candidates (max(n, G) with ``all_predictions``) from the network's G grasps (planning frame in and out).

    The first min(n, G) are the predictions themselves; further ones cycle through the predictions with the jitter
    of ``config.init_config`` (palm position, palm rotation, reduced joints), drawn from ``ctx.rng``.
    """
    hand, coupling, config = ctx.hand, ctx.coupling, ctx.config
    try:
        predicted = predict_grasps(ctx.obj.mesh, checkpoint=config.network_checkpoint, device=str(hand.device))
    except CheckpointError as err:
        raise CheckpointError(f"planner.network_checkpoint: {err}") from None
    pos, rot, u = grasps_to_tensors(predicted, coupling, hand.dtype, hand.device, np.eye(4))
    g = pos.shape[0]
    n = max(n, g) if all_predictions else n
    if n <= g:
        return pos[:n], rot[:n], u[:n]
    ic = config.init_config
    copies = jittered_copies(pos, rot, u, n - g, ic.network_jitter_position_m, ic.network_jitter_rotation_rad,
                             ic.network_jitter_joints_rad, coupling.limits(pos.device, pos.dtype), ctx.rng)
    return tuple(torch.cat([a, b]) for a, b in zip((pos, rot, u), copies, strict=True))


__all__ = ["Poses", "clear_of_plane", "configured_starts", "grasps_to_tensors", "network_candidates",
           "network_starts", "random_starts"]
