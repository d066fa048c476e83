"""Training-data generation throughput: objects and reference grasps per hour, in this process and on a local Ray.

Each row generates the same objects (the first ``--objects`` procedural shapes of ``config/training.yaml``'s dataset,
its reference planner and grasps per object) into a fresh folder and times the whole command, Ray start-up included.
Rows: ``--rows`` of ``W×C`` (W tasks at once on a local Ray, C CPUs each; ``0×C``: in this process with C threads).
Columns: objects, failed objects, reference grasps stored, wall seconds, objects/hour, grasps/hour. With few objects
the last task runs alone, so short runs understate what W tasks sustain.

Usage: ``.venv/bin/python bench/generation.py [--objects 6] [--rows 0x2,1x2,2x1] [--grasps 32] [--json out.json]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_row(workers: int, cpus: int, n_objects: int, grasps: int) -> dict:
    from diffgrasp.config import load_config
    from diffgrasp_training.generate import RaySettings, generate_dataset
    from diffgrasp_training.train_config import TrainConfig

    dataset = load_config(TrainConfig, REPO / "config" / "training.yaml").dataset
    dataset = dataclasses.replace(dataset, procedural_shapes=n_objects, grasps_per_object=grasps)
    out = Path(tempfile.mkdtemp(prefix="diffgrasp-bench-gen-"))
    ray = None if workers == 0 else RaySettings(workers=workers, cpus_per_task=cpus)
    if ray is None:
        os.environ["OMP_NUM_THREADS"] = str(cpus)
    t0 = time.perf_counter()
    try:
        index_path = generate_dataset(out / "data", dataset, progress=False, ray=ray)
        wall = time.perf_counter() - t0
        entries = json.loads(index_path.read_text())["objects"]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    done = [e for e in entries if e["status"] == "done"]
    n_grasps = sum(e["num_grasps"] for e in done)
    return {"row": f"{workers}x{cpus}", "workers": workers, "cpus_per_task": cpus, "objects": len(entries),
            "failed": len(entries) - len(done), "grasps": n_grasps, "wall_s": round(wall, 1),
            "objects_per_hour": round(3600 * len(done) / wall, 1), "grasps_per_hour": round(3600 * n_grasps / wall)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=6)
    ap.add_argument("--grasps", type=int, default=32)
    ap.add_argument("--rows", default="1x2,2x1", help="W×C rows (0×C: in this process)")
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = []
    for spec in args.rows.split(","):
        w, c = (int(x) for x in spec.lower().split("x"))
        rows.append(run_row(w, c, args.objects, args.grasps))
        print(f"done {spec}: {rows[-1]}", file=sys.stderr, flush=True)
    print(f"\nGeneration throughput, {args.objects} procedural objects × {args.grasps} grasps "
          f"({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs)\n")
    print("| tasks × CPUs | objects | failed | grasps | wall s | objects/h | grasps/h |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['row']} | {r['objects']} | {r['failed']} | {r['grasps']} | {r['wall_s']} | "
              f"{r['objects_per_hour']} | {r['grasps_per_hour']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
