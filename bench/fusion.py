"""Benchmark of multi-view depth fusion (diffgrasp fuse) on simulated RealSense rigs.

Sections:
1. accuracy: fused-mesh chamfer vs the true mesh (mean and 95th percentile, mm) for 2 / 3 / 4 / 6 cameras on a ring
   (0.55–0.70 m, 40° elevation, D435-like 640×480, fx 383 px) with the D4xx noise model, shared/objects val split;
2. speed: fusion time of four 640×480 views (warm-up, then median and IQR of repeats) per object;
3. a PNG: the four noisy depth views, the true mesh, the fused mesh, and the fused mesh coloured by its distance to the
   true surface (same virtual viewpoint, ray-cast shading).

Usage: ``.venv/bin/python bench/fusion.py [--objects NAME,NAME] [--cameras 2,3,4,6] [--repeats 5] [--seed 0]
[--png bench_fusion.png] [--json out.json]``. Targets (design notes §8): ≤ 2 mm mean with 4 cameras and noise, ≤ 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import trimesh

from diffgrasp.perception.capture import pose_from_json
from diffgrasp.perception.evaluate import chamfer, fused_mesh_in_object_frame
from diffgrasp.perception.fusion import FusionConfig, fuse
from diffgrasp.perception.simulate import SimScene, look_at, ring_rig, simulate_capture

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIFFGRASP_SHARED", REPO.parent / "shared")) / "objects"
DISTANCES = (0.55, 0.6, 0.65, 0.7)


def metadata() -> str:
    import mujoco
    import open3d
    import torch

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                timeout=10).stdout.strip() or "?"
    except OSError:
        commit = "?"
    return (f"commit {commit}, python {platform.python_version()}, numpy {np.__version__}, "
            f"open3d {open3d.__version__}, "
            f"torch {torch.__version__}, mujoco {mujoco.__version__}, trimesh {trimesh.__version__}, "
            f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")


def shaded(mesh: trimesh.Trimesh, K: np.ndarray, T: np.ndarray, H: int, W: int, truth: trimesh.Trimesh | None = None):
    """Ray-cast Lambert shading (H, W) of ``mesh`` (NaN background); with ``truth``: also the per-pixel distance of
    the hit point to the true surface (m)."""
    import open3d as o3d

    scene = SimScene(mesh, np.eye(4), table=False)
    out = scene.render(K, T, H, W)
    rays = out["rays"] / np.linalg.norm(out["rays"], axis=-1, keepdims=True)
    img = np.abs((rays * out["normals"]).sum(-1))
    img[out["geometry_ids"] < 0] = np.nan
    if truth is None:
        return img, None
    hit = np.isfinite(img)
    pts = T[:3, 3] + out["rays"][hit] * out["depth"][hit, None]
    tscene = o3d.t.geometry.RaycastingScene()
    t = o3d.t.geometry.TriangleMesh()
    t.vertex.positions = o3d.core.Tensor(np.asarray(truth.vertices, dtype=np.float32))
    t.triangle.indices = o3d.core.Tensor(np.asarray(truth.faces, dtype=np.int32))
    tscene.add_triangles(t)
    err = np.full(img.shape, np.nan)
    err[hit] = tscene.compute_distance(o3d.core.Tensor(pts.astype(np.float32))).numpy()
    return img, err


def write_png(path: Path, name: str, capture, result, true_world: trimesh.Trimesh, ch: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centre = true_world.bounds.mean(0)
    ext = float(np.linalg.norm(true_world.extents))
    T = look_at(centre + ext * 0.75 * np.array([0.8, -0.9, 0.75]), centre)
    f = 520.0
    K = np.array([[f, 0, 239.5], [0, f, 179.5], [0, 0, 1]])
    true_img, _ = shaded(true_world, K, T, 360, 480)
    fused_img, err = shaded(result.mesh, K, T, 360, 480, truth=true_world)
    fig, axes = plt.subplots(2, 4, figsize=(17, 8.2))
    corners = np.array([[x, y, z] for x in true_world.bounds[:, 0] for y in true_world.bounds[:, 1]
                        for z in true_world.bounds[:, 2]])
    for i in range(4):
        ax = axes[0, i]
        Tc, Kc = capture.camera_to_world[i], capture.intrinsics[i]
        c = (corners - Tc[:3, 3]) @ Tc[:3, :3]
        uv = c[:, :2] / c[:, 2:] * Kc[[0, 1], [0, 1]] + Kc[:2, 2]
        (u0, v0), (u1, v1) = np.floor(uv.min(0)).astype(int) - 25, np.ceil(uv.max(0)).astype(int) + 25
        u0, v0 = max(u0, 0), max(v0, 0)
        d = capture.depth[i, v0:v1, u0:u1]
        im = ax.imshow(np.ma.masked_invalid(d), cmap="viridis", vmin=np.nanpercentile(d, 1),
                       vmax=np.nanpercentile(d, 99), extent=(u0, u0 + d.shape[1], v0 + d.shape[0], v0))
        ax.set_title(f"{capture.names[i]} depth (m), crop; NaN = white ({np.isnan(d).mean():.0%})", fontsize=9)
        ax.tick_params(labelsize=7)
        fig.colorbar(im, ax=ax, fraction=0.035)
    axes[1, 0].imshow(np.ma.masked_invalid(true_img), cmap="gray", vmin=0, vmax=1)
    axes[1, 0].set_title(f"true mesh ({len(true_world.faces)} faces)", fontsize=9)
    axes[1, 1].imshow(np.ma.masked_invalid(fused_img), cmap="gray", vmin=0, vmax=1)
    axes[1, 1].set_title(f"fused mesh ({len(result.mesh.faces)} faces, watertight={result.mesh.is_watertight})",
                         fontsize=9)
    im = axes[1, 2].imshow(np.ma.masked_invalid(err * 1000), cmap="inferno", vmin=0, vmax=5)
    axes[1, 2].set_title(f"fused: distance to true surface (mm); chamfer mean {ch['mean'] * 1000:.2f}, "
                         f"p95 {ch['p95'] * 1000:.2f}", fontsize=9)
    fig.colorbar(im, ax=axes[1, 2], fraction=0.035)
    pts = result.points
    sub = pts[np.random.default_rng(0).choice(len(pts), min(len(pts), 20000), replace=False)]
    axes[1, 3].scatter(sub[:, 0], sub[:, 1], s=0.2, c=sub[:, 2], cmap="viridis")
    axes[1, 3].set_aspect("equal")
    axes[1, 3].set_title(f"measured object points, top view ({len(pts)})", fontsize=9)
    for ax in axes[1, :3]:
        ax.axis("off")
    fig.suptitle(f"{name}: 4 simulated D435 views (noise model) → TSDF fusion "
                 f"({result.timings['total']:.2f} s)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objects", help="comma-separated object names (default: the val split)")
    p.add_argument("--cameras", default="2,3,4,6", help="camera counts to compare")
    p.add_argument("--repeats", type=int, default=5, help="timing repeats (after one warm-up)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--voxel", type=float, default=0.002)
    p.add_argument("--png", default="bench_fusion.png", help="figure path ('' to skip)")
    p.add_argument("--json", help="write results here")
    args = p.parse_args(argv)
    if not SHARED.is_dir():
        print(f"objects not found: {SHARED}", file=sys.stderr)
        return 2
    names = args.objects.split(",") if args.objects else json.loads((SHARED / "splits.json").read_text())["val"]
    counts = [int(c) for c in args.cameras.split(",")]
    cfg = FusionConfig(voxel_size=args.voxel)
    print(metadata())
    print(f"noise: D4xx model (seed {args.seed}); voxel {args.voxel * 1000:.1f} mm; "
          "chamfer: 30k surface samples each way")
    rows, times = [], {}
    for name in names:
        path = SHARED / f"{name}.obj"
        true = trimesh.load(path, force="mesh")
        row = {"object": name}
        for n in counts:
            rig = ring_rig(n, distance=DISTANCES)
            cap = simulate_capture(true, rig, noise="realsense", seed=args.seed)
            try:
                res = fuse(cap, cfg)
            except (ValueError, RuntimeError) as err:
                row[n] = {"error": str(err)}
                continue
            ch = chamfer(fused_mesh_in_object_frame(res, cap.metadata["object_pose_world"]), true)
            row[n] = {"mean_mm": ch["mean"] * 1000, "p95_mm": ch["p95"] * 1000, "watertight": res.mesh.is_watertight,
                      "faces": len(res.mesh.faces)}
            if n == 4:
                fuse(cap, cfg)  # warm-up
                ts, cpu = [], []
                for _ in range(args.repeats):
                    t0, c0 = time.perf_counter(), time.process_time()
                    fuse(cap, cfg)
                    ts.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
                q = np.percentile(ts, [25, 50, 75])
                times[name] = {"median_s": float(q[1]), "iqr_s": float(q[2] - q[0]), "cpu_s": float(np.median(cpu))}
                if args.png and name == names[0]:
                    tw = true.copy()
                    tw.apply_transform(pose_from_json(cap.metadata["object_pose_world"]))
                    write_png(Path(args.png), name, cap, res, tw, ch)
        rows.append(row)
        cells = "  ".join(f"{row[n]['mean_mm']:5.2f} / {row[n]['p95_mm']:5.2f}" if "mean_mm" in row[n]
                          else f"{'error':>13}" for n in counts)
        print(f"  {name:28s} {cells}   {times.get(name, {}).get('median_s', float('nan')):.3f} s", flush=True)
    print()
    print("chamfer vs true mesh, mm (mean / p95), noise model on; fusion time of four 640x480 views")
    print(f"{'object':30s}" + "".join(f"{str(n) + ' cameras':>16s}" for n in counts) + f"{'fuse 4 (s)':>14s}"
          + f"{'IQR':>8s}{'CPU s':>8s}")
    for row in rows:
        cells = "".join(f"{row[n]['mean_mm']:7.2f} / {row[n]['p95_mm']:5.2f}" if "mean_mm" in row[n]
                        else f"{'error':>16s}" for n in counts)
        t = times.get(row["object"], {})
        print(f"{row['object']:30s}{cells}{t.get('median_s', float('nan')):14.3f}{t.get('iqr_s', float('nan')):8.3f}"
              f"{t.get('cpu_s', float('nan')):8.3f}")
    summary = {}
    for n in counts:
        ok = [r[n] for r in rows if "mean_mm" in r[n]]
        summary[n] = {"mean_mm": statistics.fmean(x["mean_mm"] for x in ok) if ok else float("nan"),
                      "p95_mm": statistics.fmean(x["p95_mm"] for x in ok) if ok else float("nan"),
                      "failures": len(rows) - len(ok)}
    med_t = statistics.median(t["median_s"] for t in times.values()) if times else float("nan")
    med_cpu = statistics.median(t["cpu_s"] for t in times.values()) if times else float("nan")
    print(f"{'MEAN over objects':30s}" + "".join(f"{summary[n]['mean_mm']:7.2f} / {summary[n]['p95_mm']:5.2f}"
                                                  for n in counts) + f"{med_t:14.3f}{'':8s}{med_cpu:8.3f}  (median)")
    for row in rows:
        for n in counts:
            if "error" in row[n]:
                print(f"  {row['object']}, {n} cameras: {row[n]['error']}")
    print(f"targets: 4 cameras mean ≤ 2 mm -> {summary.get(4, {}).get('mean_mm', float('nan')):.2f} mm; "
          f"fusion ≤ 0.5 s -> {med_t:.3f} s wall (CPU {med_cpu:.3f} s; wall time is inflated by the load shown above)")
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": metadata(), "rows": rows, "times": times,
                                               "summary": {str(k): v for k, v in summary.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
