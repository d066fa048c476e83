#!/usr/bin/env python3
"""Benchmark: ShadowHand forward kinematics (forward, forward + backward) and hand points into the object frame.

Prints a table (median and IQR of repeats after warmup) for B = 1, 256, 1024, 4096 and a metadata line;
``--json`` prints the same numbers as JSON. Workload = the tests': uniform random joints within limits, random palm
pose.
Target (design notes §8): B = 1024 forward ≤ 5 ms on the 2-core development CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import mujoco
import torch
from timing import median_iqr, time_calls  # bench/timing.py (this folder is on sys.path when run as a script)

from diffgrasp.hand import ShadowHand

BATCHES = (1, 256, 1024, 4096)


def _timeit(fn, repeats: int, warmup: int = 3) -> tuple[float, float, float]:
    """Median, IQR and minimum (ms) of ``repeats`` calls after ``warmup`` calls."""
    times = time_calls(fn, repeats, warmup) * 1e3
    return (*median_iqr(times), float(times.min()))


def _commit() -> str:
    try:
        root = Path(__file__).resolve().parents[1]
        return subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run(device: str, repeats: int, batches: tuple[int, ...]) -> dict:
    torch.manual_seed(0)
    hand = ShadowHand(device=device, dtype=torch.float32)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    rows = []
    for b in batches:
        q = hand.lower + torch.rand(b, 24, device=device) * (hand.upper - hand.lower)
        pos = torch.randn(b, 3, device=device) * 0.1
        rot = torch.linalg.qr(torch.randn(b, 3, 3, device=device))[0]
        rot = rot * torch.det(rot)[:, None, None]
        q22 = q[:, 2:].contiguous()
        reps = max(5, repeats // (1 + b // 1024))

        def fwd():
            with torch.no_grad():
                hand.forward_kinematics(q)
            sync()

        def fwd_bwd():
            qq = q.clone().requires_grad_()
            poses = hand.forward_kinematics(qq)
            torch.stack(list(poses.values()), 1).sum().backward()
            sync()

        def points():
            with torch.no_grad():
                hand.contact_candidates(pos, rot, q22)
                hand.surface_points(pos, rot, q22)
            sync()

        def points_bwd():
            qq = q22.clone().requires_grad_()
            p, n = hand.contact_candidates(pos, rot, qq)
            (p.sum() + n.sum() + hand.surface_points(pos, rot, qq).sum()).backward()
            sync()

        f_med, f_iqr, f_min = _timeit(fwd, reps)
        fb_med, fb_iqr, fb_min = _timeit(fwd_bwd, reps)
        p_med, p_iqr, p_min = _timeit(points, reps)
        pb_med, _, pb_min = _timeit(points_bwd, max(5, reps // 2))
        n_points = b * (hand.num_contacts + hand.num_surface_points)
        rows.append({"B": b, "fk_ms": f_med, "fk_iqr_ms": f_iqr, "fk_min_ms": f_min,
                     "fk_bwd_ms": fb_med, "fk_bwd_iqr_ms": fb_iqr, "fk_bwd_min_ms": fb_min,
                     "points_ms": p_med, "points_iqr_ms": p_iqr, "points_min_ms": p_min,
                     "points_per_s": n_points / (p_med / 1e3), "points_bwd_ms": pb_med, "points_bwd_min_ms": pb_min})
    meta = {"torch": torch.__version__, "mujoco": mujoco.__version__, "python": platform.python_version(),
            "device": device, "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
            "commit": _commit(), "contacts": hand.num_contacts, "surface_points": hand.num_surface_points,
            "repeats": repeats}
    return {"meta": meta, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    res = run(args.device, args.repeats, tuple(args.batches))
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    m = res["meta"]
    print(f"# torch {m['torch']}  mujoco {m['mujoco']}  python {m['python']}  device {m['device']}  "
          f"threads {m['threads']}  commit {m['commit']}  C={m['contacts']} P={m['surface_points']}")
    print(f"{'B':>5} | {'FK fwd ms':>26} | {'FK fwd+bwd ms':>26} | {'points fwd ms':>26} | "
          f"{'points fwd+bwd':>17} | {'points/s':>9}")

    def cell(r: dict, key: str) -> str:
        return f"{r[key + '_ms']:8.3f} ±{r[key + '_iqr_ms']:6.2f} ({r[key + '_min_ms']:6.2f})"

    for r in res["rows"]:
        print(f"{r['B']:>5} | {cell(r, 'fk')} | {cell(r, 'fk_bwd')} | {cell(r, 'points')} | "
              f"{r['points_bwd_ms']:7.2f} ({r['points_bwd_min_ms']:6.2f}) | {r['points_per_s']:9.3g}")
    print("(median ± IQR (min) over repeats after 3 warmup calls; 'points' = contact candidates + surface points "
          "into the object frame, FK included; points/s from the median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
