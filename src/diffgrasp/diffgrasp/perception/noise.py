"""D4xx-style depth noise for simulated cameras (active stereo, left imager = depth frame).

Applied to noiseless ray-cast depth, in this order (every random draw from the given ``rng``):
1. invalid pixels on oblique surfaces: probability ramps from 0 at ``oblique_start_deg`` to 1 at ``oblique_end_deg``
   (angle between the viewing ray and the surface normal);
2. invalid pixels at depth edges: pixels within ``edge_width_px`` of a jump > ``edge_jump_m`` (or of a miss) are
   dropped with probability ``edge_invalid_prob``;
3. stereo occlusion: points the right imager (``baseline_m`` along optical +x) cannot see are invalid (the dark band
   left of foreground objects);
4. depth noise through disparity: d = fx·B/z, plus Gaussian noise of ``disparity_sigma_px`` (a fraction
   ``correlated_fraction`` of its variance spatially correlated over ``correlation_px``), quantised to
   ``disparity_step_px`` (subpixel resolution), back to z = fx·B/d; so σ_z ≈ z²·σ_d / (fx·B) grows with z²;
5. random dropout ``dropout_prob`` and the valid range [``min_depth_m``, ``max_depth_m``].
Dark/low-texture surfaces are not modelled (the simulated scene has no albedo).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

__all__ = ["DepthNoiseConfig", "apply_depth_noise", "disparity_noise"]


@dataclass(frozen=True)
class DepthNoiseConfig:
    """D435-like defaults (baseline 50 mm, subpixel RMS ≈ 0.08 px, 1/32 px disparity steps)."""

    baseline_m: float = 0.05
    disparity_sigma_px: float = 0.08
    correlated_fraction: float = 0.5
    correlation_px: float = 3.0
    disparity_step_px: float = 1.0 / 32.0
    oblique_start_deg: float = 70.0
    oblique_end_deg: float = 85.0
    edge_jump_m: float = 0.01
    edge_width_px: int = 1
    edge_invalid_prob: float = 0.6
    stereo_occlusion: bool = True
    dropout_prob: float = 0.002
    min_depth_m: float = 0.1
    max_depth_m: float = 10.0


def disparity_noise(depth: np.ndarray, fx: float, cfg: DepthNoiseConfig, rng: np.random.Generator) -> np.ndarray:
    """(H, W) metres → noisy, disparity-quantised (H, W) metres (NaN stays NaN)."""
    fb = fx * cfg.baseline_m
    disp = fb / depth
    white = rng.standard_normal(depth.shape).astype(np.float32)
    noise = np.sqrt(1.0 - cfg.correlated_fraction) * white
    if cfg.correlated_fraction > 0:
        smooth = cv2.GaussianBlur(rng.standard_normal(depth.shape).astype(np.float32), (0, 0), cfg.correlation_px)
        smooth /= max(float(smooth.std()), 1e-12)
        noise = noise + np.sqrt(cfg.correlated_fraction) * smooth
    disp = disp + cfg.disparity_sigma_px * noise
    if cfg.disparity_step_px > 0:
        disp = np.round(disp / cfg.disparity_step_px) * cfg.disparity_step_px
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(disp > 0, fb / disp, np.nan)
    return out.astype(np.float32)


def _edge_mask(depth: np.ndarray, jump: float, width: int) -> np.ndarray:
    d = np.where(np.isfinite(depth), depth, 1e3).astype(np.float32)
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    dmax = cv2.dilate(d, kernel)
    dmin = cv2.erode(d, kernel)
    return (dmax - dmin) > jump


def apply_depth_noise(scene: Any, render: dict[str, np.ndarray], K: np.ndarray, camera_to_world: np.ndarray,
                      cfg: DepthNoiseConfig, rng: np.random.Generator) -> np.ndarray:
    """Noisy (H, W) float32 metres (NaN invalid) from a :meth:`SimScene.render` result ``render`` of camera
    (K (3, 3), camera_to_world (4, 4)); ``scene`` is the :class:`SimScene` (for the stereo-occlusion rays)."""
    depth = render["depth"].astype(np.float32).copy()
    valid = np.isfinite(depth)
    rays = render["rays"]
    ray_unit = rays / np.linalg.norm(rays, axis=-1, keepdims=True)
    cosang = np.abs((ray_unit * render["normals"]).sum(-1))
    angle = np.degrees(np.arccos(np.clip(cosang, 0.0, 1.0)))
    span = max(cfg.oblique_end_deg - cfg.oblique_start_deg, 1e-6)
    p_oblique = np.clip((angle - cfg.oblique_start_deg) / span, 0.0, 1.0)
    drop = rng.random(depth.shape) < p_oblique
    drop |= _edge_mask(depth, cfg.edge_jump_m, cfg.edge_width_px) & (rng.random(depth.shape) < cfg.edge_invalid_prob)
    if cfg.stereo_occlusion and valid.any():
        origin_r = camera_to_world[:3, 3] + camera_to_world[:3, 0] * cfg.baseline_m
        pts = camera_to_world[:3, 3] + rays[valid] * depth[valid, None]
        hit = scene.cast(np.broadcast_to(origin_r, pts.shape), pts - origin_r)
        seg = np.linalg.norm(pts - origin_r, axis=-1)
        occluded = hit["t_hit"] < 1.0 - 2e-3 / seg
        occ = np.zeros_like(valid)
        occ[valid] = occluded
        drop |= occ
    drop |= rng.random(depth.shape) < cfg.dropout_prob
    noisy = disparity_noise(depth, float(K[0, 0]), cfg, rng)
    noisy[drop | ~valid | ~(noisy >= cfg.min_depth_m) | ~(noisy <= cfg.max_depth_m)] = np.nan
    return noisy
