"""Training loop: stages (supervised min-of-N → + GraspLoss, or unsupervised), DDP, atomic checkpoints, exact resume.

Output folder::

    checkpoints/last.pt   training checkpoint (network checkpoint + extra: step, optimizer, RNG states, history)
    model.pt              the trained network alone (``diffgrasp.network.load_checkpoint``), written at the end
    metrics.json          final validation metrics, steps, timing        curves.png   loss curves
    train_config.yaml     network.yaml   the configs of the run          tb/          TensorBoard events

Determinism: the network is initialised from ``seed``; the objects of step s and the depth noise are functions of
(seed, step, rank); the learning rate is a function of the step. A run resumed from a checkpoint therefore ends with
exactly the weights of an uninterrupted run (same device, world size and thread count).
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm import tqdm

from diffgrasp.config import from_dict, to_dict
from diffgrasp.io import atomic_write_json, atomic_write_text
from diffgrasp.network.checkpoint import read_checkpoint, save_checkpoint
from diffgrasp.network.model import GraspNet
from diffgrasp.network.network_config import NetworkConfig
from diffgrasp_training.augment import quarter_turns, turn_batch
from diffgrasp_training.curves import ScalarLog, plot_curves
from diffgrasp_training.dataset import GraspDataset, batch_indices
from diffgrasp_training.distributed import cleanup_distributed, setup_distributed
from diffgrasp_training.objective import Objective
from diffgrasp_training.train_config import TrainConfig

# Fields that may change between a run and its resumption without changing the result (the lr schedule and the
# stage boundary depend on `steps`, so changing it warns).
RESUMABLE_CHANGES = ("checkpoint_every", "val_every", "log_every", "threads")


@dataclasses.dataclass
class TrainResult:
    """status: "finished" or "stopped" (``stop_at_step`` reached); model_path is None unless finished."""

    out_dir: Path
    status: str
    step: int
    model_path: Path | None
    metrics: dict[str, Any]


def learning_rate(config: TrainConfig, step: int) -> float:
    """Cosine decay from lr to lr × lr_decay_final over ``steps``."""
    t = min(step / max(config.steps, 1), 1.0)
    return config.lr * (config.lr_decay_final + (1 - config.lr_decay_final) * 0.5 * (1 + math.cos(math.pi * t)))


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": [list(x) if isinstance(x, tuple) else x
                                                        for x in random.getstate()],
             "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *map(float, np_state[2:])]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), int(n[2]), int(n[3]), float(n[4])))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _noisy(views: torch.Tensor, sigma: float, seed: int, step: int, rank: int) -> torch.Tensor:
    if sigma <= 0:
        return views
    g = torch.Generator().manual_seed(seed * 7_919 + step * 101 + rank)
    valid = torch.isfinite(views) & (views > 0)  # background stays background
    return torch.where(valid, views + torch.randn(views.shape, generator=g).to(views.device) * sigma, views)


class Trainer:
    """One training run into ``out_dir`` (see the module docstring). Use :func:`train` for the whole run."""

    def __init__(self, config: TrainConfig, network_config: NetworkConfig, data_dir: str | Path,
                 out_dir: str | Path, device: str = "cpu", resume: bool = False, progress: bool = True) -> None:
        self.config, self.network_config = config, network_config
        self.data_dir, self.out_dir = Path(data_dir), Path(out_dir)
        self.progress = progress
        self.ckpt_path = self.out_dir / "checkpoints" / "last.pt"
        if self.ckpt_path.exists() and not resume:
            raise ValueError(f"{self.out_dir}: already holds a run (checkpoints/last.pt); pass --resume to continue "
                             f"it or choose another output folder")
        if resume and not self.ckpt_path.exists():
            raise FileNotFoundError(f"{self.ckpt_path}: nothing to resume")
        self.info, self.device = setup_distributed(device)
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        if config.batch_size % self.info.world_size:
            raise ValueError(f"batch_size {config.batch_size} is not divisible by the {self.info.world_size} ranks")
        self.train_set = GraspDataset(self.data_dir, "train", network_config)
        self.val_set = GraspDataset(self.data_dir, "val", network_config)
        uses_refs = config.mode != "unsupervised"
        if uses_refs and not self.train_set.has_references:
            raise ValueError(f"mode {config.mode!r} needs reference grasps, but {self.data_dir} has none "
                             f"(generated with grasps_per_object 0?); use mode 'unsupervised'")
        torch.manual_seed(config.seed)
        self.model = GraspNet(network_config).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.objective = Objective(config, self.train_set, self.device)
        self.val_objective = Objective(config, self.val_set, self.device)
        self.step = 0
        self.history: list[dict[str, Any]] = []
        if resume:
            self._load()
        self.ddp = (torch.nn.parallel.DistributedDataParallel(self.model, device_ids=None if self.device.type == "cpu"
                                                              else [self.device]) if self.info.active else self.model)

    # -- checkpoints -----------------------------------------------------------------------------------------
    def _save(self) -> None:
        if not self.info.is_main:
            return
        extra = {"step": self.step, "optimizer": self.optimizer.state_dict(), "rng": _rng_state(),
                 "history": self.history, "train_config": to_dict(self.config)}
        save_checkpoint(self.ckpt_path, self.model, self.network_config, metadata={"kind": "training"}, extra=extra)

    def _load(self) -> None:
        payload = read_checkpoint(self.ckpt_path)
        if payload["config"] != self.network_config:
            raise ValueError(f"{self.ckpt_path}: the run used another network config; resume with the same one")
        extra = payload.get("extra") or {}
        saved = from_dict(TrainConfig, extra.get("train_config", {}))
        drift = [f.name for f in dataclasses.fields(TrainConfig)
                 if getattr(saved, f.name) != getattr(self.config, f.name) and f.name not in RESUMABLE_CHANGES]
        if drift:
            print(f"warning: resuming with changed settings ({', '.join(drift)}); the run is no longer reproducible")
        self.model.load_state_dict(payload["state_dict"])
        self.optimizer.load_state_dict(extra["optimizer"])
        self.step = int(extra["step"])
        self.history = list(extra.get("history", []))
        _set_rng_state(extra["rng"])

    # -- validation ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean min-of-N (objects with references) and mean GraspLoss over the val split."""
        n = len(self.val_set)
        if n == 0:
            return {}
        self.model.eval()
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        stages = (["supervised"] if self.val_set.has_references else []) + ["unsupervised"]
        for start in range(0, n, self.config.batch_size):
            idx = torch.arange(start, min(start + self.config.batch_size, n))
            batch = {k: v.to(self.device) for k, v in self.val_set.batch(idx).items()}
            pred = self.model(batch["views"])
            for stage in stages:
                _, logs = self.val_objective(pred, batch, stage)
                for key, value in logs.items():
                    if key == "loss":
                        continue
                    sums[key] = sums.get(key, 0.0) + value * len(idx)
                    counts[key] = counts.get(key, 0) + len(idx)
        self.model.train()
        return {k: sums[k] / counts[k] for k in sums}

    # -- loop ------------------------------------------------------------------------------------------------
    def run(self, stop_at_step: int | None = None) -> TrainResult:
        cfg, info = self.config, self.info
        log = ScalarLog(self.out_dir, purge_step=self.step or None) if info.is_main else None
        if info.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.out_dir / "train_config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
            atomic_write_text(self.out_dir / "network.yaml", yaml.safe_dump(to_dict(self.network_config),
                                                                            sort_keys=False))
        bar = tqdm(total=cfg.steps, initial=self.step, desc=f"train ({cfg.mode})", unit="step",
                   disable=not (self.progress and info.is_main))
        t0 = time.perf_counter()
        status = "finished"
        self.model.train()
        while self.step < cfg.steps:
            step = self.step
            lr = learning_rate(cfg, step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            idx = batch_indices(len(self.train_set), cfg.batch_size, step, cfg.seed)[info.rank::info.world_size]
            batch = {k: v.to(self.device) for k, v in self.train_set.batch(idx).items()}
            if cfg.turn_augment:
                batch = turn_batch(batch, quarter_turns(len(idx), cfg.seed, step, info.rank))
            views = _noisy(batch["views"], cfg.depth_noise_m, cfg.seed, step, info.rank)
            pred = self.ddp(views)
            loss, logs = self.objective(pred, batch, cfg.stage(step))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.step = s = step + 1
            bar.update(1)
            if s % cfg.log_every == 0 or s == cfg.steps:
                logs = self._mean_over_ranks(logs)
                self.history.append({"kind": "train", "step": s, "lr": lr, **logs})
                if log is not None:
                    log.log(s, {**logs, "lr": lr}, "train")
                bar.set_postfix(loss=f"{logs['loss']:.4f}")
            if info.is_main and cfg.val_every and s % cfg.val_every == 0 and s < cfg.steps:
                val = self.validate()
                self.history.append({"kind": "val", "step": s, **val})
                if log is not None:
                    log.log(s, val, "val")
            if s % cfg.checkpoint_every == 0 or s == cfg.steps or s == stop_at_step:
                self._save()
            if stop_at_step is not None and s >= stop_at_step and s < cfg.steps:
                status = "stopped"
                break
        bar.close()
        result = TrainResult(self.out_dir, status, self.step, None, {})
        if status == "finished" and info.is_main:
            result = self._finish(time.perf_counter() - t0, log)
        if log is not None:
            log.close()
        if info.active:
            torch.distributed.barrier()
        cleanup_distributed(info)
        return result

    def _mean_over_ranks(self, logs: dict[str, float]) -> dict[str, float]:
        if not self.info.active:
            return logs
        keys = sorted(logs)
        t = torch.tensor([logs[k] for k in keys], dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(t)
        return {k: float(v) / self.info.world_size for k, v in zip(keys, t.tolist(), strict=True)}

    def _finish(self, wall_s: float, log: ScalarLog | None) -> TrainResult:
        val = self.validate()
        self.history.append({"kind": "val", "step": self.step, **val})
        if log is not None:
            log.log(self.step, val, "val")
        metrics = {"status": "finished", "steps": self.step, "mode": self.config.mode, "final_val": val,
                   "final_train": next((h for h in reversed(self.history) if h["kind"] == "train"), {}),
                   "train_objects": len(self.train_set), "val_objects": len(self.val_set),
                   "world_size": self.info.world_size, "device": str(self.device),
                   "wall_s_last_session": round(wall_s, 2), "torch": str(torch.__version__)}
        model_path = save_checkpoint(self.out_dir / "model.pt", self.model, self.network_config,
                                     metadata={"kind": "model", "train_config": to_dict(self.config),
                                               "metrics": metrics, "data": str(self.data_dir)})
        atomic_write_json(self.out_dir / "metrics.json", metrics)
        stage2 = round(self.config.supervised_fraction * self.config.steps) if self.config.mode == "both" else None
        plot_curves(self.history, self.out_dir / "curves.png", title=f"grasp network ({self.config.mode})",
                    stage_step=stage2)
        return TrainResult(self.out_dir, "finished", self.step, model_path, metrics)


def train(config: TrainConfig, network_config: NetworkConfig, data_dir: str | Path, out_dir: str | Path,
          device: str = "cpu", resume: bool = False, stop_at_step: int | None = None,
          progress: bool = True) -> TrainResult:
    """Train (or resume) a run; ``stop_at_step`` ends the session early after a checkpoint at that step (for
    time-limited sessions: resume later with ``resume=True``)."""
    return Trainer(config, network_config, data_dir, out_dir, device, resume, progress).run(stop_at_step)


__all__ = ["RESUMABLE_CHANGES", "TrainResult", "Trainer", "learning_rate", "train"]
