"""``diffgrasp evaluate OBJECT.obj GRASPS.json [-o report.json] [--workers N] [--render DIR] [--friction F]``.

Runs the physics test of design notes §7 on every grasp and prints a per-grasp table and a summary (success rate =
passed / submitted, invalid grasps count as failures; median penetration). A broken file (not JSON, unknown format or
hand, no grasp list) is a one-line error; a file whose individual grasps are bad (missing joints, NaN, non-unit
quaternion, joints out of limits) is evaluated with those grasps reported as invalid failures naming grasp and field.
"""

from __future__ import annotations

import argparse
import math
import os
import warnings
from pathlib import Path
from typing import Any

from diffgrasp.cli.args import (
    check_mesh,
    check_output_dir,
    check_output_file,
    existing_file,
    load_config_arg,
    positive_float,
    positive_int,
)
from diffgrasp.errors import DiffgraspWarning

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering for --render; must precede the first mujoco import

HELP = "physics-test grasps in MuJoCo (DexGraspBench protocol) and print a table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("object", type=existing_file,
                        help="object mesh (.obj/.stl/.ply, metres, the grasps' object frame)")
    parser.add_argument("grasps", type=existing_file, help="grasp file (diffgrasp.grasps/1 JSON)")
    parser.add_argument("-o", "--output", help="write the JSON report here (atomically)")
    parser.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1)")
    parser.add_argument("--render", metavar="DIR", help="write one PNG per grasp (three views) into DIR")
    parser.add_argument("--friction", type=positive_float, help="sliding friction of every geom (default 0.6)")
    parser.add_argument("--config", type=existing_file,
                        help="EvaluateConfig YAML (default: built-in = config/evaluate.yaml)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the partial report at -o (written every few grasps while running), "
                             "evaluating only the grasps it lacks; it must be of the same mesh, grasps and config")


def _fmt(x: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x * scale:.{digits}f}"


def format_table(report) -> str:
    """Plain-text per-grasp table and summary of an EvaluationReport."""
    head = f"{'#':>3}  {'result':<6} {'failed':<9} {'disp mm':>8} {'rot deg':>8} {'pen mm':>7} {'self mm':>7} " \
           f"{'contacts':>8} {'Q1':>7} {'s':>6}"
    lines = [head, "-" * len(head)]
    for r in report.results:
        if not r.valid:
            lines.append(f"{r.index:>3}  {'FAIL':<6} {'invalid':<9} {r.error}")
            continue
        lines.append(f"{r.index:>3}  {'PASS' if r.passed else 'FAIL':<6} {r.failed_direction or '':<9} "
                     f"{_fmt(r.displacement_m, 1e3):>8} {_fmt(r.rotation_deg):>8} {_fmt(r.penetration_m, 1e3, 2):>7} "
                     f"{_fmt(r.self_penetration_m, 1e3, 2):>7} {r.contact_count:>8} {_fmt(r.q1_exact, 1, 4):>7} "
                     f"{r.seconds:>6.2f}")
    invalid = sum(not r.valid for r in report.results)
    lines.append("-" * len(head))
    lines.append(f"object {report.object_name}: {report.num_passed}/{report.num_submitted} passed "
                 f"(success rate {_fmt(report.success_rate, 100)} %, invalid {invalid}), "
                 f"median penetration {_fmt(report.median_penetration_m, 1e3, 2)} mm, "
                 f"{report.num_pieces} convex pieces, {report.seconds:.1f} s")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    # torch, mujoco: loaded when `evaluate` runs, not when this module is imported (start-up of `diffgrasp --help`)
    from diffgrasp.grasps import load_grasps_lenient
    from diffgrasp.sim.physics_test.evaluate import evaluate_grasps
    from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
    from diffgrasp.sim.physics_test.prepared_object import prepare_object

    # Outputs, configuration, grasps and mesh are checked before the (long) physics test starts.
    if args.output:
        check_output_file(args.output, "-o", (".json",))
    if args.render:
        check_output_dir(args.render, "--render")
    overrides: dict[str, Any] = {"friction": args.friction}
    config = load_config_arg(EvaluateConfig, args.config, overrides)
    grasp_set, invalid = load_grasps_lenient(args.grasps)
    check_mesh(args.object, grasp_set.scale, closed=False)
    stem = Path(args.object).stem
    if grasp_set.object_name and grasp_set.object_name != stem:
        warnings.warn(f"grasp file is for object {grasp_set.object_name!r}, evaluating on {stem!r}",
                      DiffgraspWarning, stacklevel=1)
    if args.resume and not args.output:
        raise ValueError("--resume: needs -o (the partial report to continue)")
    # With -o the report is written as it grows (atomically, under a lock against a second writer): an
    # interrupted run keeps what it finished and --resume continues it.
    report = evaluate_grasps(args.object, grasp_set, config, workers=args.workers, progress=not args.quiet,
                             invalid=invalid, report_path=args.output, resume=args.resume, object_name=stem)
    print(format_table(report))
    if args.output:
        print(f"report written to {args.output}")
    if args.render:
        from diffgrasp.sim.physics_test.render import render_grasp_png  # mujoco, only with --render
        from diffgrasp.sim.physics_test.trial import Phases

        prepared = prepare_object(args.object, grasp_set.scale, config, progress=False)
        out = Path(args.render)
        valid = iter(grasp_set.grasps)
        for r in report.results:
            if not r.valid:
                continue
            grasp = next(valid)
            verdict = "PASS" if r.passed else f"FAIL ({r.failed_direction})"
            try:
                render_grasp_png(out / f"grasp_{r.index:03d}.png", prepared, Phases.from_grasp(grasp), config,
                                 title=f"{stem} grasp {r.index}: {verdict}")
            except Exception as err:  # mujoco.FatalError etc.: no OpenGL
                raise RuntimeError(f"--render: rendering failed (MUJOCO_GL={os.environ.get('MUJOCO_GL')}): "
                                   f"{str(err).splitlines()[0]}") from None
        print(f"renders written to {out}")
    return 0
