"""Depth images: decoding the two ROS encodings, the NaN policy, back-projection.

Internally a depth image is ``(H, W)`` float32 **metres** along the optical axis (z of the optical frame: z forward,
x right, y down), with **NaN for invalid pixels**. On the wire / on disk: ``16UC1`` = uint16 millimetres with 0 invalid
(RealSense), ``32FC1`` = float32 metres with NaN (or 0 / inf) invalid (Gazebo, REP 118). Pixel (u, v) = (column, row);
its centre sits at integer coordinates (OpenCV convention), so ``x = (u - cx) z / fx``.
"""

from __future__ import annotations

import numpy as np

from diffgrasp._checks import check_shape

ENCODINGS = ("16UC1", "mono16", "32FC1")

__all__ = ["ENCODINGS", "decode_depth", "depth_to_metres", "metres_to_mm_u16", "validate_depth", "backproject",
           "pixel_rays", "depth_to_points", "transform_points", "affine"]


def depth_to_metres(image: np.ndarray, encoding: str) -> np.ndarray:
    """(H, W) raw depth in ``encoding`` → (H, W) float32 metres, NaN invalid.

    ``16UC1``/``mono16``: uint16 mm, 0 invalid. ``32FC1``: float32 m; NaN, ±inf, 0 and negative values are invalid.
    """
    image = np.asarray(image)
    if encoding in ("16UC1", "mono16"):
        if image.dtype != np.uint16:
            raise ValueError(f"depth encoding {encoding} needs uint16 millimetres, got dtype {image.dtype}")
        out = image.astype(np.float32) * np.float32(0.001)
        out[image == 0] = np.nan
        return out
    if encoding == "32FC1":
        if image.dtype != np.float32:
            raise ValueError(f"depth encoding 32FC1 needs float32 metres, got dtype {image.dtype}")
        out = image.astype(np.float32, copy=True)
        out[~np.isfinite(out) | (out <= 0)] = np.nan
        return out
    raise ValueError(f"unsupported depth encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")


def decode_depth(data: bytes | np.ndarray, encoding: str, height: int, width: int, step: int | None = None,
                 is_bigendian: bool = False) -> np.ndarray:
    """Raw ``sensor_msgs/Image`` bytes → (H, W) float32 metres (NaN invalid); honours ``step`` and byte order."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported depth encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")
    itemsize = 2 if encoding in ("16UC1", "mono16") else 4
    base = np.dtype(np.uint16 if itemsize == 2 else np.float32).newbyteorder(">" if is_bigendian else "<")
    step = width * itemsize if step is None else int(step)
    buf = np.frombuffer(bytes(data) if not isinstance(data, np.ndarray) else data.tobytes(), dtype=np.uint8)
    if step < width * itemsize or buf.size < step * height:
        raise ValueError(f"depth image buffer too small: {buf.size} bytes for {height}x{width} {encoding} "
                         f"with step {step}")
    rows = buf[: step * height].reshape(height, step)[:, : width * itemsize]
    image = np.ascontiguousarray(rows).view(base).reshape(height, width)
    image = image.astype(base.newbyteorder("="))
    return depth_to_metres(image, encoding)


def metres_to_mm_u16(depth: np.ndarray) -> np.ndarray:
    """(H, W) metres (NaN invalid) → uint16 millimetres (0 invalid), rounded; values beyond 65.535 m are invalid."""
    mm = np.rint(np.nan_to_num(np.asarray(depth, dtype=np.float64), nan=0.0) * 1000.0)
    mm[(mm < 0) | (mm > 65535)] = 0
    return mm.astype(np.uint16)


def validate_depth(name: str, depth: np.ndarray, min_valid_fraction: float = 1e-4) -> None:
    """Raise ValueError with a clear reason if ``depth`` (H, W) metres is unusable.

    Unusable: wrong dtype/shape, negative or infinite values (use NaN for invalid), no valid pixel at all
    (all NaN, e.g. an all-zero 16UC1 frame), or fewer valid pixels than ``min_valid_fraction``.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"{name}: depth must be (H, W), got shape {depth.shape}")
    if not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f"{name}: depth must be float metres (decode 16UC1 with depth_to_metres), got {depth.dtype}")
    if np.isinf(depth).any():
        raise ValueError(f"{name}: depth holds inf; mark invalid pixels with NaN")
    valid = np.isfinite(depth)
    if (depth[valid] < 0).any():
        raise ValueError(f"{name}: depth holds negative values")
    if not valid.any() or not (depth[valid] > 0).any():
        raise ValueError(f"{name}: depth image has no valid pixel (all NaN or zero)")
    frac = float(valid.mean())
    if frac < min_valid_fraction:
        raise ValueError(f"{name}: only {frac:.2e} of the depth pixels are valid")


def affine(points: np.ndarray, R: np.ndarray, t: np.ndarray | None = None) -> np.ndarray:
    """(..., 3) points → ``points @ R.T + t`` computed column by column.

    Element-wise on purpose: a (N, 3) @ (3, 3) BLAS call is ~30× slower under thread contention on shared CPUs.
    """
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    cols = [R[k, 0] * x + R[k, 1] * y + R[k, 2] * z + (0.0 if t is None else t[k]) for k in range(3)]
    return np.stack(cols, axis=-1)


def pixel_rays(K: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, 3) camera-frame ray directions with z = 1 for every pixel centre, from intrinsics K (3, 3)."""
    check_shape("K", K, (3, 3))
    u = np.arange(width, dtype=np.float64)[None, :]
    v = np.arange(height, dtype=np.float64)[:, None]
    y = np.broadcast_to((v - K[1, 2]) / K[1, 1], (height, width))
    x = (u - K[0, 2] - K[0, 1] * y) / K[0, 0]
    return np.stack([x, y, np.ones((height, width))], axis=-1)


def backproject(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(H, W) depth m (z along the optical axis) → (H, W, 3) points in the optical frame (NaN where invalid)."""
    check_shape("depth", depth, ("H", "W"))
    return pixel_rays(K, *depth.shape) * np.asarray(depth, dtype=np.float64)[..., None]


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (4, 4) homogeneous transform to (..., 3) points."""
    check_shape("T", T, (4, 4))
    return affine(points, T[:3, :3], T[:3, 3])


def depth_to_points(depth: np.ndarray, K: np.ndarray, camera_to_world: np.ndarray | None = None) -> np.ndarray:
    """(H, W) depth m → (N, 3) valid points, in world if ``camera_to_world`` (4, 4) is given, else optical frame."""
    pts = backproject(depth, K)
    pts = pts[np.isfinite(depth) & (depth > 0)]
    return pts if camera_to_world is None else transform_points(camera_to_world, pts)
