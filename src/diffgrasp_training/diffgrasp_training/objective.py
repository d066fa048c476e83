"""Training objectives: supervised min-of-N and the loss library's GraspLoss (imported, never copied).

The network predicts in the object-centred frame; GraspLoss works in the object file's frame, so the palm positions
are shifted by each object's centre before it is called. One GraspLoss per object is built on first use and kept.
Table samples add the planner's support-plane term (the hand's skin and forearm housing kept ``support_margin_m``
above the table, weighted ``w_support``; values of the dataset's reference planner), as their references had.
"""

from __future__ import annotations

from typing import Any

import torch

from diffgrasp.config import load_config
from diffgrasp.geometry import ObjectModel
from diffgrasp.hand import ShadowHand
from diffgrasp.losses import GraspLoss, LossConfig, support_plane_violation
from diffgrasp.network.min_of_n import min_of_n_loss
from diffgrasp.network.model import GraspPrediction
from diffgrasp_training.dataset import GraspDataset
from diffgrasp_training.train_config import TrainConfig


class Objective:
    """Batch loss for one stage ("supervised", "combined", "unsupervised") on the objects of ``dataset``."""

    def __init__(self, config: TrainConfig, dataset: GraspDataset, device: torch.device) -> None:
        self.config = config
        self.dataset = dataset
        self.device = device
        self._hand: Any = None
        self._loss_config: Any = None
        self._grasp_losses: dict[int, Any] = {}

    def grasp_loss_module(self, index: int) -> Any:
        """The loss library's ``GraspLoss`` for object ``index`` of the dataset (built once)."""
        if index not in self._grasp_losses:
            if self._hand is None:
                self._hand = ShadowHand(device=str(self.device), dtype=torch.float32)
                self._loss_config = load_config(LossConfig, self.config.loss_config or None)
            obj = ObjectModel.from_file(self.dataset.mesh_paths[index])
            self._grasp_losses[index] = GraspLoss(self._hand, obj, self._loss_config)
        return self._grasp_losses[index]

    def grasp_loss(self, pred: GraspPrediction, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor,
                                                                                          dict[str, torch.Tensor]]:
        """Mean GraspLoss total over the batch's objects and grasps (scalar) and the mean of each term.

        Loops over the K objects of the batch (each has its own mesh); the G grasps of an object go in one call."""
        totals, terms = [], {}
        planner = self.config.dataset.planner
        for k, index in enumerate(batch["indices"].tolist()):
            centre = batch["centres"][k].to(pred.position.dtype)
            position, rotation = pred.position[k], pred.rotation[k]
            if "turn" in batch:  # an augmented object: back into its mesh's frame
                turn = batch["turn"][k].to(pred.position.dtype)
                position, rotation = position @ turn, turn.T @ rotation
            position = position + centre
            out = self.grasp_loss_module(index).forward(position, rotation, pred.joints[k])
            total, parts = out.total, dict(out.terms)
            plane = batch["support_planes"][k].to(pred.position.dtype) if "support_planes" in batch else None
            if plane is not None and bool(torch.isfinite(plane).all()):
                hand = self._hand
                points = torch.cat([hand.surface_points(position, rotation, pred.joints[k]),
                                    hand.forearm_hull_points(position, rotation)], dim=1)
                parts["support_plane"] = support_plane_violation(points, plane, planner.support_margin_m)
                total = total + planner.w_support * parts["support_plane"]
            totals.append(total.mean())
            for name, value in parts.items():
                terms.setdefault(name, []).append(value.mean())
        return torch.stack(totals).mean(), {n: torch.stack(v).mean() for n, v in terms.items()}

    def __call__(self, pred: GraspPrediction, batch: dict[str, torch.Tensor], stage: str) -> tuple[torch.Tensor,
                                                                                                     dict[str, float]]:
        """(scalar loss to minimise, logged values) for ``stage``."""
        logs: dict[str, float] = {}
        loss = pred.position.new_zeros(())
        if stage in ("supervised", "combined"):
            mon = min_of_n_loss(pred.position, pred.rotation, pred.joints_reduced, batch["ref_position"],
                                batch["ref_rotation"], batch["ref_joints"], batch["ref_mask"],
                                self.config.min_of_n).mean()
            loss = loss + mon
            logs["min_of_n"] = float(mon.detach())
        if stage in ("combined", "unsupervised"):
            total, terms = self.grasp_loss(pred, batch)
            loss = loss + self.config.loss_weight * total
            logs["grasp_loss"] = float(total.detach())
            logs.update({f"term/{n}": float(v.detach()) for n, v in terms.items()})
        logs["loss"] = float(loss.detach())
        return loss, logs


__all__ = ["Objective"]
