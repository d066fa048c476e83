"""The pregrasp and squeeze rule (design notes §7), in one place for every consumer.

- pregrasp palm: the ``rh_palm`` frame backed off along its own +y (``BACKOFF_AXIS``; fingers point along +z, the
  palmar side faces −y), i.e. away from the grasping side;
- pregrasp joints: the flexion joints (J3, J2, J1 of each finger; THJ2, THJ1) opened, clamped at the lower limits;
- squeeze joints: the flexion joints (of the touching fingers, where the caller knows them) closed further; these
  are motor targets and may pass the upper limits.

Callers: :mod:`diffgrasp.grasps` (the grasp file's defaults, one grasp, float64), the planner's post-processing
(batched torch, the hand's dtype), the execution planner's approach shape and extra squeeze (numpy), and the ROS
MoveIt backend's stand-off. Every function takes numpy arrays or torch tensors and computes in their dtype; the
operation order is fixed here (so a caller's numbers do not depend on which of them calls).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)

BACKOFF_AXIS = 1                  # rh_palm +y: away from the palmar (grasping) side
DEFAULT_PALM_BACKOFF_M = 0.003    # §7 default: palm backed off along +y of rh_palm
DEFAULT_OPEN_RAD = 0.1            # §7 default: flexion joints opened for the pregrasp
DEFAULT_SQUEEZE_RAD = 0.1         # §7 default: flexion joints closed further for the squeeze


def backoff_offset(rotation: Array, distance_m: float) -> Array:
    """rotation (..., 3, 3) of ``rh_palm`` (columns = its axes in the parent frame) → (..., 3) m: the displacement
    ``distance_m`` along the palm's +y (``BACKOFF_AXIS``), in the parent frame."""
    return rotation[..., :, BACKOFF_AXIS] * distance_m


def backed_off_position(position: Array, rotation: Array, distance_m: float) -> Array:
    """Pregrasp palm position (..., 3) m: ``position`` (..., 3) m of ``rh_palm`` moved ``distance_m`` along its own
    +y (rotation (..., 3, 3)); the orientation is unchanged."""
    return position + backoff_offset(rotation, distance_m)


def pregrasp_joints(q: Array, flexion: Array | float, lower: Array, open_rad: float) -> Array:
    """Pregrasp joints (..., J) rad: ``q`` (..., J) rad with the flexion joints opened ``open_rad`` rad, the result
    clamped at ``lower`` (J,) rad.

    flexion: (J,) 1 on the flexion joints and 0 elsewhere, in ``q``'s dtype (or 1.0 when ``q`` holds only flexion
    joints). Every joint is clamped at ``lower``: pass the limits of the joints ``q`` holds (joints already within
    their limits stay as they are).
    """
    opened = q - open_rad * flexion
    if isinstance(opened, torch.Tensor):
        return torch.maximum(opened, lower)
    return np.maximum(opened, lower)


def squeeze_joints(q: Array, flexion: Array | float, squeeze_rad: float, touching: Array | None = None) -> Array:
    """Squeeze targets (..., J) rad: ``q`` (..., J) rad with the flexion joints closed ``squeeze_rad`` rad further
    (motor targets: not clamped, they may pass the upper limits).

    flexion: (J,) 1 on the flexion joints and 0 elsewhere, in ``q``'s dtype (or 1.0 when ``q`` holds only flexion
    joints); touching: optional (..., J) 1/0 in ``q``'s dtype, the joints of the fingers that touch the object (the
    others keep ``q``).
    """
    amount = squeeze_rad * flexion
    if touching is not None:
        amount = amount * touching
    return q + amount


__all__ = ["BACKOFF_AXIS", "DEFAULT_OPEN_RAD", "DEFAULT_PALM_BACKOFF_M", "DEFAULT_SQUEEZE_RAD", "backed_off_position",
           "backoff_offset", "pregrasp_joints", "squeeze_joints"]
