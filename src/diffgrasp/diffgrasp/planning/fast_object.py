"""The object as the refiner sees it: the exact ObjectModel with its signed distance answered by an SDFGrid.

Refinement queries thousands of hand points per candidate per iteration; the grid answers them in one
``grid_sample`` call. Every reported metric (penetration, contacts, Q1) is measured on the exact ObjectModel.
"""

from __future__ import annotations

import torch

from diffgrasp.geometry import ObjectModel
from diffgrasp.geometry.sdf_grid import SDFGrid
from diffgrasp.losses.self_collision import segment_segment_distance


class GridObject:
    """Duck-types ObjectModel for GraspLoss: same mesh, centre of mass, length and samples; grid signed distance."""

    def __init__(self, obj: ObjectModel, voxel_size: float = 0.002, surface_samples: int | None = None) -> None:
        """``surface_samples``: the grid's k-d tree samples (None: SDFGrid's default)."""
        self.exact = obj
        self.grid = SDFGrid(obj, voxel_size=voxel_size,
                            **({} if surface_samples is None else {"surface_samples": surface_samples}))
        self.mesh = obj.mesh
        self.name = obj.name
        self.center_of_mass = obj.center_of_mass
        self.characteristic_length = obj.characteristic_length

    def surface_samples(self, n: int, seed: int = 0):
        return self.exact.surface_samples(n, seed)

    def signed_distance(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points (B, N, 3) → (d (B, N), outward normal (B, N, 3)) from the grid (differentiable)."""
        return self.grid.signed_distance(points)


def self_penetration_depth(a: torch.Tensor, b: torch.Tensor, radius: torch.Tensor, pairs: torch.Tensor
                           ) -> torch.Tensor:
    """Deepest capsule-pair penetration (B,) m over ``pairs`` (M, 2); a, b (B, K, 3), radius (K,)."""
    i, j = pairs[:, 0], pairs[:, 1]
    dist = segment_segment_distance(a[:, i], b[:, i], a[:, j], b[:, j])
    return torch.relu(radius[i] + radius[j] - dist).amax(dim=1)


class SurfaceSubsetHand:
    """The hand as the refiner sees it: every ShadowHand method, but ``surface_points`` returns a fixed subset.

    The subset takes every ``stride``-th sample of each link (area-weighted samples stay spread out), so the
    penetration term costs a fraction; post-processing measures penetration on all samples.
    """

    def __init__(self, hand, stride: int = 4) -> None:
        self._hand = hand
        link = hand.surface_link_index.cpu()
        order = torch.arange(len(link))
        rank = torch.zeros_like(order)
        for value in torch.unique(link):  # loop over ~23 links, once
            members = order[link == value]
            rank[members] = torch.arange(len(members))
        self._subset = order[rank % stride == 0].to(hand.device)
        self.surface_link_index = hand.surface_link_index[self._subset]
        # Transform only the subset (selecting it from all samples cost more than transforming them all).
        self._points = hand.surface_subset(self._subset.cpu().numpy())

    def __getattr__(self, name: str):
        return getattr(self._hand, name)

    def surface_points(self, palm_pos: torch.Tensor, palm_rot: torch.Tensor, q22: torch.Tensor) -> torch.Tensor:
        """(B, P', 3) m: the subset of ``ShadowHand.surface_points``."""
        return self._hand.transform_points(self._points, palm_pos, palm_rot, q22)
