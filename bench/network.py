"""Benchmark: grasp-network inference time per object (V = 5 views) on this CPU; target ≤ 20 ms.

Stages timed (warmup, then median and IQR of repeats):
  forward          GraspNet forward on one object's (1, V, H, W) views
  views → grasps   forward + conversion to Grasp objects in the object frame (GraspPredictor.predict_views)
  render views     object mesh → V object-centred views (diffgrasp.perception.views via network.preprocessing)
  mesh → grasps    the whole predict_grasps path for an in-memory mesh (render + forward + conversion)

Uses the packaged checkpoint when present, else a randomly initialised network of the default config (same cost).
Usage: python bench/network.py [--object PATH] [--repeats 50] [--threads N] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import torch
from timing import median_iqr, time_calls  # bench/timing.py (this folder is on sys.path when run as a script)


def timeit(fn, repeats: int, warmup: int = 5) -> dict[str, float]:
    """Median and IQR (ms) of ``repeats`` calls after ``warmup`` calls, and the repeat count."""
    median_ms, iqr_ms = median_iqr(time_calls(fn, repeats, warmup) * 1e3)
    return {"median_ms": median_ms, "iqr_ms": iqr_ms, "repeats": repeats}


def main(argv: list[str] | None = None) -> int:
    import trimesh

    from diffgrasp.network import GraspNet, GraspPredictor, NetworkConfig, default_checkpoint_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--object", help="mesh file (default: a 6 × 8 × 12 cm box)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1,
                        help="GraspPredictor threads during inference (0 = torch's default, %(default)s)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    threads = args.threads or None
    torch.manual_seed(0)

    ckpt = default_checkpoint_path()
    if ckpt.is_file():
        predictor = GraspPredictor(ckpt, threads=threads)
        source = str(ckpt)
    else:
        config = NetworkConfig()
        model = GraspNet(config).eval()
        predictor = GraspPredictor(model, threads=threads)
        source = "random init (no packaged checkpoint)"
    cfg = predictor.config
    mesh = trimesh.load(args.object, force="mesh") if args.object else trimesh.creation.box(extents=[0.06, 0.08, 0.12])
    views, centre = predictor.views(mesh)
    batch = torch.from_numpy(views)[None]

    def forward():
        previous = torch.get_num_threads()
        torch.set_num_threads(threads or previous)
        with torch.no_grad():
            predictor.model(batch)
        torch.set_num_threads(previous)

    rows = {
        "forward": timeit(forward, args.repeats),
        "views -> grasps": timeit(lambda: predictor.predict_views(views, centre), args.repeats),
        "render views": timeit(lambda: predictor.views(mesh), max(args.repeats // 5, 5)),
        "mesh -> grasps": timeit(lambda: predictor.predict(mesh), max(args.repeats // 5, 5)),
    }
    import mujoco

    meta = {"torch": str(torch.__version__), "mujoco": mujoco.__version__,
            "threads": threads or torch.get_num_threads(), "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(), "checkpoint": source,
            "params": sum(p.numel() for p in predictor.model.parameters()), "views": list(views.shape),
            "grasps": cfg.num_grasps, "object": args.object or "box 6x8x12 cm"}
    if args.json:
        print(json.dumps({"meta": meta, "results": rows}, indent=1))
        return 0
    print(f"# torch {meta['torch']}, mujoco {meta['mujoco']}, {meta['threads']} threads, {meta['cpu']}; "
          f"network {meta['params']} params, views {tuple(views.shape)}, G = {cfg.num_grasps}; {source}; "
          f"object {meta['object']}")
    print(f"{'stage':<18}{'median ms':>11}{'IQR ms':>9}{'target':>10}")
    for name, r in rows.items():
        target = "≤ 20 ms" if name == "views -> grasps" else ""
        print(f"{name:<18}{r['median_ms']:>11.2f}{r['iqr_ms']:>9.2f}{target:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
