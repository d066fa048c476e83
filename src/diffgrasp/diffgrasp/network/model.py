"""The grasp network: V object-centred depth views → G grasps (palm pose + 18 coupled joints).

A per-view encoder (small CNN, or ResNet-18 when torchvision is importable) shared over the V views, an optional
learned per-view embedding, pooling over views and an MLP head that emits G grasps. Joint angles are predicted in the
hand's reduced (coupled) coordinates and mapped into their limits by a sigmoid, so every prediction is within limits.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from diffgrasp._checks import check_shape
from diffgrasp.geometry.rotations import rotation6d_to_matrix
from diffgrasp.hand.coupling import JointCoupling
from diffgrasp.network.network_config import NetworkConfig

POSE_DIMS = 3 + 6  # palm position (3) + 6D rotation (6)


class GraspPrediction(NamedTuple):
    """Network output for B objects × G grasps, in the object-centred frame (object file frame minus the centre).

    position: (B, G, 3) m, palm (``rh_palm``) origin; rotation6d: (B, G, 6) raw 6D output; rotation: (B, G, 3, 3)
    palm orientation; joints_reduced: (B, G, 18) rad, the hand's JointCoupling reduced coordinates, within limits;
    joints: (B, G, 22) rad, the 22 finger joints in canonical order (``JointCoupling.expand``).
    """

    position: torch.Tensor
    rotation6d: torch.Tensor
    rotation: torch.Tensor
    joints_reduced: torch.Tensor
    joints: torch.Tensor


def make_coupling(ratio: float) -> JointCoupling:
    """The hand's ``JointCoupling`` of the given J1/J2 ``ratio``."""
    return JointCoupling(ratio=ratio)


def views_to_input(views: torch.Tensor, config: NetworkConfig) -> torch.Tensor:
    """(B, V, H, W) depth m (0, NaN or inf = no hit) → (B·V, 2, H, W): normalised depth and a validity mask."""
    valid = torch.isfinite(views) & (views > 0)
    rel = (torch.where(valid, views, torch.full_like(views, config.camera_distance_m)) - config.camera_distance_m)
    x = torch.stack([rel / config.depth_scale_m, valid.to(views.dtype)], dim=2)
    return x.flatten(0, 1)


