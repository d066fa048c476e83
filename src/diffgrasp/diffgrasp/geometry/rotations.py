"""Rotations: the only module that converts quaternion order.

Files and ROS messages use xyzw; MuJoCo, trimesh and pytorch_kinematics use wxyz. Internally we use rotation
matrices (..., 3, 3) and the continuous 6D representation (..., 6) = first two columns of the matrix
(Zhou et al. 2019). Every torch function is batched over leading dimensions and differentiable.
"""

from __future__ import annotations

import numpy as np
import torch

UNIT_TOLERANCE = 1e-3  # a file quaternion whose norm differs from 1 by more than this is an error


def xyzw_to_wxyz(q: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """(..., 4) xyzw → (..., 4) wxyz."""
    if isinstance(q, torch.Tensor):
        return torch.cat([q[..., 3:], q[..., :3]], dim=-1)
    q = np.asarray(q)
    return np.concatenate([q[..., 3:], q[..., :3]], axis=-1)


def wxyz_to_xyzw(q: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """(..., 4) wxyz → (..., 4) xyzw."""
    if isinstance(q, torch.Tensor):
        return torch.cat([q[..., 1:], q[..., :1]], dim=-1)
    q = np.asarray(q)
    return np.concatenate([q[..., 1:], q[..., :1]], axis=-1)


def normalize_quaternion(q: np.ndarray, name: str = "quaternion", tol: float = UNIT_TOLERANCE) -> np.ndarray:
    """Normalise a (4,) quaternion given with a norm within ``tol`` of 1; raise ValueError otherwise."""
    q = np.asarray(q, dtype=float)
    norm = float(np.linalg.norm(q))
    if q.shape != (4,) or not np.isfinite(q).all():
        raise ValueError(f"{name}: expected 4 finite numbers, got {q.tolist()}")
    if abs(norm - 1.0) > tol:
        raise ValueError(f"{name}: not a unit quaternion (norm {norm:.6f})")
    return q / norm


def quaternion_xyzw_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) unit quaternion xyzw → (..., 3, 3) rotation matrix."""
    q = q / q.norm(dim=-1, keepdim=True)
    x, y, z, w = q.unbind(-1)
    m = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ], dim=-1)
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quaternion_xyzw(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation matrix → (..., 4) unit quaternion xyzw with w ≥ 0 (numerically robust branch choice)."""
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Four candidate solutions; choose per element the one with the largest denominator (Shepperd's method).
    cands = torch.stack([
        torch.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1],
                     1 + m00 + m11 + m22], -1),
        torch.stack([1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0],
                     m[..., 2, 1] - m[..., 1, 2]], -1),
        torch.stack([m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1],
                     m[..., 0, 2] - m[..., 2, 0]], -1),
        torch.stack([m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22,
                     m[..., 1, 0] - m[..., 0, 1]], -1),
    ], dim=-2)  # (..., 4 candidates, 4 xyzw)
    diag = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = diag.argmax(dim=-1)
    q = torch.gather(cands, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = q / q.norm(dim=-1, keepdim=True)
    return torch.where(q[..., 3:] < 0, -q, q)


def rotation6d_to_matrix(r6: torch.Tensor) -> torch.Tensor:
    """(..., 6) = two 3-vectors (first two columns) → (..., 3, 3) rotation by Gram–Schmidt."""
    a1, a2 = r6[..., :3], r6[..., 3:]
    b1 = a1 / a1.norm(dim=-1, keepdim=True)
    a2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = a2 / a2.norm(dim=-1, keepdim=True)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rotation6d(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) → (..., 6): the first two columns, concatenated."""
    return torch.cat([m[..., :, 0], m[..., :, 1]], dim=-1)


def pose_to_matrix(position: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """position (..., 3) m and rotation (..., 3, 3) → homogeneous (..., 4, 4)."""
    top = torch.cat([rotation, position[..., :, None]], dim=-1)
    bottom = torch.zeros(position.shape[:-1] + (1, 4), dtype=position.dtype, device=position.device)
    bottom[..., 0, 3] = 1
    return torch.cat([top, bottom], dim=-2)


def rotation_angle(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) → (...,) rotation angle in [0, π] rad."""
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    return torch.arccos(((trace - 1) / 2).clamp(-1.0, 1.0))


def quaternion_angle_wxyz(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternion wxyz → (...,) rotation angle in rad, using |w| so q and −q agree."""
    w = np.abs(np.asarray(q)[..., 0])
    return 2.0 * np.arccos(np.clip(w, 0.0, 1.0))
