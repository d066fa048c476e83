"""Planner benchmark: our planner vs the DexGraspNet-style baseline on the val split, judged by the physics test.

For every object of the split: plan k grasps (seed 0) with each method, run ``diffgrasp evaluate``'s physics test,
and report success rate (passed / submitted; k grasps are asked for, fewer returned count as failures), the share of
objects with at least one passing grasp, median / max penetration, contact count, diversity (mean pairwise palm
rotation angle, mean std of the joint vector), planning seconds per grasp and passing grasps per planning second.
``--ablation`` adds rows for variants of our planner (no Q1 term, 16 vs 256 Q1 directions, no closeness, proximal-first
closing, no post-processing, no physics ranking, physics ranking by the settle alone, 6 and 8 candidates per grasp;
other starts than the default random ones (half of them pinch starts): network starts only, half network and half
random, random palm starts only, ¾ and all pinch starts; no reseeding, and 1, 2 or 4 reseeding rounds of 32, or 8
copies per missing grasp; the physics ranking's staging; no verification, verification with 0.5 s pushes, or verifying
all of the best 2k / 3k with 1 s / 0.5 s pushes).

Usage: ``.venv/bin/python bench/planner.py [--objects NAME,...] [-k 16] [--split val] [--methods diffgrasp,dexgraspnet]
[--ablation] [--json out.json] [--perturb cap-default,cap-avx2,threads-1,jitter] [--profile]``

``--perturb`` re-runs the whole bench once per perturbation of the last bits of the arithmetic (bench/perturb.py),
each in a fresh process, and prints each variant's success and passing grasps per second per perturbation, their mean
and spread, and the per-object range of passing grasps.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mujoco
import numpy as np
import torch
from perturb import PERTURBATIONS, jittered_mesh, parse  # bench/perturb.py (this folder is on sys.path)
from scipy.spatial.transform import Rotation

from diffgrasp.planning import (
    InitConfig,
    OptimConfig,
    PhysicsRankConfig,
    PlannerConfig,
    PostprocessConfig,
    ReseedConfig,
    plan_grasps,
)
from diffgrasp.sim.physics_test.evaluate import evaluate_grasps

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIFFGRASP_SHARED", REPO.parent / "shared")) / "objects"

NO_PHYSICS = PhysicsRankConfig(enabled=False)
VARIANTS: dict[str, PlannerConfig] = {
    "diffgrasp": PlannerConfig(),
    # the baseline's optimiser with our post-processing (closing, phases, physics ranking) ...
    "dexgraspnet": PlannerConfig(method="dexgraspnet"),
    # ... and as DexGraspNet ranks: no physics plausibility stage
    "dexgraspnet (no physics rank)": PlannerConfig(method="dexgraspnet", physics_rank=NO_PHYSICS),
}
ABLATIONS: dict[str, PlannerConfig] = {
    "no Q1 term": PlannerConfig(loss=dataclasses.replace(PlannerConfig().loss, w_q1=0.0)),
    "Q1, 16 directions": PlannerConfig(loss=dataclasses.replace(PlannerConfig().loss, num_directions=16)),
    "Q1, 256 directions": PlannerConfig(loss=dataclasses.replace(PlannerConfig().loss, num_directions=256)),
    "no closeness": PlannerConfig(loss=dataclasses.replace(PlannerConfig().loss, w_closeness=0.0)),
    "proximal-first closing": PlannerConfig(post=dataclasses.replace(PlannerConfig().post,
                                                                     close_order="proximal_first")),
    # The refined grasps as they are: no closing, no contact check, the §7 default pregrasp/squeeze (see RAW).
    "no post-processing": PlannerConfig(post=PostprocessConfig(close_steps=0, min_contact_fingers=0),
                                        physics_rank=NO_PHYSICS),
    "no physics rank": PlannerConfig(physics_rank=NO_PHYSICS),
    "physics rank: settle only": PlannerConfig(physics_rank=PhysicsRankConfig(push_s=0.0, squeeze_rad=())),
    "6 candidates per grasp": PlannerConfig(candidates_per_grasp=6),
    "8 candidates per grasp": PlannerConfig(candidates_per_grasp=8),
    "network init only": PlannerConfig(init="network", init_config=InitConfig(network_share=1.0)),
    "½ network + ½ random": PlannerConfig(init="network", init_config=InitConfig(network_share=0.5)),
    "random: palm starts only": PlannerConfig(init_config=InitConfig(pinch_fraction=0.0)),
    "random: ¾ pinch starts": PlannerConfig(init_config=InitConfig(pinch_fraction=0.75)),
    "random: pinch starts only": PlannerConfig(init_config=InitConfig(pinch_fraction=1.0)),
    "no reseeding": PlannerConfig(reseed=ReseedConfig(rounds=0, fresh_rounds=0)),
    "no fresh round when none holds": PlannerConfig(reseed=ReseedConfig(fresh_rounds=0)),
    "1 reseed round of 32": PlannerConfig(reseed=ReseedConfig(rounds=1, candidates=32)),
    "2 reseed rounds of 32": PlannerConfig(reseed=ReseedConfig(rounds=2, candidates=32)),
    # issue 23 levers: reseed only 8 copies per grasp still missing (at most 64); verify with 0.5 s pushes
    "reseed 8 per missing grasp": PlannerConfig(reseed=ReseedConfig(per_missing=8)),
    "verify with 0.5 s pushes": PlannerConfig(physics_rank=PhysicsRankConfig(verify_push_s=0.5)),
    "verify after reseeding (not ahead)": PlannerConfig(physics_rank=PhysicsRankConfig(verify_ahead=False)),
    "60 + 30 refinement iterations": PlannerConfig(optim=OptimConfig(iterations=60),
                                                   reseed=ReseedConfig(iterations=30)),
    "Q1 directions refined 8 steps": PlannerConfig(loss=dataclasses.replace(PlannerConfig().loss, refine_steps=8)),
    "4 reseed rounds of 32": PlannerConfig(reseed=ReseedConfig(rounds=4, candidates=32)),
    "2 reseed rounds of 96": PlannerConfig(reseed=ReseedConfig(candidates=96)),
    "reseed 6 per missing grasp": PlannerConfig(reseed=ReseedConfig(per_missing=6)),
    "reseed below score 0.7": PlannerConfig(reseed=ReseedConfig(good_score=0.7)),
    "every squeeze, every push (unstaged)": PlannerConfig(
        physics_rank=PhysicsRankConfig(retry_band=(), push_below_score=float("inf"))),
    "squeezes retried from score 0.7": PlannerConfig(physics_rank=PhysicsRankConfig(retry_band=(0.7, 5.0))),
    "no verification": PlannerConfig(physics_rank=PhysicsRankConfig(verify_per_grasp=0.0)),
    # verify_holding_score ~0: nothing counts as holding, so every one of the best 2k (3k) is verified
    "verify all 2k with 1 s pushes": PlannerConfig(physics_rank=PhysicsRankConfig(verify_holding_score=1e-9)),
    "verify all 2k with 0.5 s pushes": PlannerConfig(physics_rank=PhysicsRankConfig(
        verify_holding_score=1e-9, verify_push_s=0.5)),
    "verify all 3k with 0.5 s pushes": PlannerConfig(physics_rank=PhysicsRankConfig(
        verify_holding_score=1e-9, verify_push_s=0.5, verify_per_grasp=3.0)),
    "holding below 0.7 and retried from 0.7": PlannerConfig(physics_rank=PhysicsRankConfig(retry_band=(0.7, 5.0)),
                                                       reseed=ReseedConfig(good_score=0.7)),
}
RAW = {"no post-processing"}  # variants whose grasps are judged without the planner's pregrasp/squeeze


def without_phases(grasps):
    """The grasps without pregrasp/squeeze: the physics test then uses the design notes' §7 defaults."""
    return [dataclasses.replace(g, pregrasp_joints=None, squeeze_joints=None, pregrasp_palm_position=None,
                                pregrasp_palm_quaternion_xyzw=None) for g in grasps]


