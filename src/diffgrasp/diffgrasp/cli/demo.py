"""``diffgrasp demo``: the whole embedded pipeline on one object (simulated cameras → fusion → network → refinement →
MuJoCo execution of the UR10e + Shadow hand). Exit status 0 when the object was lifted and held, 1 when the lift
failed (the reason is printed), 2 on bad input (missing or non-watertight mesh, bad config)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diffgrasp.cli.args import check_output_dir, existing_file, load_config_arg, non_negative_int
from diffgrasp.io import output_lock

HELP = "run the embedded pipeline: simulated depth → fusion → network → refinement → MuJoCo arm + hand execution"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--object", type=existing_file, default=None,
                        help="watertight object mesh, metres (default: the bundled 057_racquetball)")
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/demo"), help="default outputs/demo")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="camera noise and planner seed (default 0)")
    parser.add_argument("--config", type=existing_file, default=None,
                        help="demo YAML (default: built-in = config/demo.yaml)")
    parser.add_argument("--fast", action="store_true", help="coarse planning, fewer/smaller frames, no GIF")
    parser.add_argument("--quiet", action="store_true", help="no progress output (the table is still printed)")


def run(args: argparse.Namespace) -> int:
    from diffgrasp.demo import FAST, DemoConfig, run_pipeline  # torch, MuJoCo, Open3D: not for other commands' --help

    check_output_dir(args.output_dir, "--output-dir")
    config = load_config_arg(DemoConfig, args.config, FAST if args.fast else None)
    # run_pipeline validates the mesh and the rig files before its first stage
    with output_lock(args.output_dir):  # two demos writing one folder: the second fails with one line
        report = run_pipeline(args.object, args.output_dir, seed=args.seed, config=config, progress=not args.quiet)
    print(report.table())
    print(f"outputs: {args.output_dir}/ ({', '.join(f for f in report.files if '/' not in f)})")
    if not report.success:
        print(f"diffgrasp demo: lift failed ({report.reason}): {report.message}", file=sys.stderr)
        return 1
    return 0


__all__ = ["HELP", "add_arguments", "run"]
