"""JointCoupling: 18 reduced coordinates ↔ 22 finger joints (J1 = ratio · J2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diffgrasp._checks import ShapeError
from diffgrasp.hand import FINGER_JOINT_NAMES, JOINT_LIMITS, JointCoupling

REPO = Path(__file__).resolve().parents[4]


@pytest.mark.parametrize("ratio", [1.0, 0.8, 1.3])
def test_round_trip(ratio: float) -> None:
    c = JointCoupling(ratio)
    u = c.lower + torch.rand(50, 18, dtype=torch.float64) * (c.upper - c.lower)
    q = c.expand(u)
    assert q.shape == (50, 22)
    assert torch.allclose(c.reduce(q), u, atol=1e-12)
    assert torch.allclose(c.expand(c.reduce(q)), q, atol=1e-12)
    for f in ("FF", "MF", "RF", "LF"):
        j1, j2 = FINGER_JOINT_NAMES.index(f"rh_{f}J1"), FINGER_JOINT_NAMES.index(f"rh_{f}J2")
        assert torch.allclose(q[:, j1], ratio * q[:, j2])
    # every expanded joint within its limits
    lo = torch.tensor([JOINT_LIMITS[n][0] for n in FINGER_JOINT_NAMES], dtype=torch.float64)
    hi = torch.tensor([JOINT_LIMITS[n][1] for n in FINGER_JOINT_NAMES], dtype=torch.float64)
    assert bool(((q >= lo - 1e-12) & (q <= hi + 1e-12)).all())


def test_names_limits_and_projection() -> None:
    c = JointCoupling(2.0)
    assert len(c.reduced_names) == 18 and "rh_FFJ1" not in c.reduced_names and "rh_THJ1" in c.reduced_names
    k = c.reduced_names.index("rh_MFJ2")
    assert c.upper[k].item() == pytest.approx(JOINT_LIMITS["rh_MFJ1"][1] / 2.0)
    q = torch.zeros(1, 22, dtype=torch.float64)
    q[0, FINGER_JOINT_NAMES.index("rh_FFJ2")] = 0.5
    q[0, FINGER_JOINT_NAMES.index("rh_FFJ1")] = 0.5  # not coupled with ratio 2: least-squares J2
    assert c.reduce(q)[0, c.reduced_names.index("rh_FFJ2")].item() == pytest.approx((0.5 + 2 * 0.5) / 5)
    lo, hi = c.limits(dtype=torch.float32)
    assert lo.dtype == torch.float32 and hi.shape == (18,)


def test_gradient_and_dtype() -> None:
    c = JointCoupling(0.7)
    u = torch.rand(3, 18, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(c.expand, (u,))
    assert c.expand(torch.zeros(2, 18)).dtype == torch.float32


def test_errors() -> None:
    with pytest.raises(ValueError, match="ratio must be finite and >= 0"):
        JointCoupling(-1.0)
    with pytest.raises(ValueError, match="ratio must be finite"):
        JointCoupling(float("nan"))
    c = JointCoupling()
    with pytest.raises(ShapeError, match=r"u: expected shape \(B, 18\), got \(2, 22\)"):
        c.expand(torch.zeros(2, 22))
    with pytest.raises(ShapeError, match=r"q22: expected shape \(B, 22\)"):
        c.reduce(torch.zeros(2, 18))
    with pytest.raises(ValueError, match="u: contains NaN"):
        c.expand(torch.full((1, 18), float("nan")))


def test_coupling_ratio_is_checked() -> None:
    """The ratio is a setting of its users (PlannerConfig, NetworkConfig: the network predicts reduced joints with
    its own); JointCoupling checks it."""
    assert JointCoupling().ratio == 1.0
    with pytest.raises(ValueError, match="ratio must be finite and >= 0"):
        JointCoupling(-0.5)