def grasps_digest(grasps) -> str:
    """SHA-256 of the grasps' palm poses and joints (float64 bytes): equal digests mean bit-identical grasps, so a
    refactor that must not change behaviour can be checked on the same machine and seed."""
    digest = hashlib.sha256()
    for g in grasps:
        for values in (g.palm_position, g.palm_quaternion_xyzw, g.joint_vector()):
            digest.update(np.asarray(values, dtype=np.float64).tobytes())
    return digest.hexdigest()


def diversity(grasps) -> tuple[float, float]:
    """(mean pairwise palm rotation angle in degrees, mean per-joint std in rad) of a grasp list."""
    if len(grasps) < 2:
        return float("nan"), float("nan")
    rot = Rotation.from_quat(np.array([g.palm_quaternion_xyzw for g in grasps]))
    mats = rot.as_matrix()
    cos = (np.einsum("aij,bij->ab", mats, mats) - 1) / 2
    iu = np.triu_indices(len(grasps), 1)
    angle = np.degrees(np.arccos(np.clip(cos[iu], -1, 1))).mean()
    joints = np.array([g.joint_vector() for g in grasps])
    return float(angle), float(joints.std(0).mean())


def run_variant(name: str, config: PlannerConfig, objects: list[str], k: int, workers: int,
                jitter_m: float = 0.0, objects_dir: Path = SHARED) -> dict:
    rows = []
    jitter_dir = Path(tempfile.mkdtemp(prefix="planner-bench-jitter-")) if jitter_m > 0 else None
    for obj in objects:
        path = objects_dir / f"{obj}.obj"
        if jitter_dir is not None:
            path = jittered_mesh(path, jitter_dir, jitter_m)
        t0 = time.perf_counter()
        result = plan_grasps(path, k=k, seed=0, config=config)
        seconds = time.perf_counter() - t0
        if name in RAW:
            result.grasps = without_phases(result.grasps)
        report = evaluate_grasps(path, result.grasps, workers=workers, progress=False) if result.grasps else None
        passed = report.num_passed if report else 0
        pen = [r.penetration_m for r in report.results] if report else []
        contacts = [r.contact_count for r in report.results] if report else []
        rot_div, joint_div = diversity(result.grasps)
        rows.append({"object": obj, "returned": len(result.grasps), "passed": passed, "plan_s": seconds,
                     "grasps_sha256": grasps_digest(result.grasps), "timings_s": result.timings_s,
                     "penetration_m": pen, "contacts": contacts, "rotation_diversity_deg": rot_div,
                     "joint_diversity_rad": joint_div,
                     "fails": [r.failed_direction for r in report.results if not r.passed] if report else []})
        print(f"  {name:28s} {obj:28s} {passed:2d}/{k} passed ({len(result.grasps)} returned) "
              f"plan {seconds:6.1f} s  grasps {rows[-1]['grasps_sha256'][:12]}", flush=True)
    return summarize(name, rows, k)


