"""Argument checks at the public boundary: errors name the argument, what was expected and what came."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


class ShapeError(ValueError):
    """An argument has the wrong shape."""


def check_shape(name: str, value: torch.Tensor | np.ndarray, expected: Sequence[int | str | None]) -> None:
    """Check ``value.shape`` against ``expected``; an int must match, a str/None matches any size.

    Example: ``check_shape("points", p, ("B", "N", 3))``.
    """
    shape = tuple(value.shape)
    ok = len(shape) == len(expected) and all(
        not isinstance(e, int) or e == s for e, s in zip(expected, shape, strict=False)
    )
    if not ok:
        want = "(" + ", ".join(str(e) for e in expected) + ")"
        raise ShapeError(f"{name}: expected shape {want}, got {shape}")


def check_finite(name: str, value: torch.Tensor | np.ndarray) -> None:
    """Raise ValueError if ``value`` holds NaN or inf."""
    finite = torch.isfinite(value).all().item() if isinstance(value, torch.Tensor) else np.isfinite(value).all()
    if not finite:
        raise ValueError(f"{name}: contains NaN or inf")