class SmallCNN(nn.Module):
    """Stride-2 conv layers (GroupNorm, ReLU), a 4×4 adaptive pool and a linear layer: (N, 2, H, W) → (N, F)."""

    def __init__(self, channels: tuple[int, ...], feature_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 2
        for i, c in enumerate(channels):
            k = 5 if i == 0 else 3
            layers += [nn.Conv2d(c_in, c, k, stride=2, padding=k // 2), nn.GroupNorm(min(8, c), c), nn.ReLU()]
            c_in = c
        self.conv = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(c_in * 16, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(self.pool(self.conv(x)).flatten(1)))


def resnet18_encoder(feature_dim: int) -> nn.Module:
    """torchvision ResNet-18 (random init) with a 2-channel stem and a ``feature_dim`` output."""
    try:
        import torchvision  # optional dependency (not declared; backbone 'resnet18' only)
    except ImportError:
        raise RuntimeError("NetworkConfig.backbone 'resnet18' needs torchvision, which is not installed; "
                           "use backbone 'small_cnn'") from None
    net = torchvision.models.resnet18(weights=None, num_classes=feature_dim)
    net.conv1 = nn.Conv2d(2, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return net


class GraspNet(nn.Module):
    """Depth views (B, V, H, W) m → :class:`GraspPrediction` with G grasps per object (object-centred frame)."""

    def __init__(self, config: NetworkConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or NetworkConfig()
        self.coupling = make_coupling(config.coupling_ratio)
        lower = torch.as_tensor(self.coupling.lower, dtype=torch.float32).reshape(-1)
        upper = torch.as_tensor(self.coupling.upper, dtype=torch.float32).reshape(-1)
        self.num_reduced = int(lower.numel())
        self.register_buffer("joint_lower", lower)
        self.register_buffer("joint_upper", upper)
        if config.backbone == "resnet18":
            self.encoder = resnet18_encoder(config.feature_dim)
        else:
            self.encoder = SmallCNN(tuple(config.channels), config.feature_dim)
        self.view_embedding = (nn.Parameter(torch.zeros(config.num_views, config.feature_dim))
                               if config.view_embedding else None)
        out = config.num_grasps * (POSE_DIMS + self.num_reduced)
        self.head = nn.Sequential(
            nn.Linear(config.feature_dim, config.hidden_dim), nn.ReLU(),
            nn.Linear(config.hidden_dim, config.hidden_dim), nn.ReLU(),
            nn.Linear(config.hidden_dim, out),
        )
        self._init_output_layer()

    @torch.no_grad()
    def _init_output_layer(self) -> None:
        """Start grasp g at its own approach direction (a Fibonacci sphere of G directions), palm 1 × position_scale_m
        out from the centre with its palmar side (−y of rh_palm) facing the centre, joints mid-range; small output
        weights so the views shift the grasps from there. Independent of the RNG."""
        g = self.config.num_grasps
        i = torch.arange(g, dtype=torch.float64) + 0.5
        z = 1 - 2 * i / g
        phi = math.pi * (3 - math.sqrt(5)) * i
        out = torch.stack([torch.sqrt(1 - z * z) * torch.cos(phi), torch.sqrt(1 - z * z) * torch.sin(phi), z], -1)
        ref = torch.where(out[:, 2:].abs() < 0.9, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64),
                          torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
        fingers = ref - (ref * out).sum(-1, keepdim=True) * out       # +z of rh_palm: fingers, ⊥ approach
        fingers = fingers / fingers.norm(dim=-1, keepdim=True)
        x_axis = torch.cross(out, fingers, dim=-1)                     # x = y × z
        bias = torch.zeros(g, POSE_DIMS + self.num_reduced, dtype=torch.float64)
        bias[:, :3] = out                                              # × position_scale_m in decode
        bias[:, 3:9] = torch.cat([x_axis, out], dim=-1)                # 6D = columns x, y of the rotation
        last = self.head[-1]
        last.bias.copy_(bias.reshape(-1).to(last.bias.dtype))
        last.weight.mul_(0.1)

    def forward(self, views: torch.Tensor) -> GraspPrediction:
        """views: (B, V, H, W) depth m from the object-centred virtual cameras, 0 (or NaN) where nothing was hit."""
        cfg = self.config
        check_shape("views", views, ("B", cfg.num_views, cfg.image_size, cfg.image_size))
        b = views.shape[0]
        feats = self.encoder(views_to_input(views, cfg)).reshape(b, cfg.num_views, -1)
        if self.view_embedding is not None:
            feats = feats + self.view_embedding
        pooled = feats.amax(dim=1) if cfg.view_pooling == "max" else feats.mean(dim=1)
        raw = self.head(pooled).reshape(b, cfg.num_grasps, POSE_DIMS + self.num_reduced)
        return self.decode(raw)

    def decode(self, raw: torch.Tensor) -> GraspPrediction:
        """raw (B, G, 9 + 18) head output → :class:`GraspPrediction` (positions scaled, joints within limits)."""
        position = raw[..., :3] * self.config.position_scale_m
        r6 = raw[..., 3:9]
        lo, hi = self.joint_lower.to(raw.dtype), self.joint_upper.to(raw.dtype)
        reduced = lo + torch.sigmoid(raw[..., 9:]) * (hi - lo)
        joints = self.coupling.expand(reduced.reshape(-1, self.num_reduced)).reshape(raw.shape[:2] + (-1,))
        return GraspPrediction(position, r6, rotation6d_to_matrix(r6), reduced, joints)


__all__ = ["GraspNet", "GraspPrediction", "SmallCNN", "make_coupling", "views_to_input"]
