"""Differentiable grasp losses and metrics (design notes §6): generalized Q1, exact Q1, penetration, self-collision,
closeness, joint limits, and GraspLoss combining them. Every term is per grasp, (B,)."""

from diffgrasp.losses.closeness import closeness
from diffgrasp.losses.joint_limits import joint_limit_violation
from diffgrasp.losses.penetration import (
    capsule_signed_distance,
    hand_in_object_penetration,
    object_in_hand_penetration,
    sparse_hand_in_object_penetration,
)
from diffgrasp.losses.q1 import direction_set, generalized_q1, support_function
from diffgrasp.losses.q1_exact import contact_wrenches, exact_q1
from diffgrasp.losses.self_collision import segment_segment_distance, self_collision
from diffgrasp.losses.support_plane import support_plane_violation
from diffgrasp.losses.total import TERM_NAMES, GraspLoss, LossBreakdown, LossConfig

__all__ = [
    "TERM_NAMES",
    "GraspLoss",
    "LossBreakdown",
    "LossConfig",
    "capsule_signed_distance",
    "closeness",
    "contact_wrenches",
    "direction_set",
    "exact_q1",
    "generalized_q1",
    "hand_in_object_penetration",
    "joint_limit_violation",
    "object_in_hand_penetration",
    "sparse_hand_in_object_penetration",
    "segment_segment_distance",
    "self_collision",
    "support_function",
    "support_plane_violation",
]
