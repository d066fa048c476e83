"""The Shadow hand: joint names and limits, batched torch kinematics, contact candidates, coupling."""

from diffgrasp.hand.coupling import JointCoupling
from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_LIMITS, JOINT_NAMES
from diffgrasp.hand.shadow_hand import ShadowHand

__all__ = ["FINGER_JOINT_NAMES", "JOINT_LIMITS", "JOINT_NAMES", "JointCoupling", "ShadowHand"]
