"""Min-of-N loss: a hand-computed case, masking, coverage, gradient against finite differences (float64)."""

from __future__ import annotations

import math

import pytest
import torch

from diffgrasp.geometry.rotations import rotation6d_to_matrix
from diffgrasp.network.min_of_n import MinOfNWeights, min_of_n_loss, pairwise_grasp_distance


def rot_z(theta: float) -> torch.Tensor:
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def test_hand_computed_value():
    # One object, two predictions, two references, D = 2 joints.
    eye = torch.eye(3, dtype=torch.float64)
    pred_p = torch.tensor([[[0.0, 0.0, 0.0], [0.1, 0.0, 0.0]]], dtype=torch.float64)
    pred_r = torch.stack([eye, rot_z(math.pi / 2)])[None]
    pred_q = torch.tensor([[[0.0, 0.0], [1.0, 1.0]]], dtype=torch.float64)
    ref_p = torch.tensor([[[0.0, 0.0, 0.05], [0.1, 0.0, 0.0]]], dtype=torch.float64)
    ref_r = torch.stack([eye, eye])[None]
    ref_q = torch.tensor([[[0.0, 1.0], [1.0, 1.0]]], dtype=torch.float64)
    w = MinOfNWeights(position=100.0, rotation=0.25, joints=1.0)
    dist = pairwise_grasp_distance(pred_p, pred_r, pred_q, ref_p, ref_r, ref_q, w)[0]
    # pred0-ref0: 100·0.05² + 0 + mean(0, 1) = 0.25 + 0.5 = 0.75
    # pred0-ref1: 100·0.01 + 0 + mean(1, 1) = 1 + 1 = 2
    # pred1-ref0: 100·(0.01+0.0025) + (1 − cos 90°) + mean(1, 0) = 1.25 + 1 + 0.5 = 2.75
    # pred1-ref1: 0 + 1 + 0 = 1
    expected = torch.tensor([[0.75, 2.0], [2.75, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(dist, expected)
    loss = min_of_n_loss(pred_p, pred_r, pred_q, ref_p, ref_r, ref_q, weights=w)
    torch.testing.assert_close(loss, torch.tensor([(0.75 + 1.0) / 2], dtype=torch.float64))
    # Coverage: each reference to its nearest prediction: ref0 → 0.75, ref1 → 1.0.
    wc = MinOfNWeights(position=100.0, rotation=0.25, joints=1.0, coverage=2.0)
    loss_c = min_of_n_loss(pred_p, pred_r, pred_q, ref_p, ref_r, ref_q, weights=wc)
    torch.testing.assert_close(loss_c, torch.tensor([0.875 + 2.0 * 0.875], dtype=torch.float64))


def test_mask_ignores_padding_and_empty_objects():
    g = torch.Generator().manual_seed(1)
    b, n, r, d = 3, 4, 5, 18
    args = (torch.randn(b, n, 3, generator=g, dtype=torch.float64) * 0.1,
            rotation6d_to_matrix(torch.randn(b, n, 6, generator=g, dtype=torch.float64)),
            torch.rand(b, n, d, generator=g, dtype=torch.float64),
            torch.randn(b, r, 3, generator=g, dtype=torch.float64) * 0.1,
            rotation6d_to_matrix(torch.randn(b, r, 6, generator=g, dtype=torch.float64)),
            torch.rand(b, r, d, generator=g, dtype=torch.float64))
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.bool)
    loss = min_of_n_loss(*args, ref_mask=mask)
    # Object 0 equals the unpadded computation on its first two references.
    sub = [a[:1, :, :] if i < 3 else a[:1, :2] for i, a in enumerate(args)]
    torch.testing.assert_close(loss[0], min_of_n_loss(*sub)[0])
    assert loss[2] == 0
    assert (loss[:2] > 0).all()


def test_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(3)
    b, n, r, d = 2, 3, 4, 5
    pred_p = (torch.randn(b, n, 3, generator=g, dtype=torch.float64) * 0.1).requires_grad_()
    pred_6d = torch.randn(b, n, 6, generator=g, dtype=torch.float64).requires_grad_()
    pred_q = torch.rand(b, n, d, generator=g, dtype=torch.float64).requires_grad_()
    ref = (torch.randn(b, r, 3, generator=g, dtype=torch.float64) * 0.1,
           rotation6d_to_matrix(torch.randn(b, r, 6, generator=g, dtype=torch.float64)),
           torch.rand(b, r, d, generator=g, dtype=torch.float64))
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 1, 1]], dtype=torch.bool)
    w = MinOfNWeights(coverage=0.5)

    def f(p, r6, q):
        return min_of_n_loss(p, rotation6d_to_matrix(r6), q, *ref, ref_mask=mask, weights=w)

    assert torch.autograd.gradcheck(f, (pred_p, pred_6d, pred_q), eps=1e-6, atol=1e-6)


def test_bad_shapes_raise_clear_errors():
    z = torch.zeros
    with pytest.raises(ValueError, match="ref_joints"):
        pairwise_grasp_distance(z(1, 2, 3), z(1, 2, 3, 3), z(1, 2, 18), z(1, 4, 3), z(1, 4, 3, 3), z(1, 4, 17))
    with pytest.raises(ValueError, match="ref_mask"):
        min_of_n_loss(z(1, 2, 3), z(1, 2, 3, 3), z(1, 2, 18), z(1, 4, 3), z(1, 4, 3, 3), z(1, 4, 18),
                      ref_mask=torch.ones(1, 3, dtype=torch.bool))
