"""HandConfig: hand-model settings shared by the planner, the losses and training (mirrored by config/hand.yaml)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["HandConfig"]


@dataclass(frozen=True)
class HandConfig:
    """Settings of the Shadow hand model.

    Attributes:
        coupling_ratio: J1 = coupling_ratio · J2 for FF/MF/RF/LF in the 18 reduced coordinates (``JointCoupling``);
            1.0 = equal middle and distal flexion (design notes §3). Finite, ≥ 0.
    """

    coupling_ratio: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.coupling_ratio, int | float) or not math.isfinite(self.coupling_ratio) \
                or self.coupling_ratio < 0:
            raise ValueError(f"HandConfig.coupling_ratio: expected a finite number >= 0, got {self.coupling_ratio!r}")
