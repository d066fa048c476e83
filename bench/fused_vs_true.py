"""Planning on the fused mesh vs on the true mesh: physics-test success against the TRUE object, same seeds.

For each object: render the simulated 4-camera rig with RealSense noise, fuse, map the fused mesh into the true
object's file frame (``simulate_and_fuse``), plan k grasps on it and on the true mesh (seed 0), and run the physics
test of both grasp sets on the true mesh. Prints a table: chamfer (mm), success on true / fused, planning seconds.

Usage: ``.venv/bin/python bench/fused_vs_true.py [--objects NAME,...] [-k 16] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import mujoco
import torch

from diffgrasp.geometry import ObjectModel
from diffgrasp.perception import simulate_and_fuse
from diffgrasp.planning import plan_grasps
from diffgrasp.sim.physics_test.evaluate import evaluate_grasps

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIFFGRASP_SHARED", REPO.parent / "shared")) / "objects"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", default=None, help="comma-separated names (default: the val split)")
    parser.add_argument("-k", type=int, default=16)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    objects = args.objects.split(",") if args.objects else json.loads((SHARED / "splits.json").read_text())["val"]
    print(f"# fused vs true: k={args.k}, seed 0, noise realsense; torch {torch.__version__}, "
          f"mujoco {mujoco.__version__}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in objects:
            true_path = SHARED / f"{name}.obj"
            fused = simulate_and_fuse(true_path, noise="realsense", seed=0)
            fused_path = Path(tmp) / f"{name}_fused.obj"
            fused.mesh_object_frame.export(fused_path)
            row = {"object": name, "chamfer_mean_mm": fused.chamfer["mean"] * 1e3}
            for label, path in (("true", true_path), ("fused", fused_path)):
                t0 = time.perf_counter()
                result = plan_grasps(ObjectModel.from_file(path, name=name, repair=label == "fused"), k=args.k, seed=0)
                row[f"{label}_plan_s"] = time.perf_counter() - t0
                report = evaluate_grasps(true_path, result.grasps, workers=2, progress=False)
                row[f"{label}_passed"] = report.num_passed
            rows.append(row)
            print(f"{name:28s} chamfer {row['chamfer_mean_mm']:5.2f} mm  true {row['true_passed']:2d}/{args.k}  "
                  f"fused {row['fused_passed']:2d}/{args.k}  "
                  f"plan {row['true_plan_s']:.0f} / {row['fused_plan_s']:.0f} s",
                  flush=True)
    total = len(rows) * args.k
    print(f"{'all':28s} success on true mesh {sum(r['true_passed'] for r in rows) / total:.1%}, "
          f"on fused mesh {sum(r['fused_passed'] for r in rows) / total:.1%}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