def summarize(name: str, rows: list[dict], k: int) -> dict:
    """One table row from per-object ``rows`` (as ``run_variant`` collects them; runs over several object subsets
    merge by concatenating their rows)."""
    pens = [p for r in rows for p in r["penetration_m"]]
    total_pass = sum(r["passed"] for r in rows)
    plan_s = sum(r["plan_s"] for r in rows)
    return {
        "name": name, "objects": rows,
        "success_rate": total_pass / (k * len(rows)),
        "objects_with_pass": sum(r["passed"] > 0 for r in rows) / len(rows),
        "median_penetration_mm": float(np.median(pens) * 1e3) if pens else float("nan"),
        "max_penetration_mm": float(np.max(pens) * 1e3) if pens else float("nan"),
        "mean_contacts": float(np.mean([c for r in rows for c in r["contacts"]])) if pens else float("nan"),
        "rotation_diversity_deg": float(np.nanmean([r["rotation_diversity_deg"] for r in rows])),
        "joint_diversity_rad": float(np.nanmean([r["joint_diversity_rad"] for r in rows])),
        "seconds_per_grasp": plan_s / (k * len(rows)),
        "passing_per_second": total_pass / plan_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", default=None, help="comma-separated names (default: the split)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--objects-dir", type=Path, default=SHARED,
                        help="folder of <name>.obj and splits.json (default: ../shared/objects; e.g. the large-round "
                             "set, src/diffgrasp/tests/data/large_round with --split large_round)")
    parser.add_argument("-k", type=int, default=16)
    parser.add_argument("--methods", default="diffgrasp,dexgraspnet")
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="physics-test processes")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--perturb", default="", help=f"comma-separated of {', '.join(PERTURBATIONS)}")
    parser.add_argument("--jitter-m", type=float, default=0.0, help="move the meshes' vertices by up to this (m)")
    parser.add_argument("--profile", action="store_true", help="also print where each plan's time went, per stage")
    args = parser.parse_args()
    if args.perturb:
        run_perturbed(parse(args.perturb), args)
        return
    objects = (args.objects.split(",") if args.objects
               else json.loads((args.objects_dir / "splits.json").read_text())[args.split])
    variants = {m: {**VARIANTS, **ABLATIONS}[m] for m in args.methods.split(",")}  # ablation names work too
    if args.ablation:
        variants.update(ABLATIONS)
    print(f"# planner bench: {len(objects)} objects, k={args.k}, seed 0; torch {torch.__version__}, mujoco "
          f"{mujoco.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    results = [run_variant(name, cfg, objects, args.k, args.workers, args.jitter_m, args.objects_dir)
               for name, cfg in variants.items()]
    header = (f"{'variant':28s} {'success':>8s} {'obj≥1':>6s} {'pen med':>8s} {'pen max':>8s} {'contacts':>8s} "
              f"{'rot div°':>8s} {'jnt div':>8s} {'s/grasp':>8s} {'pass/s':>7s}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['name']:28s} {r['success_rate'] * 100:7.1f}% {r['objects_with_pass'] * 100:5.0f}% "
              f"{r['median_penetration_mm']:6.2f}mm {r['max_penetration_mm']:6.2f}mm {r['mean_contacts']:8.1f} "
              f"{r['rotation_diversity_deg']:8.1f} {r['joint_diversity_rad']:8.3f} {r['seconds_per_grasp']:8.2f} "
              f"{r['passing_per_second']:7.3f}")
    print("\nper object (passed/k):")
    print(f"{'object':28s} " + " ".join(f"{r['name'][:16]:>16s}" for r in results))
    for i, obj in enumerate(objects):
        print(f"{obj:28s} " + " ".join(f"{r['objects'][i]['passed']:>16d}" for r in results))
    if args.profile:
        for r in results:
            print_profile(r)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "config": {n: dataclasses.asdict(c)
                                                                        for n, c in variants.items()}}, indent=1))


