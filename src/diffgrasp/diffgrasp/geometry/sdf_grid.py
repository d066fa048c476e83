"""A sampled signed-distance grid of an object: the fast path for the many-point loss terms during refinement.

The exact ``ObjectModel.signed_distance`` (BVH + exact point–triangle distance) stays the reference and is used for
every reported metric; this grid trades accuracy (trilinear interpolation over ``voxel_size``) for speed: one
``grid_sample`` call answers millions of points. Building it: unsigned distance from a k-d tree over dense surface
samples (error below the sample spacing, ~0.1–0.5 mm for 400k samples on a hand-sized object; optionally made exact by
BVH queries in a narrow band around the surface), and the sign from ray parity (embree).
Outside the grid box the value is the box-border value plus the distance to the box (a lower bound, positive).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from scipy.spatial import cKDTree

from diffgrasp._checks import check_shape

DEFAULT_MAX_CELLS = 2_000_000


class SDFGrid:
    """Signed distance (m, negative inside) sampled on a regular grid around ``obj`` (object frame).

    Args:
        obj: the ObjectModel (exact reference).
        voxel_size: grid spacing (m); enlarged if the grid would exceed ``max_cells``.
        margin: the grid box is the mesh bounding box grown by this (m).
        surface_samples: k-d tree samples for the unsigned distance. exact_band: exact BVH distance near the surface
            (slower to build).
    """

    def __init__(self, obj, voxel_size: float = 0.002, margin: float = 0.03, max_cells: int = DEFAULT_MAX_CELLS,
                 surface_samples: int = 400_000, exact_band: bool = False, seed: int = 0) -> None:
        lo = obj.mesh.bounds[0] - margin
        hi = obj.mesh.bounds[1] + margin
        extent = hi - lo
        voxel = max(voxel_size, float(np.cbrt(np.prod(extent) / max_cells)))
        shape = np.ceil(extent / voxel).astype(int) + 1
        self.voxel_size = voxel
        self.lower = lo
        self.upper = lo + (shape - 1) * voxel
        axes = [lo[i] + np.arange(shape[i]) * voxel for i in range(3)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)  # x-major (i, j, k)

        samples = np.concatenate([obj.surface_samples(surface_samples, seed=seed), np.asarray(obj.mesh.vertices)])
        band_width = 3.0 * voxel
        # Nearest-neighbour search degenerates deep inside round objects (all samples nearly equidistant): bound
        # the fine search to the band, and answer the rest from a coarse sample set.
        dist, _ = cKDTree(samples).query(grid, distance_upper_bound=band_width, workers=-1)
        far = ~np.isfinite(dist)
        if far.any():
            coarse = samples[np.random.default_rng(seed).choice(len(samples), size=min(2000, len(samples)),
                                                                 replace=False)]
            dist[far] = cKDTree(coarse).query(grid[far], workers=-1)[0]
        band = dist < 2.5 * voxel
        if exact_band and band.any():  # exact distance near the surface, where interpolation matters most
            pts = torch.as_tensor(grid[band], dtype=torch.float64)
            d_exact, _ = obj.signed_distance(pts[None])
            dist[band] = np.abs(d_exact[0].numpy())
        inside = obj.mesh.contains(grid)
        values = np.where(inside, -dist, dist).reshape(tuple(shape))
        gradient = np.stack(np.gradient(values, voxel), axis=0)  # (3, nx, ny, nz): ∇d by central differences
        channels = np.concatenate([values[None], gradient], axis=0)
        # grid_sample wants (N, C, D, H, W) with the sample grid in (x, y, z) = (W, H, D) order.
        self._values = torch.as_tensor(np.ascontiguousarray(channels.transpose(0, 3, 2, 1)), dtype=torch.float32)
        self._cache: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, ...]] = {}

    def _tensors(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        key = (device, dtype)
        if key not in self._cache:
            values = self._values.to(device, dtype)[None]
            self._cache[key] = (values, torch.as_tensor(self.lower, device=device, dtype=dtype),
                                torch.as_tensor(self.upper, device=device, dtype=dtype),
                                values[:, :1].contiguous())  # the distance channel alone
        return self._cache[key]

    def _interpolate(self, points: torch.Tensor, channels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points (B, N, 3) → (trilinear ``channels`` (B, N, C) at the points clamped into the box, the offset
        (B, N, 3) from each point to its clamped copy: zero inside the box)."""
        check_shape("points", points, ("B", "N", 3))
        _, lo, hi, _ = self._tensors(points.device, points.dtype)
        inside_box = torch.maximum(torch.minimum(points, hi), lo)
        normalized = (inside_box - lo) / (hi - lo) * 2 - 1
        out = F.grid_sample(channels, normalized.reshape(1, 1, 1, -1, 3), mode="bilinear", padding_mode="border",
                            align_corners=True)  # (1, C, 1, 1, B·N)
        c = channels.shape[1]
        return out.reshape(c, -1).T.reshape(points.shape[:-1] + (c,)), inside_box - points

    def _sample(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points (B, N, 3) → (d (B, N), interpolated ∇d (B, N, 3)); outside the box d grows by the distance to it."""
        values = self._tensors(points.device, points.dtype)[0]
        out, outside = self._interpolate(points, values)
        far = outside.norm(dim=-1)
        # Outside the box: add the distance to the box, and lean the gradient towards the box.
        grad = out[..., 1:] - outside / far.clamp_min(1e-9)[..., None] * (far > 0)[..., None]
        return out[..., 0] + far, grad

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        """points (B, N, 3) m → d (B, N) m, trilinear, differentiable w.r.t. the points (= ``signed_distance``'s d,
        sampling the distance channel only: ~4x cheaper)."""
        distance = self._tensors(points.device, points.dtype)[3]
        out, outside = self._interpolate(points, distance)
        return out[..., 0] + outside.norm(dim=-1)

    def signed_distance(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points (B, N, 3) → (d (B, N), outward unit normal (B, N, 3)).

        The normal is the trilinear interpolation of the grid's central-difference gradient (one extra channel of
        the same ``grid_sample`` call), a smooth function of the points, so gradients flow through both outputs.
        """
        d, grad = self._sample(points)
        return d, grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-9)
