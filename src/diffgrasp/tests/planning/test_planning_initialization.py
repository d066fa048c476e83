"""Initial candidates: palm starts at a standoff facing the hull; pinch starts hold the hull point in the hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from diffgrasp.hand import JointCoupling, ShadowHand
from diffgrasp.planning import InitConfig
from diffgrasp.planning.initialization import PALM_SKIN_POINT, initial_candidates, jittered_copies

BOX = trimesh.creation.box(extents=(0.04, 0.05, 0.03))  # thin enough for pinch starts


def _draw(config: InitConfig, n: int = 200, seed: int = 0):
    pos, rot, u = initial_candidates(BOX, n, JointCoupling(), config, np.random.default_rng(seed), torch.float64)
    return pos.numpy(), rot.numpy(), u.numpy()


def _depth_inside_hull(points: np.ndarray) -> np.ndarray:
    """(n,) m: how far inside the box each point is (negative outside, along the nearest face)."""
    return np.min(np.asarray(BOX.extents) / 2 - np.abs(points), axis=1)


def test_palm_starts_face_the_hull_at_the_standoff():
    config = InitConfig(standoff_m=0.02, standoff_jitter_m=0.0, pinch_fraction=0.0)
    pos, rot, _ = _draw(config)
    skin = pos + np.einsum("nij,j->ni", rot, PALM_SKIN_POINT)
    assert np.allclose(-_depth_inside_hull(skin), 0.02, atol=1e-9)  # the palm's skin point, 2 cm outside a face
    assert np.allclose(np.linalg.det(rot), 1.0)


def test_pinch_starts_hold_the_hull_point_between_thumb_and_fingers():
    # The same seed draws the same hull points, normals and rolls: the palm starts give the hull point and normal.
    palm = InitConfig(standoff_m=0.02, standoff_jitter_m=0.0, pinch_fraction=0.0)
    pinch = InitConfig(standoff_m=0.02, standoff_jitter_m=0.0, pinch_fraction=1.0, pinch_depth_m=0.01,
                       pinch_pitch_rad=0.5)
    pos0, rot0, _ = _draw(palm)
    pos, rot, _ = _draw(pinch)
    normal = rot0[:, :, 1]  # palm +y = outward hull normal
    hull_point = pos0 + np.einsum("nij,j->ni", rot0, PALM_SKIN_POINT) - 0.02 * normal
    offset = pos + np.einsum("nij,j->ni", rot, np.asarray(pinch.pinch_point)) - hull_point
    depth = -np.einsum("ni,ni->n", offset, normal)
    assert np.allclose(offset, -depth[:, None] * normal, atol=1e-12)  # straight inside, ...
    assert depth.min() >= 0 and depth.max() <= 0.01  # ... by at most pinch_depth_m
    # Pitched about the palm's own x axis, by at most pinch_pitch_rad, and not always by the same angle.
    assert np.allclose(rot[:, :, 0], rot0[:, :, 0], atol=1e-12)
    cos = np.einsum("ni,ni->n", rot[:, :, 1], normal)
    assert cos.min() >= np.cos(0.5) - 1e-12 and cos.min() < np.cos(0.3)


def test_pinch_point_lies_between_thumb_and_fingertips_in_the_preshape():
    config = InitConfig()
    hand = ShadowHand(dtype=torch.float64)
    coupling = JointCoupling()
    u = torch.tensor([[config.preshape.get(n, 0.0) for n in coupling.reduced_names]], dtype=torch.float64)
    points, _ = hand.contact_candidates(torch.zeros(1, 3, dtype=torch.float64),
                                        torch.eye(3, dtype=torch.float64)[None], coupling.expand(u))
    names = hand.contact_names
    thumb = points[0, names.index("thdistal_2")].numpy()
    finger = points[0, [names.index(f"{f}distal_2") for f in ("ff", "mf")]].mean(0).numpy()
    pinch = np.asarray(config.pinch_point)
    # Closer to the segment thumb tip – fingertips than either tip is to the other (an object there is held by both).
    t = np.clip((pinch - thumb) @ (finger - thumb) / np.sum((finger - thumb) ** 2), 0, 1)
    assert 0.2 < t < 0.8
    assert np.linalg.norm(thumb + t * (finger - thumb) - pinch) < 0.3 * np.linalg.norm(finger - thumb)


def test_pinch_fraction_is_validated():
    with pytest.raises(ValueError, match="pinch_fraction"):
        InitConfig(pinch_fraction=1.5)


def test_objects_thicker_than_the_pinch_limit_get_palm_starts_only():
    big = trimesh.creation.box(extents=(0.10, 0.12, 0.11))
    config = InitConfig(pinch_fraction=1.0, pinch_max_thickness_m=0.08)
    pos, rot, _ = initial_candidates(big, 50, JointCoupling(), config, np.random.default_rng(0), torch.float64)
    skin = pos.numpy() + np.einsum("nij,j->ni", rot.numpy(), PALM_SKIN_POINT)
    outside = np.max(np.abs(skin) - np.asarray(big.extents) / 2, axis=1)
    assert outside.min() > 0.0  # every palm skin point outside the box: no pinch start (those start inside)


def test_jittered_copies_cycle_through_the_seeds_with_the_asked_spread():
    from scipy.spatial.transform import Rotation

    coupling = JointCoupling()
    lo, hi = coupling.limits(dtype=torch.float64)
    seeds = _draw(InitConfig(pinch_fraction=0.0), n=3)
    pos, rot, u = (torch.as_tensor(a) for a in seeds)
    same = jittered_copies(pos, rot, u, 7, 0.0, 0.0, 0.0, (lo, hi), np.random.default_rng(0))
    index = [0, 1, 2, 0, 1, 2, 0]
    for got, seed in zip(same, (pos, rot, u), strict=True):
        assert torch.allclose(got, seed[index], atol=1e-12)
    p, r, q = jittered_copies(pos, rot, u, 3000, 0.005, 0.1, 0.1, (lo, hi), np.random.default_rng(0))
    index = np.arange(3000) % 3
    assert np.std((p - pos[index]).numpy()) == pytest.approx(0.005, rel=0.05)
    angle = Rotation.from_matrix((r @ rot[index].transpose(1, 2)).numpy()).magnitude()
    assert np.sqrt(np.mean(angle ** 2)) == pytest.approx(0.1, rel=0.05)  # |N(0, 0.1)|
    assert torch.all(q >= lo) and torch.all(q <= hi)
    inside = ((u[index] - q).abs() > 0) & (q > lo) & (q < hi)
    assert np.std((q - u[index])[inside].numpy()) == pytest.approx(0.1, rel=0.1)