# PlanResult.timings_s keys, in stage order; the parts of "postprocess" and "reseed" (every round: closing and
# measuring, exact Q1, the MuJoCo rollouts of the ranking, waiting for CoACD) are shown after the total.
STAGES = ("load", "init", "sdf_grid", "refine", "postprocess", "reseed", "verify", "total")
PARTS = ("close_measure", "exact_q1", "physics_rank", "decomposition")


def print_profile(result: dict) -> None:
    """Seconds per stage and object for one variant's rows, the sum and each stage's share of the total."""
    names = STAGES + PARTS
    print(f"\nprofile of {result['name']} (s; {', '.join(PARTS)} are parts of postprocess and reseed)")
    print(f"{'object':28s} " + " ".join(f"{n[:12]:>12s}" for n in names))
    sums = dict.fromkeys(names, 0.0)
    for row in result["objects"]:
        t = row["timings_s"]
        for n in names:
            sums[n] += t.get(n, 0.0)
        print(f"{row['object']:28s} " + " ".join(f"{t.get(n, 0.0):12.2f}" for n in names))
    print(f"{'sum':28s} " + " ".join(f"{sums[n]:12.1f}" for n in names))
    print(f"{'share of total':28s} " + " ".join(f"{100 * sums[n] / max(sums['total'], 1e-9):11.0f}%" for n in names))


def run_perturbed(perturbations: list[str], args: argparse.Namespace) -> None:
    """This bench once per perturbation, each in a fresh process; the spread of its rows."""
    forwarded = ["--split", args.split, "-k", str(args.k), "--methods", args.methods, "--workers", str(args.workers),
                 "--objects-dir", str(args.objects_dir)]
    forwarded += (["--objects", args.objects] if args.objects else []) + (["--ablation"] if args.ablation else [])
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for p in perturbations:
            spec = PERTURBATIONS[p]
            out = Path(tmp) / f"{p}.json"
            cmd = [sys.executable, __file__, *forwarded, "--json", str(out), "--jitter-m", str(spec.jitter_m)]
            print(f"## perturbation {p}: {' '.join(f'{k}={v}' for k, v in spec.env.items()) or 'environment as is'}",
                  flush=True)
            subprocess.run(cmd, env={**os.environ, **spec.env}, check=True)
            runs[p] = json.loads(out.read_text())["results"]
    names = [r["name"] for r in next(iter(runs.values()))]
    print(f"\n{'variant':28s} {'perturbation':14s} {'success':>8s} {'obj≥1':>6s} {'pass/s':>7s}")
    for i, name in enumerate(names):
        rates, speeds = [], []
        for p in perturbations:
            r = runs[p][i]
            rates.append(r["success_rate"])
            speeds.append(r["passing_per_second"])
            print(f"{name:28s} {p:14s} {100 * r['success_rate']:7.1f}% {100 * r['objects_with_pass']:5.0f}% "
                  f"{r['passing_per_second']:7.3f}")
        print(f"{name:28s} {'mean (spread)':14s} {100 * np.mean(rates):7.1f}% ({100 * (max(rates) - min(rates)):.1f} "
              f"points)  pass/s {np.mean(speeds):.3f} ({max(speeds) - min(speeds):.3f})")
        per_object = {}
        for p in perturbations:
            for row in runs[p][i]["objects"]:
                per_object.setdefault(row["object"], []).append(row["passed"])
        print("   per object passed (min-max): " + ", ".join(f"{o} {min(v)}-{max(v)}" for o, v in per_object.items()))
    if args.json:
        args.json.write_text(json.dumps({"perturbations": perturbations, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
