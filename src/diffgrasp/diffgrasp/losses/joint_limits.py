"""Joint-limit penalty (B,), in radians, for raw (unbounded) joint parameterisations.

Σ_j max(0, q_j − upper_j) + max(0, lower_j − q_j). Zero inside the limits; use it when the optimiser does not already
bound the joints by reparameterisation (q = lower + σ(u)(upper − lower)).
"""

from __future__ import annotations

import torch

from diffgrasp._checks import check_shape


def joint_limit_violation(q: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """q (B, J) rad, lower/upper (J,) rad → (B,) rad."""
    check_shape("q", q, ("B", "J"))
    check_shape("lower", lower, (q.shape[1],))
    check_shape("upper", upper, (q.shape[1],))
    return (torch.relu(q - upper) + torch.relu(lower - q)).sum(dim=1)
