"""Configuration of the grasp network (mirrored by ``config/network.yaml``).

Every field that changes the parameters or the input/output convention is part of the checkpoint's architecture hash
(``diffgrasp.network.checkpoint.architecture_hash``), so a checkpoint is never loaded under a different convention.
"""

from __future__ import annotations

import dataclasses

BACKBONES = ("small_cnn", "resnet18")
VIEW_POOLINGS = ("max", "mean")
CENTRES = ("bbox", "com")


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """Grasp network: V object-centred depth views (V, H, W) → G grasps (palm pose + 18 coupled joints).

    num_views: V depth views per object (view 0 looks down −z, the others circle the object at ``elevation_deg``).
    image_size: H = W pixels of each view.
    num_grasps: G grasps predicted per object.
    backbone: per-view encoder: "small_cnn" (built in) or "resnet18" (needs torchvision; 2-channel input stem).
    channels: output channels of the small CNN's stride-2 conv layers (each halves the resolution).
    feature_dim: per-view feature size after the encoder.
    hidden_dim: width of the two hidden layers of the MLP head.
    view_pooling: how view features are pooled over V: "max" or "mean".
    view_embedding: add a learned per-view embedding before pooling (views come from fixed viewpoints, so their
        index carries meaning that a symmetric pool would otherwise lose).
    coupling_ratio: J1 = ratio · J2 for FF/MF/RF/LF (the hand's JointCoupling); the network predicts the 18 reduced
        joints, mapped into their limits by a sigmoid.
    position_scale_m: the head's raw position output × this = palm position (m) in the object-centred frame.
    centre: object-centred frame = object file frame translated to the bounding-box centre ("bbox") or the centre of
        mass ("com"; meshes only, falls back to bbox for point clouds). No rotation.
    camera_distance_m: distance of each (orthographic) virtual camera from the centre; depth = distance from the
        camera plane (m), 0 (or NaN) where nothing is hit.
    elevation_deg: elevation of the ring of side views above the horizontal (deg).
    view_half_width_m: half the side of the square orthographic field of view (m); larger objects are clipped.
    depth_scale_m: network input = (depth − camera_distance_m) / depth_scale_m, 0 on background, plus a mask channel.
    """

    num_views: int = 5
    image_size: int = 64
    num_grasps: int = 16
    backbone: str = "small_cnn"
    channels: tuple[int, ...] = (16, 32, 64, 64)
    feature_dim: int = 128
    hidden_dim: int = 256
    view_pooling: str = "max"
    view_embedding: bool = True
    coupling_ratio: float = 1.0
    position_scale_m: float = 0.1
    centre: str = "bbox"
    camera_distance_m: float = 0.5
    elevation_deg: float = 30.0
    view_half_width_m: float = 0.18
    depth_scale_m: float = 0.1

    def __post_init__(self) -> None:
        for name, value, valid in (("backbone", self.backbone, BACKBONES), ("view_pooling", self.view_pooling,
                                   VIEW_POOLINGS), ("centre", self.centre, CENTRES)):
            if value not in valid:
                raise ValueError(f"NetworkConfig.{name}: {value!r} is not one of {', '.join(valid)}")
        for name in ("num_views", "image_size", "num_grasps", "feature_dim", "hidden_dim"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"NetworkConfig.{name}: must be ≥ 1, got {getattr(self, name)}")
        if self.image_size < 2 ** len(self.channels):
            raise ValueError(f"NetworkConfig.image_size: {self.image_size} is too small for {len(self.channels)} "
                             f"stride-2 layers")
        for name in ("position_scale_m", "camera_distance_m", "view_half_width_m", "depth_scale_m", "coupling_ratio"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"NetworkConfig.{name}: must be > 0, got {getattr(self, name)}")
        if self.view_half_width_m >= self.camera_distance_m:
            raise ValueError("NetworkConfig.view_half_width_m must be smaller than camera_distance_m")


__all__ = ["BACKBONES", "CENTRES", "NetworkConfig", "VIEW_POOLINGS"]
