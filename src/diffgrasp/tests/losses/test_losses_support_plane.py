"""Support-plane clearance term: value on a hand-computable case and gradient vs finite differences."""

from __future__ import annotations

import torch

from diffgrasp.losses import support_plane_violation


def test_value_and_gradient():
    pts = torch.tensor([[[0.0, 0.0, 0.01], [0.0, 0.0, -0.002], [1.0, 2.0, 0.003]]], dtype=torch.float64)
    plane = torch.tensor([0.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    v = support_plane_violation(pts, plane, margin=0.005)
    assert torch.allclose(v, torch.tensor([0.007 + 0.002], dtype=torch.float64))
    pts.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: support_plane_violation(p, plane, 0.005), (pts,))
    tilted = torch.tensor([0.0, 0.6, 0.8, 0.1], dtype=torch.float64)
    assert support_plane_violation(pts.detach(), tilted).item() == 0.0  # all above a plane 0.1 below the origin
