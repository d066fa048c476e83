"""J1/J2 tendon coupling: 18 reduced coordinates ↔ the 22 finger joints.

On the Shadow hand the distal (J1) and middle (J2) joints of FF/MF/RF/LF share one tendon. Planning uses reduced
coordinates u (B, 18): the 22 finger joints without the four coupled J1, in canonical order; then J1 = ratio · J2
(``ratio`` default 1.0, design notes §3).
"""

from __future__ import annotations

import math

import torch

from diffgrasp._checks import check_finite, check_shape
from diffgrasp.hand.names import COUPLED_FINGERS, FINGER_JOINT_NAMES, JOINT_LIMITS

__all__ = ["JointCoupling"]

_COUPLED_J1 = tuple(f"rh_{f}J1" for f in COUPLED_FINGERS)
_COUPLED_J2 = tuple(f"rh_{f}J2" for f in COUPLED_FINGERS)


class JointCoupling:
    """Map between reduced coordinates u (B, 18) and finger joints q22 (B, 22), rad, canonical order.

    Args:
        ratio: J1 = ratio · J2 for FF/MF/RF/LF (finite, ≥ 0; default 1.0).

    Attributes:
        reduced_names (18,): the finger joint names without ``rh_{FF,MF,RF,LF}J1``.
        lower / upper (18,) float64 CPU tensors (rad): limits of u such that both J2 and J1 = ratio · J2 are within
        their joint limits (``limits(device, dtype)`` gives them elsewhere).
    """

    def __init__(self, ratio: float = 1.0) -> None:
        ratio = float(ratio)
        if not math.isfinite(ratio) or ratio < 0:
            raise ValueError(f"JointCoupling: ratio must be finite and >= 0, got {ratio}")
        self.ratio = ratio
        self.reduced_names: tuple[str, ...] = tuple(n for n in FINGER_JOINT_NAMES if n not in _COUPLED_J1)
        self._j1 = [FINGER_JOINT_NAMES.index(n) for n in _COUPLED_J1]
        self._j2_full = [FINGER_JOINT_NAMES.index(n) for n in _COUPLED_J2]
        self._j2_reduced = [self.reduced_names.index(n) for n in _COUPLED_J2]
        self._keep = [FINGER_JOINT_NAMES.index(n) for n in self.reduced_names]
        lo = [JOINT_LIMITS[n][0] for n in self.reduced_names]
        hi = [JOINT_LIMITS[n][1] for n in self.reduced_names]
        if ratio > 0:
            for j1, j2 in zip(_COUPLED_J1, _COUPLED_J2, strict=True):
                k = self.reduced_names.index(j2)
                lo[k] = max(lo[k], JOINT_LIMITS[j1][0] / ratio)
                hi[k] = min(hi[k], JOINT_LIMITS[j1][1] / ratio)
        self.lower = torch.tensor(lo, dtype=torch.float64)
        self.upper = torch.tensor(hi, dtype=torch.float64)
        # q22 = u @ E (expand), u = q22 @ P (least-squares projection onto the coupled subspace).
        expand = torch.zeros(len(self.reduced_names), len(FINGER_JOINT_NAMES), dtype=torch.float64)
        expand[range(len(self._keep)), self._keep] = 1.0
        for r, j1 in zip(self._j2_reduced, self._j1, strict=True):
            expand[r, j1] = ratio
        self._expand = expand
        self._project = torch.linalg.pinv(expand)  # (22, 18): J2 = (J2 + ratio·J1) / (1 + ratio²)

    def limits(self, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(lower, upper) (18,) rad on ``device`` / ``dtype``."""
        return self.lower.to(device, dtype), self.upper.to(device, dtype)

    def expand(self, u: torch.Tensor) -> torch.Tensor:
        """u (B, 18) rad → q22 (B, 22) rad with J1 = ratio · J2 (differentiable; device/dtype of ``u``)."""
        check_shape("u", u, ("B", len(self.reduced_names)))
        check_finite("u", u)
        return u @ self._expand.to(u.device, u.dtype)

    def reduce(self, q22: torch.Tensor) -> torch.Tensor:
        """q22 (B, 22) rad → u (B, 18): the other joints as they are, each coupled J2 set to the least-squares
        value (J2 + ratio·J1) / (1 + ratio²); exact inverse of ``expand`` for coupled inputs."""
        check_shape("q22", q22, ("B", len(FINGER_JOINT_NAMES)))
        check_finite("q22", q22)
        return q22 @ self._project.to(q22.device, q22.dtype)
