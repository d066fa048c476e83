"""``diffgrasp-train`` (also ``ros2 run diffgrasp_training train``): ``generate`` a data folder, ``train`` a network.

Examples (``outputs/`` is git-ignored)::

    diffgrasp-train generate outputs/train_data --objects ../shared/objects --workers 2   # a local Ray, 2 tasks
    diffgrasp-train generate outputs/train_data --resume          # after an interruption: the folder's own settings
    diffgrasp-train generate /shared/data --objects /shared/objects --address auto --cpus-per-task 4   # a cluster
    diffgrasp-train train outputs/train_data outputs/train_run --config config/training.yaml --threads 1
    diffgrasp-train train outputs/train_data outputs/train_run --resume       # after a kill or --stop-at-step
    torchrun --standalone --nproc_per_node 2 -m diffgrasp_training train outputs/train_data outputs/ddp_run

Bad input (usage errors, bad files, unwritable output folders; checked before any work) exits with status 2 and one
line ``diffgrasp-train CMD: error: …``; other exceptions are one ``internal error`` line (status 1) whose traceback
``--debug`` shows (see :mod:`diffgrasp.cli.args`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys

from diffgrasp.cli.args import (
    OneLineArgumentParser,
    check_output_dir,
    existing_dir,
    existing_file,
    load_config_arg,
    non_negative_int,
    positive_float,
    positive_int,
    run_reported,
    torch_device,
)
from diffgrasp.errors import ConfigError
from diffgrasp.io import output_lock
from diffgrasp.network.network_config import NetworkConfig
from diffgrasp.planning.planner_config import PlannerConfig
from diffgrasp_training.generate import generate_dataset
from diffgrasp_training.runners import RaySettings
from diffgrasp_training.train_config import MODES, TrainConfig
from diffgrasp_training.trainer import train


def _configs(args: argparse.Namespace) -> tuple[TrainConfig, NetworkConfig]:
    generate = args.command == "generate"
    overrides = {k: getattr(args, k, None) for k in ("mode", "steps", "batch_size", "lr", "checkpoint_every",
                                                     "val_every", "threads")}
    overrides["seed"] = None if generate else args.seed
    cfg = load_config_arg(TrainConfig, args.config, overrides)
    ds = {k: v for k, v in (("procedural_shapes", getattr(args, "procedural", None)),
                            ("grasps_per_object", getattr(args, "grasps_per_object", None)),
                            ("planner", getattr(args, "planner_config", None) and load_config_arg(
                                PlannerConfig, args.planner_config, flag="--planner-config")),
                            ("seed", args.seed if generate else None)) if v is not None}
    if ds:
        cfg = dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, **ds))
    return cfg, load_config_arg(NetworkConfig, args.network_config, flag="--network-config")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=existing_file,
                   help="training YAML (TrainConfig; default: built-in defaults = config/training.yaml)")
    p.add_argument("--network-config", type=existing_file,
                   help="network YAML (NetworkConfig; default: config/network.yaml defaults)")
    p.add_argument("--seed", type=non_negative_int,
                   help="override the seed (train: TrainConfig.seed; generate: dataset.seed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of errors")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog="diffgrasp-train", description="Train the diffgrasp grasp network.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    g = sub.add_parser("generate", help="build (or finish) a training data folder: views + reference grasps")
    g.add_argument("out", help="data folder (resumable: finished objects are skipped)")
    g.add_argument("--objects", type=existing_dir,
                   help="folder with <name>.obj + splits.json (e.g. the YCB objects); train and val")
    g.add_argument("--procedural", type=non_negative_int,
                   help="number of procedural shapes (DatasetConfig.procedural_shapes)")
    g.add_argument("--grasps-per-object", type=non_negative_int,
                   help="planner grasps per object; 0 = views only (unsupervised)")
    g.add_argument("--planner-config", type=existing_file,
                   help="planner YAML for the reference grasps, instead of the training config's dataset.planner "
                        "(its time_budget_s too)")
    g.add_argument("--workers", type=positive_int, default=1,
                   help="tasks at once on a local Ray started for the run (1 without --address: in this process)")
    g.add_argument("--cpus-per-task", type=positive_int,
                   help="CPUs of each Ray task, and its torch / MuJoCo thread cap (default 1)")
    g.add_argument("--address", help="join a running Ray cluster: auto | ray://HOST:10001 (--workers is then unused)")
    g.add_argument("--max-retries", type=non_negative_int, default=3,
                   help="re-runs of an object whose Ray worker died (default 3)")
    g.add_argument("--resume", action="store_true",
                   help="continue OUT with the settings stored in its index (no dataset flags needed)")
    g.add_argument("--device", type=torch_device, default="cpu", help="planner device: cpu | cuda[:N]")
    _common(g)
    t = sub.add_parser("train", help="train the network on a data folder")
    t.add_argument("data", help="data folder made by `generate`")
    t.add_argument("out", help="run folder (checkpoints, model.pt, metrics.json, curves.png, tb/)")
    t.add_argument("--mode", choices=MODES, help="override TrainConfig.mode")
    t.add_argument("--steps", type=positive_int, help="override TrainConfig.steps")
    t.add_argument("--batch-size", type=positive_int, help="override TrainConfig.batch_size")
    t.add_argument("--lr", type=positive_float, help="override TrainConfig.lr")
    t.add_argument("--checkpoint-every", type=positive_int, help="override TrainConfig.checkpoint_every")
    t.add_argument("--val-every", type=non_negative_int, help="override TrainConfig.val_every (0 = only at the end)")
    t.add_argument("--threads", type=non_negative_int, help="override TrainConfig.threads (0 = torch default)")
    t.add_argument("--device", type=torch_device, default="cpu", help="cpu | cuda (under torchrun: one GPU per rank)")
    t.add_argument("--resume", action="store_true", help="continue the run in OUT from checkpoints/last.pt")
    t.add_argument("--stop-at-step", type=positive_int, help="checkpoint and stop at this step (resume later)")
    _common(t)
    return parser


_DATASET_FLAGS = ("config", "objects", "procedural", "grasps_per_object", "planner_config", "seed")


def run(args: argparse.Namespace) -> int:
    check_output_dir(args.out, "OUT")  # before any planning or training
    if args.command == "generate" and args.resume:
        given = [f"--{k.replace('_', '-')}" for k in _DATASET_FLAGS if getattr(args, k, None) is not None]
        if given:
            raise ConfigError(f"--resume uses the settings stored in {args.out}/index.json; drop {', '.join(given)}")
    cfg, net_cfg = _configs(args)
    # One writer per data or run folder; a second one fails with one line. Under torchrun the ranks of one run share
    # the folder: rank 0 holds the lock for all of them.
    lock = output_lock(args.out) if int(os.environ.get("RANK", "0")) == 0 else contextlib.nullcontext()
    with lock:
        return _run_locked(args, cfg, net_cfg)


def _run_locked(args: argparse.Namespace, cfg: TrainConfig, net_cfg: NetworkConfig) -> int:
    if args.command == "generate":
        ray = None
        if args.address is not None or args.workers > 1 or args.cpus_per_task is not None:
            ray = RaySettings(address=args.address, workers=args.workers, cpus_per_task=args.cpus_per_task or 1,
                              max_retries=args.max_retries)
        index = generate_dataset(args.out, cfg.dataset, net_cfg, objects_dir=args.objects, device=args.device,
                                 progress=not args.no_progress, ray=ray, resume=args.resume)
        print(f"data index: {index}")
        return 0
    result = train(cfg, net_cfg, args.data, args.out, device=args.device, resume=args.resume,
                   stop_at_step=args.stop_at_step, progress=not args.no_progress)
    if result.model_path is not None:
        print(f"trained network: {result.model_path}  (val: {result.metrics.get('final_val')})")
    elif result.status == "stopped":
        print(f"stopped at step {result.step}; continue with --resume")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``diffgrasp-train`` with ``argv`` (default ``sys.argv[1:]``) → exit status (0 ok, 1 failure, 2 bad input)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)  # usage errors: one line, SystemExit(2)
    return run_reported(f"diffgrasp-train {args.command}", lambda: run(args), debug=args.debug,
                        interrupted="interrupted (resume with --resume)")


if __name__ == "__main__":
    sys.exit(main())
