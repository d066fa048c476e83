"""Constants and helpers of the physics-test tests (imported by conftest.py and the tests; not a test module)."""

from __future__ import annotations

import numpy as np

RADIUS = 0.03      # m
HEIGHT = 0.12      # m
# Palm frame in the cylinder's frame: palm x along the cylinder axis (object z), palm y = object x (the palmar side,
# −y, faces the cylinder), fingers (palm z) along object y. The cylinder axis crosses the palm at palm z = 0.08.
PALM_ROT = np.stack([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], axis=1)
PALM_QUAT_WXYZ = np.array([0.5, -0.5, -0.5, -0.5])  # = PALM_ROT (checked in a test)
PALM_POS = np.array([RADIUS + 0.013, -0.08, 0.0])
THUMB_ROTATION = 0.5  # rad, rh_THJ5 of the open hand


def q_open() -> np.ndarray:
    from diffgrasp.hand.names import FINGER_JOINT_NAMES
    q = np.zeros(22)
    q[list(FINGER_JOINT_NAMES).index("rh_THJ5")] = THUMB_ROTATION
    return q


def moved(grasp, offset_palm_y: float):
    """The same hand shifted along its palm +y (away from the object) by ``offset_palm_y`` m."""
    import copy
    g = copy.deepcopy(grasp)
    g.palm_position = g.palm_position + PALM_ROT[:, 1] * offset_palm_y
    return g

