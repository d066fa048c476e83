"""GraspLoss on the real Shadow hand and a YCB object; LossConfig vs config/loss.yaml."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import yaml

from diffgrasp.config import load_config, to_dict
from diffgrasp.geometry import ObjectModel
from diffgrasp.losses import TERM_NAMES, GraspLoss, LossConfig

REPO_ROOT = Path(__file__).resolve().parents[4]


def test_yaml_equals_defaults():
    path = REPO_ROOT / "config" / "loss.yaml"
    assert yaml.safe_load(path.read_text()) == to_dict(LossConfig())
    assert load_config(LossConfig, path) == LossConfig()
    assert set(LossConfig().weights()) == set(TERM_NAMES)


def test_config_validation():
    with pytest.raises(ValueError, match="w_penetration"):
        LossConfig(w_penetration=-1.0)
    with pytest.raises(ValueError, match="torque_scale"):
        LossConfig(torque_scale=0.0)
    with pytest.raises(ValueError, match="unknown key"):
        load_config(LossConfig, overrides={"w_q2": 1.0})


@pytest.fixture(scope="module")
def setup(shared_objects):
    shadow = pytest.importorskip("diffgrasp.hand")
    obj = ObjectModel.from_file(shared_objects / "012_strawberry.obj")
    return shadow.ShadowHand, obj


def _poses(hand, obj, batch: int, dtype, offset=(0.0, 0.06, -0.03)):
    com = torch.as_tensor(obj.center_of_mass, dtype=dtype)
    palm_pos = (com + torch.tensor(offset, dtype=dtype)).expand(batch, 3).clone()
    palm_pos = palm_pos + 0.005 * torch.arange(batch, dtype=dtype)[:, None]
    palm_rot = torch.eye(3, dtype=dtype).expand(batch, 3, 3).clone()
    q22 = ((hand.lower + hand.upper) / 2)[2:].to(dtype).expand(batch, 22).clone()
    return palm_pos, palm_rot, q22


def test_forward_terms_and_total(setup):
    ShadowHand, obj = setup
    hand = ShadowHand()
    loss = GraspLoss(hand, obj)
    palm_pos, palm_rot, q22 = _poses(hand, obj, 4, torch.float32)
    palm_pos.requires_grad_(True)
    q22.requires_grad_(True)
    out = loss.forward(palm_pos, palm_rot, q22)
    assert out.total.shape == (4,) and set(out.terms) == set(TERM_NAMES)
    for name, value in out.terms.items():
        assert value.shape == (4,) and torch.isfinite(value).all(), name
    expected = sum(out.weights[k] * out.terms[k] for k in TERM_NAMES)
    torch.testing.assert_close(out.total, expected)
    assert (out.q1_generalized >= 0).all()
    out.total.sum().backward()
    assert torch.isfinite(palm_pos.grad).all() and palm_pos.grad.abs().sum() > 0
    assert torch.isfinite(q22.grad).all() and q22.grad.abs().sum() > 0
    floats = out.as_floats(0)
    assert set(floats) == {"total", *TERM_NAMES}


def test_penetration_far_and_inside(setup):
    ShadowHand, obj = setup
    hand = ShadowHand()
    loss = GraspLoss(hand, obj)
    far = loss.forward(*_poses(hand, obj, 1, torch.float32, offset=(0.0, 1.0, 0.0)))
    assert far.terms["penetration"].item() == 0 and far.terms["object_in_hand"].item() == 0
    assert far.q1_generalized.item() < 1e-6                    # 1 m away: cones scaled by e^{-100}
    inside = loss.forward(*_poses(hand, obj, 1, torch.float32, offset=(0.0, 0.0, -0.05)))
    assert inside.terms["penetration"].item() > 0.01 and inside.terms["object_in_hand"].item() > 0.01
    palm_pos, palm_rot, q22 = _poses(hand, obj, 1, torch.float32, offset=(0.0, 1.0, 0.0))
    q22 = q22 + 5.0                                            # far beyond the upper limits
    assert loss.forward(palm_pos, palm_rot, q22).terms["joint_limits"].item() > 1.0


def test_gradcheck_total_float64(setup):
    """Total loss vs finite differences in float64 (refinement off so the Q1 direction is locally fixed)."""
    ShadowHand, obj = setup
    hand = ShadowHand(dtype=torch.float64)
    config = dataclasses.replace(LossConfig(), refine_steps=0, object_samples=128)
    loss = GraspLoss(hand, obj, config)
    # a pose where every term is active: penetrating, fingers near the surface, one joint past its upper limit
    palm_pos, palm_rot, q22 = _poses(hand, obj, 1, torch.float64, offset=(0.0, 0.03, -0.06))
    q22[0, 1] = hand.upper[3] + 0.02
    terms = loss.forward(palm_pos, palm_rot, q22).terms
    assert all(abs(float(v)) > 0 for v in terms.values()), terms
    palm_pos.requires_grad_(True)
    q22.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p, q: loss.forward(p, palm_rot, q).total, (palm_pos, q22),
                                    eps=1e-7, atol=1e-5, rtol=1e-4)
