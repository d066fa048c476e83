"""``diffgrasp plan OBJECT.obj``: K ranked grasps for a watertight mesh, written in the grasp file format."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from diffgrasp.cli.args import (
    check_output_file,
    existing_file,
    load_config_arg,
    non_negative_int,
    positive_float,
    positive_int,
    torch_device,
)
from diffgrasp.io import output_lock

if TYPE_CHECKING:  # torch loads only when the command runs
    from diffgrasp.planning.deadline import Deadline

HELP = "plan K ranked, diverse grasps for a watertight mesh (metres, object frame)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("object", type=existing_file, help="watertight mesh (OBJ/STL/PLY), metres")
    parser.add_argument("-k", type=positive_int, default=16, help="number of grasps (default 16)")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("-o", "--output", type=Path, default=None, help="grasp file (default: OBJECT_grasps.json)")
    parser.add_argument("--config", type=existing_file, default=None,
                        help="planner YAML (default: built-in = config/planner.yaml)")
    parser.add_argument("--device", type=torch_device, default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--method", choices=("diffgrasp", "dexgraspnet", "network"), default=None)
    parser.add_argument("--init", choices=("random", "network"), default=None)
    parser.add_argument("--network-checkpoint", type=existing_file, default=None,
                        help="network checkpoint for --method/--init network (default: the packaged one)")
    parser.add_argument("--render", type=Path, default=None, help="also render the grasps to this PNG")
    parser.add_argument("--time-budget", type=positive_float, default=None,
                        help="seconds; returns the best grasps so far")
    parser.add_argument("--scale", type=positive_float, default=1.0,
                        help="multiply the mesh coordinates (e.g. 0.001 for mm)")
    parser.add_argument("--repair", action="store_true",
                        help="fill holes and fix winding/inversion of the mesh first (fused scans)")
    parser.add_argument("--save-partial", action="store_true",
                        help="on Ctrl-C or SIGTERM stop at the next safe point and write the best grasps so far "
                             "(marked interrupted; exit status 130)")
    # --time-budget counts from here (the parser is built per command line, before the arguments are converted)
    parser.set_defaults(_started=time.perf_counter())


@contextlib.contextmanager
def _stop_requests(enabled: bool) -> Iterator[threading.Event]:
    """With ``enabled``, SIGINT and SIGTERM set the yielded event instead of stopping the process (a second Ctrl-C
    still raises KeyboardInterrupt); the previous handlers come back afterwards."""
    requested = threading.Event()
    if not enabled:
        yield requested
        return

    def handler(signum, frame) -> None:
        if requested.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        requested.set()
        print("\ndiffgrasp plan: stopping at the next safe point to save the best grasps so far (Ctrl-C again to "
              "abort)", file=sys.stderr, flush=True)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class _BudgetSpent(Exception):
    """The time budget cannot pay for a step that cannot be interrupted."""


def _simplifying_fits(deadline: Deadline, end_fraction: float) -> Callable[[int], None]:
    """A check run before a large mesh is decimated (seconds, not interruptible): when the budget left cannot pay
    for it, stop now rather than overshoot."""
    from diffgrasp.geometry.simplify import decimation_seconds  # torch: loaded when `plan` runs (start-up of --help)

    def check(num_faces: int) -> None:
        need = decimation_seconds(num_faces)
        if deadline.enabled and need > deadline.remaining(end_fraction):
            raise _BudgetSpent(f"the time budget of {deadline.budget_s:g} s cannot pay for simplifying the "
                               f"{num_faces}-face mesh (~{need:.1f} s after {deadline.elapsed():.1f} s of start-up "
                               "and reading); give a larger --time-budget or a simpler mesh")
    return check


def run(args: argparse.Namespace) -> int:
    # --time-budget covers the whole command: from the process's start when `diffgrasp plan` is that process (the
    # interpreter and package imports take ~2 s), else (``main`` called in a longer-lived process: a library caller, a
    # test) from when this command line was parsed
    started = getattr(args, "_started", None) or time.perf_counter()
    # torch, mujoco: loaded when `plan` runs, not when this module is imported (start-up of `diffgrasp --help`)
    from diffgrasp.geometry import ObjectModel
    from diffgrasp.grasps import GraspSet, save_grasps
    from diffgrasp.planning.deadline import Deadline, process_start
    from diffgrasp.planning.planner import face_budget, plan_grasps
    from diffgrasp.planning.planner_config import PlannerConfig

    # Everything a user can get wrong is checked before planning starts (a bad -o must not lose the result).
    output = check_output_file(args.output or args.object.with_name(args.object.stem + "_grasps.json"), "-o",
                               (".json",))
    if args.render is not None:
        check_output_file(args.render, "--render", (".png",))
    if args.network_checkpoint is not None:
        from diffgrasp.network.checkpoint import read_checkpoint  # torch, only with --network-checkpoint
        read_checkpoint(args.network_checkpoint)  # CheckpointError naming the file
    config = load_config_arg(PlannerConfig, args.config, {"method": args.method, "init": args.init,
                                                          "time_budget_s": args.time_budget,
                                                          "network_checkpoint": args.network_checkpoint and
                                                          str(args.network_checkpoint)})
    born = process_start() if getattr(args, "_whole_process", False) else None
    if born is not None:
        started = born
    deadline = Deadline(config.time_budget_s, start=started, reserve_s=config.budget.exit_reserve_s)
    # The output is locked from here on: a second plan writing it fails now, not after planning.
    with output_lock(output), _stop_requests(args.save_partial) as stop:
        if deadline.passed(config.budget.end_fraction):  # start-up (interpreter, imports) took it all
            print(f"diffgrasp plan: error: the time budget of {deadline.budget_s:g} s was spent starting up "
                  f"({deadline.elapsed():.1f} s) before the mesh was read; {output} not written", file=sys.stderr)
            return 1
        try:
            obj = ObjectModel.from_file(args.object, scale=args.scale, repair=args.repair,
                                        max_faces=face_budget(config, deadline),
                                        before_simplify=_simplifying_fits(deadline, config.budget.end_fraction))
        except _BudgetSpent as spent:
            print(f"diffgrasp plan: error: {spent}; {output} not written", file=sys.stderr)
            return 1
        with tqdm(total=config.optim.iterations, desc=f"plan {obj.name}", unit="it", file=sys.stderr) as bar:
            def progress(info) -> None:
                bar.n = info.iteration
                bar.set_postfix(loss=f"{info.best_loss:.4f}", refresh=False)
                bar.refresh()

            # the bar is closed even on error, so that the error message starts on a fresh line
            result = plan_grasps(obj, k=args.k, seed=args.seed, config=config, device=args.device,
                                 progress=progress, should_cancel=stop.is_set if args.save_partial else None,
                                 deadline=deadline)
        interrupted = stop.is_set()
        if result.message:
            print(f"diffgrasp plan: note: {result.message}", file=sys.stderr)
        if result.status != "succeeded" and not result.grasps:  # nothing to save: keep what the output holds
            if interrupted:
                print(f"diffgrasp plan: interrupted before any grasp was ready; {output} not written",
                      file=sys.stderr)
                return 130
            print(f"diffgrasp plan: error: no grasp ready within the time budget for {args.object}; {output} not "
                  "written", file=sys.stderr)
            return 1
        scale = {"scale": args.scale} if args.scale != 1.0 else {}
        grasp_set = GraspSet(obj.name, str(args.object), result.grasps, **scale)
        if result.status == "succeeded":
            save_grasps(output, grasp_set)
        else:  # cut short: the file says so (readers ignore the extra key)
            status = "interrupted" if interrupted else result.status
            save_grasps(output, grasp_set, extra={"planning": {"status": status, "message": result.message}})
    print(f"{'#':>3} {'q1_exact':>9} {'pen_mm':>7} {'contacts':>8} {'fingers':>7}")
    for i, g in enumerate(result.grasps):
        m = g.metrics
        print(f"{i:>3} {m['q1_exact']:>9.4f} {m['penetration_m'] * 1e3:>7.2f} {m['contact_count']:>8d} "
              f"{m['touching_fingers']:>7d}")
    t = result.timings_s
    print(f"{len(result.grasps)} grasps ({result.status}) from {result.num_candidates} candidates in "
          f"{t['total']:.1f} s (refine {t['refine']:.1f} s); rejected {result.num_rejected}; wrote {output}")
    if args.render is not None:
        from diffgrasp.sim.physics_test.render import render_grasps  # mujoco, only with --render
        print(f"rendered {render_grasps(args.object, result.grasps, args.render, scale=args.scale)}")
    if interrupted:
        print(f"diffgrasp plan: interrupted; the best {len(result.grasps)} grasps so far are in {output}",
              file=sys.stderr)
        return 130
    if not result.grasps:
        print(f"diffgrasp plan: error: no valid grasp found for {args.object}", file=sys.stderr)
        return 1
    return 0


__all__ = ["HELP", "add_arguments", "run"]
