"""Benchmark of the loss library (issue 4): generalized Q1 vs the cvxpy path, exact Q1, signed distance, GraspLoss.

Usage: .venv/bin/python bench/losses.py [--threads 1] [--repeats 5] [--quick] [--json out.json]
Prints one table (warmup, then median and IQR of the repeats) and a metadata line. Times per grasp are the batch time
divided by the batch size. The workloads match the tests: contacts on a YCB object (012_strawberry from
../shared/objects when present, else a 4 cm sphere), 45 contact candidates per grasp, float32.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import trimesh
from timing import timeit  # bench/timing.py (this folder is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
SHARED_OBJECT = ROOT.parent / "shared" / "objects" / "012_strawberry.obj"


def load_object():
    from diffgrasp.geometry import ObjectModel

    if SHARED_OBJECT.is_file():
        return ObjectModel.from_file(SHARED_OBJECT)
    return ObjectModel(trimesh.creation.icosphere(subdivisions=4, radius=0.04), name="sphere")


def contact_batch(obj, batch: int, contacts: int, seed: int = 0):
    """Contacts within ±1 cm of the surface: points (B, C, 3), inward normals, distances; float32."""
    rng = np.random.default_rng(seed)
    base = obj.surface_samples(batch * contacts, seed=seed).reshape(batch, contacts, 3)
    d = rng.uniform(-0.002, 0.01, size=(batch, contacts, 1))
    pts = torch.as_tensor(base, dtype=torch.float64)
    _, normal = obj.signed_distance(pts)
    pts = pts + torch.as_tensor(d) * normal
    dist, normal = obj.signed_distance(pts)
    return pts.float(), (-normal).float(), dist.float()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the 2-core CPU is shared; default 1)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller batches, fewer repeats (smoke run)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from diffgrasp.losses import exact_q1, generalized_q1
    from diffgrasp.losses.q1 import direction_set
    from diffgrasp.losses.q1_exact import tangent_basis

    obj = load_object()
    rho = obj.characteristic_length
    center = torch.as_tensor(obj.center_of_mass, dtype=torch.float32)
    rows: list[dict] = []
    reps = 2 if args.quick else args.repeats

    def add(name: str, per: str, med: float, iqr: float, count: int, note: str = "") -> None:
        rows.append({"benchmark": name, "unit": per, "median_s": med / count, "iqr_s": iqr / count, "note": note})

    # generalized Q1 forward + backward
    q1_per_grasp = {}
    for batch in ([64] if args.quick else [64, 256, 1024]):
        pts, nrm, dist = contact_batch(obj, batch, 45)
        pts.requires_grad_(True)
        nrm.requires_grad_(True)
        dist.requires_grad_(True)

        def run() -> None:
            generalized_q1(pts, nrm, dist, torque_scale=rho, center=center).sum().backward()

        med, iqr = timeit(run, reps if batch < 1024 else max(2, reps // 2))
        q1_per_grasp[batch] = med / batch
        add(f"generalized_q1 fwd+bwd B={batch}, 45 contacts", "per grasp", med, iqr, batch,
            "128 directions, 6 refined x 20 steps")

    # cvxpy path: the same support function as a batched cvxpylayers SOCP (one direction per grasp)
    try:
        from diffgrasp.losses.q1_reference import support_function_socp, support_layer

        batch = 16 if args.quick else 64
        pts, nrm, dist = contact_batch(obj, batch, 45, seed=1)
        layer, _ = support_layer(45, mu=0.7)
        s = direction_set(128, dtype=torch.float64)[20].expand(batch, 6)
        p64 = (pts.double() - center.double()) / rho
        n64 = nrm.double()
        t1, t2 = (torch.as_tensor(t) for t in tangent_basis(n64.reshape(-1, 3).numpy()))
        t1, t2 = t1.reshape(batch, 45, 3), t2.reshape(batch, 45, 3)
        b = s[:, None, :3] + torch.linalg.cross(s[:, None, 3:].expand(-1, 45, -1), p64)
        u = (b * n64).sum(-1).requires_grad_(True)
        v = torch.stack([(b * t1).sum(-1), (b * t2).sum(-1)], -1).requires_grad_(True)
        c = torch.exp(100.0 * dist.double().abs())

        def run_layer() -> None:
            a, t = layer(u, v, c)
            ((u * a).sum() + (v * t).sum()).backward()

        med, iqr = timeit(run_layer, max(1, reps // 2), warmup=1)
        add(f"cvxpylayers SOCP h(s) fwd+bwd B={batch}, 1 direction", "per grasp", med, iqr, batch,
            "x128 directions for Q1")
        layer_per_direction = med / batch
        rows.append({"benchmark": "cvxpylayers path for Q1: 128 directions x SOCP, per grasp", "unit": "per grasp",
                     "median_s": 128 * layer_per_direction, "iqr_s": 128 * iqr / batch,
                     "note": "same direction set as generalized_q1, no refinement"})
        for key, value in q1_per_grasp.items():
            rows.append({"benchmark": f"speed-up generalized_q1 (B={key}) vs cvxpylayers path", "unit": "x",
                         "median_s": 128 * layer_per_direction / value, "iqr_s": 0.0,
                         "note": f"vs a single SOCP direction: x{layer_per_direction / value:.1f}"})
        pts1, nrm1, dist1 = (x[:8].double().numpy() for x in (pts, nrm, dist))
        sdir = np.tile(s[0].numpy(), (8, 1))
        med, iqr = timeit(lambda: support_function_socp(pts1, nrm1, dist1, sdir, torque_scale=rho,
                                                        center=obj.center_of_mass), max(1, reps // 2))
        add("cvxpy+Clarabel SOCP h(s) (8 grasps per problem)", "per grasp", med, iqr, 8, "the test reference")
    except ImportError as exc:  # cvxpylayers is optional
        rows.append({"benchmark": "cvxpylayers", "unit": "-", "median_s": float("nan"), "iqr_s": 0.0,
                     "note": f"skipped: {exc}"})

    # exact Q1 (qhull)
    for count in (3, 10, 45):
        pts, nrm, _ = contact_batch(obj, 1, count, seed=2)
        p, n = pts[0].double().numpy(), nrm[0].double().numpy()
        med, iqr = timeit(lambda: exact_q1(p - obj.center_of_mass, n, torque_scale=rho), max(1, reps // 2))
        add(f"exact_q1 {count} contacts (8 edges)", "per grasp", med, iqr, 1)

    # signed distance throughput
    n_points = 20_000 if args.quick else 100_000
    pts = torch.as_tensor(obj.surface_samples(n_points, seed=3), dtype=torch.float32)
    pts = (pts + 0.01 * torch.randn_like(pts))[None]
    med, iqr = timeit(lambda: obj.signed_distance(pts), reps)
    add(f"signed_distance fwd, {n_points} pts, {obj.num_faces} faces (winding)", "per point", med, iqr, n_points,
        f"{n_points / med:,.0f} points/s")
    ptsg = pts.clone().requires_grad_(True)

    def sdf_fb() -> None:
        d, nn = obj.signed_distance(ptsg)
        (d.sum() + nn.sum()).backward()

    med, iqr = timeit(sdf_fb, reps)
    add(f"signed_distance fwd+bwd, {n_points} pts", "per point", med, iqr, n_points, f"{n_points / med:,.0f} points/s")

    # whole GraspLoss
    try:
        from diffgrasp.hand import ShadowHand
        from diffgrasp.losses import GraspLoss

        hand = ShadowHand()
        loss = GraspLoss(hand, obj)
        for batch in ([8] if args.quick else [16, 64]):
            com = torch.as_tensor(obj.center_of_mass, dtype=torch.float32)
            palm_pos = (com + torch.tensor([0.0, 0.04, -0.05]) + 0.01 * torch.randn(batch, 3)).requires_grad_(True)
            palm_rot = torch.eye(3).expand(batch, 3, 3).clone()
            q22 = ((hand.lower + hand.upper) / 2)[2:].expand(batch, 22).clone().requires_grad_(True)

            def run_loss() -> None:
                loss.forward(palm_pos, palm_rot, q22).total.sum().backward()

            med, iqr = timeit(run_loss, max(2, reps // 2))
            add(f"GraspLoss fwd+bwd B={batch} ({hand.num_surface_points} surface pts)", "per grasp", med, iqr, batch)
    except ImportError as exc:
        rows.append({"benchmark": "GraspLoss", "unit": "-", "median_s": float("nan"), "iqr_s": 0.0,
                     "note": f"skipped: {exc}"})

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=False).stdout.strip() or "unknown"
    except OSError:
        commit = "unknown"
    import warp

    meta = (f"torch {torch.__version__}, warp {warp.__version__}, numpy {np.__version__}, python "
            f"{platform.python_version()}, threads {args.threads}, cpu {platform.processor() or platform.machine()}, "
            f"commit {commit}, object {obj.name}")
    width = max(len(r["benchmark"]) for r in rows)
    print(f"{'benchmark':<{width}}  {'median':>12}  {'IQR':>10}  unit       note")
    for r in rows:
        if r["unit"] == "x":
            print(f"{r['benchmark']:<{width}}  {r['median_s']:>11.1f}x  {'':>10}  {'':<9}  {r['note']}")
        else:
            print(f"{r['benchmark']:<{width}}  {r['median_s'] * 1e3:>10.4f}ms  {r['iqr_s'] * 1e3:>8.4f}ms  "
                  f"{r['unit']:<9}  {r['note']}")
    print(meta)
    if args.json is not None:
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
