"""Depth encodings, NaN policy and back-projection."""

from __future__ import annotations

import numpy as np
import pytest

from diffgrasp.perception.depth import (
    backproject,
    decode_depth,
    depth_to_metres,
    depth_to_points,
    metres_to_mm_u16,
    pixel_rays,
    validate_depth,
)

K = np.array([[300.0, 0.0, 31.5], [0.0, 310.0, 23.5], [0.0, 0.0, 1.0]])


def test_16uc1_mm_to_metres_zero_is_nan():
    raw = np.array([[0, 1000], [1234, 65535]], dtype=np.uint16)
    d = depth_to_metres(raw, "16UC1")
    assert d.dtype == np.float32 and np.isnan(d[0, 0])
    np.testing.assert_allclose(d[0, 1:], [1.0])
    np.testing.assert_allclose(d[1], [1.234, 65.535], rtol=1e-6)


def test_32fc1_invalid_values_become_nan():
    raw = np.array([[0.5, np.nan, np.inf, 0.0, -1.0]], dtype=np.float32)
    d = depth_to_metres(raw, "32FC1")
    assert d[0, 0] == np.float32(0.5) and np.isnan(d[0, 1:]).all()


def test_decode_honours_step_and_byte_order():
    img = (np.arange(12, dtype=np.uint16).reshape(3, 4) + 500)
    padded = np.zeros((3, 6), dtype=">u2")
    padded[:, :4] = img
    d = decode_depth(padded.tobytes(), "16UC1", 3, 4, step=12, is_bigendian=True)
    np.testing.assert_allclose(d, img / 1000.0, rtol=1e-6)
    f = np.full((2, 3), 0.75, dtype="<f4")
    np.testing.assert_allclose(decode_depth(f.tobytes(), "32FC1", 2, 3), f)


@pytest.mark.parametrize("encoding", ["rgb8", "8UC1", "32FC3"])
def test_wrong_encoding_is_named(encoding):
    with pytest.raises(ValueError, match=f"unsupported depth encoding '{encoding}'"):
        decode_depth(b"\x00" * 64, encoding, 2, 2)


def test_dtype_mismatch_and_short_buffer():
    with pytest.raises(ValueError, match="needs uint16"):
        depth_to_metres(np.zeros((2, 2), np.float32), "16UC1")
    with pytest.raises(ValueError, match="too small"):
        decode_depth(b"\x00" * 6, "16UC1", 2, 2)


def test_mm_round_trip():
    d = np.array([[0.4004, np.nan], [1.2, 0.0]], dtype=np.float32)
    mm = metres_to_mm_u16(d)
    assert mm.tolist() == [[400, 0], [1200, 0]]


@pytest.mark.parametrize("bad, reason", [
    (np.full((4, 5), np.nan, np.float32), "no valid pixel"),
    (np.zeros((4, 5), np.float32), "no valid pixel"),
    (np.full((4, 5), np.inf, np.float32), "inf"),
    (np.full((4, 5), -1.0, np.float32), "negative"),
    (np.zeros((4, 5), np.uint16), "float metres"),
])
def test_validate_depth_rejects_unusable_images(bad, reason):
    with pytest.raises(ValueError, match=reason):
        validate_depth("camera c0", bad)


def test_backprojection_projects_back_to_the_pixel():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.3, 1.5, (48, 64)).astype(np.float32)
    pts = backproject(depth, K)
    uvw = pts @ K.T
    u = uvw[..., 0] / uvw[..., 2]
    v = uvw[..., 1] / uvw[..., 2]
    np.testing.assert_allclose(u, np.broadcast_to(np.arange(64), (48, 64)), atol=1e-9)
    np.testing.assert_allclose(v, np.broadcast_to(np.arange(48)[:, None], (48, 64)), atol=1e-9)
    np.testing.assert_allclose(pts[..., 2], depth, rtol=1e-6)
    assert (pixel_rays(K, 48, 64)[..., 2] == 1).all()


def test_depth_to_points_skips_nan_and_applies_pose():
    depth = np.full((48, 64), 1.0, np.float32)
    depth[:10] = np.nan
    T = np.eye(4)
    T[:3, 3] = [1.0, 2.0, 3.0]
    pts = depth_to_points(depth, K, T)
    assert pts.shape == (38 * 64, 3)
    np.testing.assert_allclose(pts[:, 2], 4.0)
