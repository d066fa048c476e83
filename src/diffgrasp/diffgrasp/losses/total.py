"""GraspLoss: the weighted sum of all grasp loss terms, per grasp, with every term reported by name.

Terms (each (B,), unweighted, lower is better; total = Σ_k weight_k · term_k):
- ``neg_q1``        −Q̃1 (generalized Q1 of the contact candidates, see losses/q1.py), in N (forces, torques / ρ).
- ``penetration``   Σ depth of hand surface samples inside the object, m.
- ``object_in_hand`` Σ depth of object surface samples inside the hand's capsules, m.
- ``self_collision`` Σ capsule-pair penetration on non-adjacent links, m.
- ``closeness``     Σ d² over the ``closeness_k`` contact candidates nearest the surface, m².
- ``joint_limits``  Σ joint-limit violation of q22, rad (zero when the planner bounds joints by reparameterisation).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from diffgrasp.geometry.object_model import ObjectModel
from diffgrasp.losses.closeness import closeness
from diffgrasp.losses.joint_limits import joint_limit_violation
from diffgrasp.losses.penetration import object_in_hand_penetration, sparse_hand_in_object_penetration
from diffgrasp.losses.q1 import generalized_q1
from diffgrasp.losses.self_collision import self_collision

TERM_NAMES = ("neg_q1", "penetration", "object_in_hand", "self_collision", "closeness", "joint_limits")


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Weights and parameters of GraspLoss (mirrored by config/loss.yaml).

    Scale of each term (Shadow hand, palm 3–6 cm from a YCB strawberry, mid-range joints; measured): Q̃1 0.02–0.3;
    penetration (sum over ~4,900 hand samples) 0 clear, 0.016 m grazing, 0.19 m when the palm is 1 cm inside;
    object_in_hand (512 object samples) similar; closeness 1e-4–2e-3 m²; self_collision 0 at q = 0, 0.0065 m at
    mid-range joints (ring distal vs little middle when LFJ5 cups). With the default weights a 1 mm-deep contact over
    ~10 samples (0.01 m) costs 1.0, about three times a good grasp's −Q̃1.
    """

    w_q1: float = 1.0                 # weight of −Q̃1 (N⁻¹ · loss)
    w_penetration: float = 100.0      # per metre of summed hand-in-object depth
    w_object_in_hand: float = 100.0   # per metre of summed object-in-hand depth
    w_self_collision: float = 100.0   # per metre of summed capsule-pair depth
    w_closeness: float = 1000.0       # per m² of summed squared distance
    w_joint_limits: float = 10.0      # per radian of summed violation
    mu: float = 0.7                   # friction coefficient of the Q1 cones
    alpha: float = 100.0              # 1/m: a candidate 1 cm off the surface has a cone e^{-1} as large
    torque_scale: float | None = None  # m; None = the object's characteristic_length
    num_directions: int = 128         # fixed direction set of generalized Q1
    refine_top: int = 6               # directions refined per grasp
    refine_steps: int = 20            # projected-subgradient steps per refined direction
    closeness_k: int = 5              # contact candidates pulled onto the surface
    object_samples: int = 512         # object surface samples for the object-in-hand term
    seed: int = 0                     # seed of the object surface samples

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("w_") and value < 0:
                raise ValueError(f"LossConfig.{f.name}: weights must be >= 0, got {value}")
        if self.mu < 0 or self.alpha < 0:
            raise ValueError(f"LossConfig: mu and alpha must be >= 0, got {self.mu}, {self.alpha}")
        if self.torque_scale is not None and self.torque_scale <= 0:
            raise ValueError(f"LossConfig.torque_scale: must be > 0 m or null, got {self.torque_scale}")
        if self.num_directions < 12 or self.closeness_k < 1 or self.object_samples < 1:
            raise ValueError("LossConfig: num_directions >= 12, closeness_k >= 1 and object_samples >= 1 required")

    def weights(self) -> dict[str, float]:
        """Term name → weight."""
        return {"neg_q1": self.w_q1, "penetration": self.w_penetration, "object_in_hand": self.w_object_in_hand,
                "self_collision": self.w_self_collision, "closeness": self.w_closeness,
                "joint_limits": self.w_joint_limits}


