"""Training and dataset configuration (mirrored by ``config/training.yaml``; CLI flags override it).

The planner of the reference grasps nests in the dataset's: ``DatasetConfig.planner`` is a whole ``PlannerConfig`` (in
YAML a ``planner:`` mapping that lists what training changes from the planner's defaults, ``config/planner.yaml``;
see :func:`reference_planner`).
"""

from __future__ import annotations

import dataclasses

from diffgrasp.network.min_of_n import MinOfNWeights
from diffgrasp.planning.planner_config import PlannerConfig

MODES = ("supervised", "unsupervised", "both")
SHAPE_KINDS = ("box", "cylinder", "sphere", "capsule", "superquadric", "torus", "convex_hull", "composite")


def reference_planner() -> PlannerConfig:
    """The planner of the reference grasps (``DatasetConfig.planner``'s default): ``PlannerConfig`` defaults except
    the values below, which ``config/training.yaml``'s ``dataset.planner:`` mapping spells out.

    init random: the reference grasps start from random palm poses (even if the planner's default changes): the
    network must not feed its own proposals back into its training data. time_budget_s 60: planning time per object
    is capped (the best grasps so far are post-processed; status ``time_budget``).
    """
    return PlannerConfig(init="random", time_budget_s=60.0)


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    """What ``diffgrasp-train generate`` builds.

    procedural_shapes: number of procedural shapes (kinds cycle through ``shape_kinds``).
    shape_kinds: procedural kinds used.
    size_range_m: (min, max) of a procedural shape's largest half-extent / radius (m), drawn log-uniformly; the other
        axes are 35–100 % of it (``diffgrasp_training.shapes.half_extents``).
    max_offset_m: each procedural mesh is placed at a random rotation and an offset of ½–1× this (m) from its file's
        origin, so the network's recentring is exercised.
    procedural_val_fraction: fraction of the procedural shapes put in the val split.
    scaled_copies: copies of each train object of the objects folder, each uniformly scaled by a random factor in
        ``scale_range`` (about the file's origin); they join the train split.
    table_samples: each object also as a table sample (``<name>_table``, same split): resting on a table in a
        stable pose, as the demo's fused frame has it (table z = 0, +z up), its grasps planned with the support-plane
        term (``diffgrasp_training.shards.rest_on_table``).
    grasps_per_object: reference grasps planned per object (``plan_grasps(k=...)``); 0 = no references
        (unsupervised training only).
    planner: the planner's settings for the reference grasps (default :func:`reference_planner`); a (partial)
        ``planner:`` mapping in YAML updates that default, ``diffgrasp-train generate --planner-config FILE`` replaces
        it with a whole planner YAML.
    seed: seed of the procedural shapes and of the planner (object i uses seed + i).
    """

    procedural_shapes: int = 500
    shape_kinds: tuple[str, ...] = SHAPE_KINDS
    size_range_m: tuple[float, float] = (0.0075, 0.125)
    max_offset_m: float = 0.1
    procedural_val_fraction: float = 0.1
    scaled_copies: int = 2
    scale_range: tuple[float, float] = (0.7, 1.3)
    table_samples: bool = True
    grasps_per_object: int = 32
    planner: PlannerConfig = dataclasses.field(default_factory=reference_planner)
    seed: int = 0

    def __post_init__(self) -> None:
        bad = [k for k in self.shape_kinds if k not in SHAPE_KINDS]
        if bad:
            raise ValueError(f"DatasetConfig.shape_kinds: unknown {', '.join(bad)}; valid: {', '.join(SHAPE_KINDS)}")
        lo, hi = self.size_range_m
        if not 0 < lo <= hi:
            raise ValueError(f"DatasetConfig.size_range_m: need 0 < min ≤ max, got {self.size_range_m}")
        if not 0 <= self.procedural_val_fraction < 1:
            raise ValueError("DatasetConfig.procedural_val_fraction: must be in [0, 1)")
        if self.procedural_shapes < 0 or self.grasps_per_object < 0 or self.scaled_copies < 0:
            raise ValueError("DatasetConfig: procedural_shapes, scaled_copies and grasps_per_object must be ≥ 0")
        if not 0 < self.scale_range[0] <= self.scale_range[1]:
            raise ValueError(f"DatasetConfig.scale_range: need 0 < min ≤ max, got {self.scale_range}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How ``diffgrasp-train train`` trains the grasp network.

    mode: "supervised" (min-of-N to the reference grasps only), "unsupervised" (the loss library's GraspLoss only,
        no references) or "both" (stage 1 supervised for a ``supervised_fraction`` of the steps, then min-of-N +
        ``loss_weight`` × GraspLoss).
    steps: total optimisation steps (all stages).
    supervised_fraction: stage 1 = the first round(supervised_fraction × steps) steps in mode "both".
    batch_size: objects per step (global; split over DDP ranks, must divide evenly).
    lr: Adam learning rate; weight_decay: Adam weight decay; grad_clip: max gradient norm (0 = off).
    lr_decay_final: the learning rate decays by cosine from lr to lr × this over ``steps``.
    loss_weight: weight of the mean GraspLoss total in stage 2 / unsupervised mode.
    loss_config: optional YAML of the loss library's ``LossConfig`` (e.g. config/loss.yaml); empty = its defaults.
    min_of_n: weights of the min-of-N grasp distance (``diffgrasp.network.min_of_n``).
    depth_noise_m: std of Gaussian noise added to the valid depth pixels during training (m); 0 = off.
    turn_augment: turn each training object by a random number of quarter turns about its vertical axis, views
        and references alike (``diffgrasp_training.augment``; exact, no re-rendering).
    seed: seeds the network init, the data order and the noise (data order depends only on seed and step, so a
        resumed run sees the same batches).
    checkpoint_every: steps between training checkpoints (``checkpoints/last.pt``, atomic).
    val_every: steps between validations on the val split (0 = only at the end).
    log_every: steps between TensorBoard scalars / console lines.
    threads: torch CPU threads per process (0 = torch default).
    dataset: what ``generate`` builds.
    """

    mode: str = "both"
    steps: int = 4000
    supervised_fraction: float = 0.9
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    lr_decay_final: float = 0.1
    loss_weight: float = 1.0
    loss_config: str = ""
    min_of_n: MinOfNWeights = MinOfNWeights(coverage=0.5)
    depth_noise_m: float = 0.001
    turn_augment: bool = True
    seed: int = 0
    checkpoint_every: int = 500
    val_every: int = 500
    log_every: int = 50
    threads: int = 0
    dataset: DatasetConfig = DatasetConfig()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"TrainConfig.mode: {self.mode!r} is not one of {', '.join(MODES)}")
        for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrainConfig.{name}: must be ≥ 1, got {getattr(self, name)}")
        if not 0 <= self.supervised_fraction <= 1:
            raise ValueError(f"TrainConfig.supervised_fraction: must be in [0, 1], got {self.supervised_fraction}")
        if self.lr <= 0 or not 0 < self.lr_decay_final <= 1:
            raise ValueError("TrainConfig: lr must be > 0 and lr_decay_final in (0, 1]")

    def stage(self, step: int) -> str:
        """Which loss applies at 0-based ``step``: "supervised", "combined" or "unsupervised"."""
        if self.mode == "supervised":
            return "supervised"
        if self.mode == "unsupervised":
            return "unsupervised"
        return "supervised" if step < round(self.supervised_fraction * self.steps) else "combined"


__all__ = ["DatasetConfig", "MODES", "SHAPE_KINDS", "TrainConfig", "reference_planner"]
