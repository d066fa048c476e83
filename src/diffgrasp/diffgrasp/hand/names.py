"""Shadow hand joint names (the 24 official names, canonical order) and joint groups."""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "rh_WRJ2", "rh_WRJ1",
    "rh_FFJ4", "rh_FFJ3", "rh_FFJ2", "rh_FFJ1",
    "rh_MFJ4", "rh_MFJ3", "rh_MFJ2", "rh_MFJ1",
    "rh_RFJ4", "rh_RFJ3", "rh_RFJ2", "rh_RFJ1",
    "rh_LFJ5", "rh_LFJ4", "rh_LFJ3", "rh_LFJ2", "rh_LFJ1",
    "rh_THJ5", "rh_THJ4", "rh_THJ3", "rh_THJ2", "rh_THJ1",
)
"""All 24 joints in the canonical order (= MJCF qpos order of ``right_hand.xml``)."""

WRIST_JOINT_NAMES: tuple[str, ...] = JOINT_NAMES[:2]
FINGER_JOINT_NAMES: tuple[str, ...] = JOINT_NAMES[2:]
"""The 22 finger and thumb joints (the grasp file's ``joints``)."""

THUMB_JOINT_NAMES: tuple[str, ...] = JOINT_NAMES[-5:]
"""The thumb's 5 joints."""

COUPLED_FINGERS: tuple[str, ...] = ("FF", "MF", "RF", "LF")
"""Fingers whose J1 (distal) and J2 (middle) share one tendon: their sum is commanded."""

FLEXION_JOINT_NAMES: tuple[str, ...] = tuple(
    f"rh_{f}J{j}" for f in COUPLED_FINGERS for j in (3, 2, 1)
) + ("rh_THJ2", "rh_THJ1")
"""Joints opened for the pregrasp and closed for the squeeze (design notes §7)."""

PROXIMAL_FLEXION_JOINT_NAMES: tuple[str, ...] = tuple(f"rh_{f}J3" for f in COUPLED_FINGERS) + ("rh_THJ2",)
"""The flexion joint nearest the palm of each finger (a wrapping closing moves these first)."""

# Limits from right_hand.xml (rad), canonical order.
JOINT_LIMITS: dict[str, tuple[float, float]] = {
    "rh_WRJ2": (-0.523599, 0.174533), "rh_WRJ1": (-0.698132, 0.488692),
    **{f"rh_{f}J4": (-0.349066, 0.349066) for f in COUPLED_FINGERS},
    **{f"rh_{f}J3": (-0.261799, 1.5708) for f in COUPLED_FINGERS},
    **{f"rh_{f}J{j}": (0.0, 1.5708) for f in COUPLED_FINGERS for j in (2, 1)},
    "rh_LFJ5": (0.0, 0.785398),
    "rh_THJ5": (-1.0472, 1.0472), "rh_THJ4": (0.0, 1.22173), "rh_THJ3": (-0.20944, 0.20944),
    "rh_THJ2": (-0.698132, 0.698132), "rh_THJ1": (-0.261799, 1.5708),
}
JOINT_LIMITS = {name: JOINT_LIMITS[name] for name in JOINT_NAMES}
