"""Supervised min-of-N loss: each predicted grasp is matched to its nearest reference grasp of the same object.

Distance between a grasp a and a reference b (all in the same object-centred frame):

    d(a, b) = w_p ‖p_a − p_b‖²  +  w_r ‖R_a − R_b‖²_F  +  w_q · mean_j (q_a,j − q_b,j)²

with p the palm position (m), R the palm rotation (3×3) and q the 18 reduced (coupled) joints (rad). For rotations
‖R_a − R_b‖²_F = 4 (1 − cos θ), θ the angle between them, so with the default w_r = 0.25 the rotation term is 1 − cos θ
(0 … 2). Defaults: w_p = 100 m⁻² (a 10 cm offset costs 1), w_q = 1 rad⁻² (an RMS joint error of 1 rad costs 1).

The loss of one object is mean over predictions of min over its valid references of d, plus optionally
``coverage`` × mean over valid references of min over predictions of d (pulls a prediction onto every reference,
which keeps the G predictions from collapsing onto one reference). Differentiable almost everywhere (the gradient
flows to the nearest reference / prediction).
"""

from __future__ import annotations

import dataclasses

import torch

from diffgrasp._checks import check_shape


@dataclasses.dataclass(frozen=True)
class MinOfNWeights:
    """Weights of the grasp distance (see module docstring). position: m⁻²; rotation: per squared Frobenius norm;
    joints: rad⁻² on the mean over joints; coverage: weight of the reference → nearest prediction term."""

    position: float = 100.0
    rotation: float = 0.25
    joints: float = 1.0
    coverage: float = 0.0


def pairwise_grasp_distance(pred_position: torch.Tensor, pred_rotation: torch.Tensor, pred_joints: torch.Tensor,
                            ref_position: torch.Tensor, ref_rotation: torch.Tensor, ref_joints: torch.Tensor,
                            weights: MinOfNWeights = MinOfNWeights()) -> torch.Tensor:
    """Distance of every prediction to every reference: (B, G, R).

    pred_position (B, G, 3) m, pred_rotation (B, G, 3, 3), pred_joints (B, G, D) rad;
    ref_position (B, R, 3), ref_rotation (B, R, 3, 3), ref_joints (B, R, D).
    """
    check_shape("pred_position", pred_position, ("B", "G", 3))
    b, g = pred_position.shape[:2]
    check_shape("pred_rotation", pred_rotation, (b, g, 3, 3))
    check_shape("pred_joints", pred_joints, (b, g, "D"))
    check_shape("ref_position", ref_position, (b, "R", 3))
    r, d = ref_position.shape[1], pred_joints.shape[-1]
    check_shape("ref_rotation", ref_rotation, (b, r, 3, 3))
    check_shape("ref_joints", ref_joints, (b, r, d))
    dp = (pred_position[:, :, None] - ref_position[:, None]).square().sum(-1)
    dr = (pred_rotation[:, :, None] - ref_rotation[:, None]).square().sum((-1, -2))
    dq = (pred_joints[:, :, None] - ref_joints[:, None]).square().mean(-1)
    return weights.position * dp + weights.rotation * dr + weights.joints * dq


def min_of_n_loss(pred_position: torch.Tensor, pred_rotation: torch.Tensor, pred_joints: torch.Tensor,
                  ref_position: torch.Tensor, ref_rotation: torch.Tensor, ref_joints: torch.Tensor,
                  ref_mask: torch.Tensor | None = None, weights: MinOfNWeights = MinOfNWeights()) -> torch.Tensor:
    """Per-object min-of-N loss (B,). Shapes as in :func:`pairwise_grasp_distance`.

    ref_mask: (B, R) bool, True for real references (rows are padded to a common R); None = all valid.
    An object without any valid reference gets loss 0 (and no gradient).
    """
    dist = pairwise_grasp_distance(pred_position, pred_rotation, pred_joints, ref_position, ref_rotation, ref_joints,
                                   weights)
    b, _, r = dist.shape
    if ref_mask is None:
        ref_mask = torch.ones(b, r, dtype=torch.bool, device=dist.device)
    check_shape("ref_mask", ref_mask, (b, r))
    ref_mask = ref_mask.to(torch.bool)
    has_ref = ref_mask.any(dim=1)                                   # (B,)
    usable = ref_mask | ~has_ref[:, None]                          # rows without refs: keep finite values, zeroed below
    masked = dist.masked_fill(~usable[:, None, :], float("inf"))
    loss = masked.amin(dim=2).mean(dim=1)                          # each prediction → nearest reference
    if weights.coverage > 0:
        per_ref = dist.amin(dim=1)                                 # (B, R): each reference → nearest prediction
        n_ref = ref_mask.sum(dim=1).clamp(min=1)
        loss = loss + weights.coverage * (per_ref * ref_mask).sum(dim=1) / n_ref
    return torch.where(has_ref, loss, torch.zeros_like(loss))


__all__ = ["MinOfNWeights", "min_of_n_loss", "pairwise_grasp_distance"]