@dataclasses.dataclass
class LossBreakdown:
    """total (B,) and every unweighted term (B,) by name (see module docstring); ``weights`` used for the total."""

    total: torch.Tensor
    terms: dict[str, torch.Tensor]
    weights: dict[str, float]

    @property
    def q1_generalized(self) -> torch.Tensor:
        """(B,) Q̃1 ≥ 0 (= −terms['neg_q1'])."""
        return -self.terms["neg_q1"]

    def as_floats(self, index: int | None = None) -> dict[str, Any]:
        """Plain floats for reporting: the mean over the batch, or grasp ``index``."""
        pick = (lambda t: float(t.detach().mean())) if index is None else (lambda t: float(t.detach()[index]))
        return {"total": pick(self.total), **{k: pick(v) for k, v in self.terms.items()}}


class GraspLoss:
    """Grasp loss of a hand (Hand contract: ``diffgrasp.hand.ShadowHand``) on one object.

    forward(palm_pos (B, 3) m, palm_rot (B, 3, 3), q22 (B, 22) rad), all in the object frame → LossBreakdown.
    Device and dtype follow the inputs (the hand must be on the same device/dtype).

    ``surface_distance``: optional faster signed distance (points (B, P, 3) → d (B, P)) for the many hand surface
    samples of the penetration term (e.g. a precomputed grid's); default the exact ``obj.signed_distance``, which costs
    ~5 µs per point on one CPU core (≈ 25 ms per grasp for ~4,900 samples). Q1 and closeness use ``obj``'s.
    Both penetration terms differentiate only the penetrating pairs (same value and gradient as the dense sums).
    """

    def __init__(self, hand: Any, obj: ObjectModel, config: LossConfig | None = None,
                 surface_distance: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.hand = hand
        self.obj = obj
        self.config = config or LossConfig()
        self.surface_distance = surface_distance or (lambda points: obj.signed_distance(points)[0])
        self._object_points = obj.surface_samples(self.config.object_samples, seed=self.config.seed)
        names = list(hand.joint_names)
        self._finger_index = [names.index(n) for n in hand.finger_joint_names]
        self._cache: dict[tuple[torch.device, torch.dtype], dict[str, torch.Tensor]] = {}

    def _constants(self, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        key = (device, dtype)
        if key not in self._cache:
            idx = torch.as_tensor(self._finger_index, device=self.hand.lower.device)
            self._cache[key] = {
                "object_points": torch.as_tensor(self._object_points, device=device, dtype=dtype),
                "center": torch.as_tensor(self.obj.center_of_mass, device=device, dtype=dtype),
                "lower": self.hand.lower[idx].to(device=device, dtype=dtype),
                "upper": self.hand.upper[idx].to(device=device, dtype=dtype),
            }
        return self._cache[key]

    def forward(self, palm_pos: torch.Tensor, palm_rot: torch.Tensor, q22: torch.Tensor) -> LossBreakdown:
        cfg = self.config
        const = self._constants(palm_pos.device, palm_pos.dtype)
        terms: dict[str, torch.Tensor] = {}

        points, _ = self.hand.contact_candidates(palm_pos, palm_rot, q22)          # (B, C, 3)
        d_c, n_c = self.obj.signed_distance(points)
        rho = cfg.torque_scale if cfg.torque_scale is not None else self.obj.characteristic_length
        q1 = generalized_q1(points, -n_c, d_c, mu=cfg.mu, alpha=cfg.alpha, torque_scale=rho,
                            center=const["center"], num_directions=cfg.num_directions,
                            refine_top=cfg.refine_top, refine_steps=cfg.refine_steps)
        terms["neg_q1"] = -q1

        surface = self.hand.surface_points(palm_pos, palm_rot, q22)                 # (B, P, 3)
        terms["penetration"] = sparse_hand_in_object_penetration(surface, self.surface_distance)

        a, b, radius = self.hand.collision_capsules(palm_pos, palm_rot, q22)
        radius = radius.to(a.dtype)
        terms["object_in_hand"] = object_in_hand_penetration(const["object_points"], a, b, radius)
        terms["self_collision"] = self_collision(a, b, radius, self.hand.self_collision_pairs.to(a.device))
        terms["closeness"] = closeness(d_c, cfg.closeness_k)
        terms["joint_limits"] = joint_limit_violation(q22, const["lower"], const["upper"])

        weights = cfg.weights()
        total = sum(weights[k] * terms[k] for k in TERM_NAMES)
        return LossBreakdown(total=total, terms=terms, weights=weights)

    __call__ = forward
