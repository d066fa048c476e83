"""Network vs random initialisation of the planner on the val split, judged by the physics test.

Rows (k grasps per object, seed 0):
  network alone            PlannerConfig(method="network"): the network's G grasps, closed and filtered, no refinement
  network init + refine    PlannerConfig(init="network", time_budget_s=T): all candidates from the network (jittered)
  random init + refine     PlannerConfig(init="random", time_budget_s=T): candidates around the convex hull
for each budget T of ``--budgets`` (seconds); ``--full`` adds the refinement rows without a budget (all iterations).
Columns: success (passed / k, fewer returned count as failures), objects with ≥ 1 passing grasp, planning seconds per
grasp, iterations run (median over objects), final loss of the best candidate and of the median candidate (each the
median over objects; the loss is the planner's energy, −Q1 term included, so it can be negative; "–" for the network
alone, which is not refined).

Iterations to reach a loss: both refinement variants also run without a budget; their best loss is recorded every 5
iterations (progress callback, ``optim.feedback_every = 5``, so iterations are multiples of 5 or the last one). Per
object, threshold = the final best loss of random init + refine; reported is the first iteration at which the best
loss is ≤ the threshold, and ≤ the threshold + 10 % of its magnitude ("1.1×"); "never" if not reached.

``--checkpoints name=path,...`` instead compares checkpoints (e.g. supervised / unsupervised / both): rows network
alone and network init + refine (first budget), one row per checkpoint.

Usage: ``.venv/bin/python bench/network_compare.py [--checkpoint PATH] [--objects NAME,...] [--split val] [-k 16]
[--budgets 5,20] [--full] [--iterations N] [--checkpoints name=path,...] [--json out.json]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

import diffgrasp.planning.planner as planner_module
from diffgrasp.network import default_checkpoint_path
from diffgrasp.planning import OptimConfig, PlannerConfig, plan_grasps
from diffgrasp.sim.physics_test.evaluate import evaluate_grasps

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIFFGRASP_SHARED", REPO.parent / "shared")) / "objects"
FEEDBACK_EVERY = 5
NEVER = float("inf")


class CandidateLosses:
    """Records the final loss of every candidate: wraps the planner's ``refine`` (the PlanResult has only the best).

    The progress callback reports only the best candidate's loss, so the median candidate's loss is taken here.
    """

    def __init__(self) -> None:
        self.losses: np.ndarray | None = None
        self._refine = planner_module.refine

    def __enter__(self) -> CandidateLosses:
        def refine(*args, **kwargs):
            outcome = self._refine(*args, **kwargs)
            self.losses = outcome.state.loss.detach().cpu().numpy()
            return outcome
        planner_module.refine = refine
        return self

    def __exit__(self, *exc) -> None:
        planner_module.refine = self._refine


def plan_and_test(path: Path, k: int, config: PlannerConfig, evaluate: bool, workers: int) -> dict:
    """Plan k grasps (seed 0), optionally physics-test them; record timing, iterations, losses, the loss curve."""
    curve: list[tuple[int, float]] = []

    def progress(info) -> None:
        if info.stage == "refine":
            curve.append((info.iteration, info.best_loss))

    with CandidateLosses() as spy:
        t0 = time.perf_counter()
        result = plan_grasps(path, k=k, seed=0, config=config, progress=progress)
        seconds = time.perf_counter() - t0
    refined = config.method != "network"
    passed = None
    if evaluate:
        passed = evaluate_grasps(path, result.grasps, workers=workers, progress=False).num_passed \
            if result.grasps else 0
    return {"returned": len(result.grasps), "passed": passed, "plan_s": seconds, "iterations": result.iterations,
            "status": result.status,
            "best_loss": result.best_loss if refined else float("nan"),
            "median_loss": float(np.median(spy.losses)) if refined and spy.losses is not None else float("nan"),
            "curve": curve}


def run_row(name: str, config: PlannerConfig, objects: list[str], k: int, evaluate: bool, workers: int) -> dict:
    rows = {}
    for obj in objects:
        r = plan_and_test(SHARED / f"{obj}.obj", k, config, evaluate, workers)
        rows[obj] = r
        tested = f"{r['passed']:2d}/{k} passed" if evaluate else "not tested"
        print(f"  {name:34s} {obj:28s} {tested} ({r['returned']} returned) plan {r['plan_s']:6.1f} s, "
              f"{r['iterations']} it, best loss {fmt_loss(r['best_loss'])}", flush=True)
    return {"name": name, "objects": rows, **(summary(rows, k) if evaluate else {})}


def summary(rows: dict[str, dict], k: int) -> dict:
    vals = list(rows.values())
    passed = sum(r["passed"] for r in vals)
    nanmedian = lambda xs: float(np.nanmedian(xs)) if not np.all(np.isnan(xs)) else float("nan")  # noqa: E731
    return {"success_rate": passed / (k * len(vals)),
            "objects_with_pass": sum(r["passed"] > 0 for r in vals) / len(vals),
            "seconds_per_grasp": sum(r["plan_s"] for r in vals) / (k * len(vals)),
            "iterations": float(np.median([r["iterations"] for r in vals])),
            "best_loss": nanmedian([r["best_loss"] for r in vals]),
            "median_loss": nanmedian([r["median_loss"] for r in vals])}


def first_below(curve: list[tuple[int, float]], threshold: float) -> float:
    return next((float(it) for it, loss in curve if loss <= threshold), NEVER)


def fmt_loss(x: float) -> str:
    return "–" if np.isnan(x) else f"{x:.4f}"


def fmt_it(x: float) -> str:
    return "never" if x == NEVER else f"{x:.0f}"


def print_table(results: list[dict], first_column: str) -> None:
    print(f"\n| {first_column} | success | obj ≥ 1 | s/grasp | iterations | best loss | median loss |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['name']} | {r['success_rate'] * 100:.1f} % | {r['objects_with_pass'] * 100:.0f} % | "
              f"{r['seconds_per_grasp']:.2f} | {r['iterations']:.0f} | {fmt_loss(r['best_loss'])} | "
              f"{fmt_loss(r['median_loss'])} |")


def convergence(network_row: dict, random_row: dict, objects: list[str]) -> dict:
    """Per object: first iteration at which each variant's best loss reaches random init's final best loss."""
    out = {}
    for obj in objects:
        thr = random_row["objects"][obj]["best_loss"]
        loose = thr + 0.1 * abs(thr)
        out[obj] = {"threshold": thr,
                    "network": first_below(network_row["objects"][obj]["curve"], thr),
                    "random": first_below(random_row["objects"][obj]["curve"], thr),
                    "network_1.1": first_below(network_row["objects"][obj]["curve"], loose),
                    "random_1.1": first_below(random_row["objects"][obj]["curve"], loose)}
    return out


def print_convergence(conv: dict) -> None:
    keys = ("network", "random", "network_1.1", "random_1.1")
    print("\niterations to reach random init's final best loss (threshold), without time budget:")
    print("\n| object | threshold | network init | random init | network init, 1.1× | random init, 1.1× |")
    print("|---|---:|---:|---:|---:|---:|")
    for obj, c in conv.items():
        print(f"| {obj} | {c['threshold']:.4f} | " + " | ".join(fmt_it(c[kk]) for kk in keys) + " |")
    med = {kk: float(np.median([c[kk] for c in conv.values()])) for kk in keys}
    print("| **median** | | " + " | ".join(fmt_it(med[kk]) for kk in keys) + " |")


def plain(x):
    """JSON-safe copy: inf ("never") and nan ("–") become null."""
    if isinstance(x, dict):
        return {str(kk): plain(v) for kk, v in x.items()}
    if isinstance(x, list | tuple):
        return [plain(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def checked(path: str | Path) -> str:
    if not Path(path).is_file():
        sys.exit(f"network_compare: error: checkpoint not found: {path} (train one, or pass --checkpoint PATH)")
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="network checkpoint (default: the packaged one)")
    parser.add_argument("--checkpoints", default=None,
                        help="name=path,... : compare checkpoints (network alone, network init + first budget)")
    parser.add_argument("--objects", default=None, help="comma-separated names (default: the split)")
    parser.add_argument("--split", default="val")
    parser.add_argument("-k", type=int, default=16)
    parser.add_argument("--budgets", default="5,20", help="comma-separated time budgets, seconds")
    parser.add_argument("--full", action="store_true", help="also physics-test the refinement runs without budget")
    parser.add_argument("--iterations", type=int, default=None,
                        help=f"refinement iterations (default: the planner's, {OptimConfig().iterations})")
    parser.add_argument("--workers", type=int, default=1, help="physics-test processes")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    objects = args.objects.split(",") if args.objects else json.loads((SHARED / "splits.json").read_text())[args.split]
    budgets = [float(b) for b in args.budgets.split(",") if b]
    if not budgets:
        parser.error("--budgets: at least one budget is needed")
    optim = dataclasses.replace(OptimConfig(), feedback_every=FEEDBACK_EVERY,
                                **({"iterations": args.iterations} if args.iterations else {}))
    base = PlannerConfig(optim=optim)
    if args.checkpoints:
        named = dict(item.split("=", 1) for item in args.checkpoints.split(","))
        checkpoints = {name: checked(path) for name, path in named.items()}
    else:
        checkpoints = {"": checked(args.checkpoint or default_checkpoint_path())}
    print(f"# network compare: {len(objects)} objects, k={args.k}, seed 0; torch {torch.__version__}, "
          f"{base.torch_threads or torch.get_num_threads()} planner thread(s), "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{datetime.datetime.now().isoformat(timespec='minutes')}; {optim.iterations} iterations; checkpoint(s): "
          + ", ".join(f"{n + '=' if n else ''}{p}" for n, p in checkpoints.items()), flush=True)

    T = lambda b: f"{b:g} s"  # noqa: E731
    results: list[dict] = []
    extra: dict = {}
    if args.checkpoints:
        rows = []
        for name, path in checkpoints.items():
            alone_cfg = dataclasses.replace(base, method="network", network_checkpoint=path)
            refined_cfg = dataclasses.replace(base, init="network", network_checkpoint=path, time_budget_s=budgets[0])
            alone = run_row(f"{name}: network alone", alone_cfg, objects, args.k, True, args.workers)
            refined = run_row(f"{name}: network init, {T(budgets[0])}", refined_cfg, objects, args.k, True,
                              args.workers)
            rows.append({"name": name, "alone": alone, "refined": refined})
            results += [alone, refined]
        print(f"\n| checkpoint | alone: success | alone: obj ≥ 1 | init + {T(budgets[0])}: success | "
              f"init + {T(budgets[0])}: obj ≥ 1 | init + {T(budgets[0])}: best loss | "
              f"init + {T(budgets[0])}: median loss | init + {T(budgets[0])}: iterations |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            a, b = r["alone"], r["refined"]
            print(f"| {r['name']} | {a['success_rate'] * 100:.1f} % | {a['objects_with_pass'] * 100:.0f} % | "
                  f"{b['success_rate'] * 100:.1f} % | {b['objects_with_pass'] * 100:.0f} % | "
                  f"{fmt_loss(b['best_loss'])} | {fmt_loss(b['median_loss'])} | {b['iterations']:.0f} |")
    else:
        ckpt = checkpoints[""]
        network = dataclasses.replace(base, init="network", network_checkpoint=ckpt)
        results.append(run_row("network alone", dataclasses.replace(base, method="network", network_checkpoint=ckpt),
                               objects, args.k, True, args.workers))
        for b in budgets:
            results.append(run_row(f"network init + refine, {T(b)}", dataclasses.replace(network, time_budget_s=b),
                                   objects, args.k, True, args.workers))
            results.append(run_row(f"random init + refine, {T(b)}", dataclasses.replace(base, time_budget_s=b),
                                   objects, args.k, True, args.workers))
        full_net = run_row("network init + refine, no budget", network, objects, args.k, args.full, args.workers)
        full_rand = run_row("random init + refine, no budget", base, objects, args.k, args.full, args.workers)
        if args.full:
            results += [full_net, full_rand]
        print_table(results, "variant")
        conv = convergence(full_net, full_rand, objects)
        print_convergence(conv)
        extra = {"convergence": conv, "no_budget": [full_net, full_rand]}
        print("\nper object (passed/k):")
        print("| object | " + " | ".join(r["name"] for r in results) + " |")
        print("|---|" + "---:|" * len(results))
        for obj in objects:
            print(f"| {obj} | " + " | ".join(str(r["objects"][obj]["passed"]) for r in results) + " |")
    if args.json:
        doc = {"results": results, **extra, "objects": objects, "k": args.k, "budgets_s": budgets,
               "checkpoints": checkpoints, "iterations": optim.iterations, "torch": str(torch.__version__)}
        args.json.write_text(json.dumps(plain(doc), indent=1))


if __name__ == "__main__":
    main()
