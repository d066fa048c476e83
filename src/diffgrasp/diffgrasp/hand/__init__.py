"""The Shadow hand: joint names and limits, batched torch kinematics, contact candidates, coupling."""

from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_LIMITS, JOINT_NAMES

__all__ = ["FINGER_JOINT_NAMES", "JOINT_LIMITS", "JOINT_NAMES"]
