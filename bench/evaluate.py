"""Benchmark of the physics test (diffgrasp evaluate): speed, convex decomposition time, friction study.

Grasps come from ``diffgrasp.sim.physics_test.autoclose``: the palm faces the object from sampled side approach
directions (roll around the object's long axis ± 30°), its palmar surface 1 mm off the object's support plane, the
fingers and thumb close until contact, squeeze +0.15 rad (see ``sample_grasps``).
Sections:
1. seconds per grasp, passing and failing, with 1 and 2 workers (cylinder, 30 mm radius);
2. CoACD seconds per object (default settings, cache bypassed) on a few shared/objects val meshes;
3. friction study: success rate of the same grasp sets at friction 0.3 / 0.6 / 1.0.

Usage: ``.venv/bin/python bench/evaluate.py [--grasps 16] [--objects NAME,NAME] [--skip-coacd] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import mujoco
import numpy as np
import torch
import trimesh

from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp.sim.physics_test.autoclose import autoclose_grasp
from diffgrasp.sim.physics_test.evaluate import evaluate_grasps
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
from diffgrasp.sim.physics_test.hand_scene import build_scene
from diffgrasp.sim.physics_test.prepared_object import prepare_object
from diffgrasp.sim.physics_test.trial import GraspTester

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DIFFGRASP_SHARED", REPO.parent / "shared")) / "objects"
PALM_SURFACE = 0.012   # m: the palmar surface lies at palm y = −0.012


def sample_grasps(mesh_path: Path, n: int, seed: int, config: EvaluateConfig, roll_jitter_deg: float = 30.0) -> list:
    """n autoclosed side grasps (deterministic for a seed).

    Approach directions: random, kept where they are within 45° of perpendicular to the object's longest principal
    axis; roll: the palm x axis (across the palm) along that axis projected on the palm plane, ± ``roll_jitter_deg``
    (so the fingers wrap the thin cross-section: a power grasp when the jitter is 0); the object's centre faces the
    palm 60–90 mm up the fingers.
    """
    from scipy.spatial.transform import Rotation

    obj = prepare_object(mesh_path, 1.0, config, progress=False)
    model, index = build_scene(obj.pieces, obj.com, obj.inertia, config.scene_params())
    tester = GraspTester(model, index, config)
    rng = np.random.default_rng(seed)
    centered = obj.vertices - obj.com
    axis = np.linalg.eigh(centered.T @ centered)[1][:, -1]  # longest principal axis
    q_open = np.zeros(22)
    q_open[list(FINGER_JOINT_NAMES).index("rh_THJ5")] = 0.5
    grasps = []
    while len(grasps) < n:
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        if abs(d @ axis) > np.sqrt(0.5):
            continue
        y = d                                            # palm +y points away from the object (palmar side faces it)
        x = axis - (axis @ y) * y
        x /= np.linalg.norm(x)
        x = Rotation.from_rotvec(y * np.radians(rng.uniform(-roll_jitter_deg, roll_jitter_deg))).apply(x)
        z = np.cross(x, y)
        rot = np.stack([x, y, z], axis=1)
        support = float((centered @ d).max())
        palm = obj.com + d * (support + PALM_SURFACE + 0.001) - z * rng.uniform(0.06, 0.09)
        quat = Rotation.from_matrix(rot).as_quat(scalar_first=True)
        grasps.append(autoclose_grasp(tester, palm, quat, q_open, squeeze=0.15))
    return grasps


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the worker pool is joined by evaluate_grasps)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def primitive_paths(folder: Path) -> dict[str, Path]:
    shapes = {
        "cylinder_r30": trimesh.creation.cylinder(radius=0.03, height=0.12, sections=48),
        "box_60x50x120": trimesh.creation.box(extents=[0.06, 0.05, 0.12]),
        "sphere_r35": trimesh.creation.icosphere(subdivisions=3, radius=0.035),
    }
    out = {}
    for name, mesh in shapes.items():
        out[name] = folder / f"{name}.obj"
        mesh.export(out[name])
    return out


def squeeze_study(prims: dict[str, Path], n: int, config: EvaluateConfig) -> list[dict]:
    """Success rate and failure phase vs. squeeze (rad added on the touching chains), same grasps, friction 0.6."""
    import copy
    squeezes = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
    print(f"\n## squeeze study: success rate at friction {config.friction}, {n} grasps per object "
          "(in brackets: failures whose object already moved ≥ 5 mm or ≥ 5° by the end of the squeeze ramp)")
    print(f"{'object':<16} " + " ".join(f"{'sq=' + str(s):>11}" for s in squeezes))
    rows = []
    for name in ("cylinder_r30", "sphere_r35"):
        base = sample_grasps(prims[name], n, 1, config)
        cells, row = [], {"object": name}
        for s in squeezes:
            grasps = []
            for g in base:
                g = copy.deepcopy(g)
                touched = {k for k in g.joints if abs(g.squeeze_joints[k] - g.joints[k]) > 1e-9}
                g.squeeze_joints = {k: v + (s if k in touched else 0.0) for k, v in g.joints.items()}
                grasps.append(g)
            rep = evaluate_grasps(prims[name], grasps, config, workers=2, progress=False)
            settled_bad = sum(not r.passed and (r.settle_displacement_m >= 0.005 or r.settle_rotation_deg >= 5)
                              for r in rep.results)
            cells.append(f"{100 * rep.success_rate:>5.0f}% ({settled_bad:>2})")
            row[str(s)] = {"success_rate": rep.success_rate, "failed_while_closing": settled_bad}
        print(f"{name:<16} " + " ".join(f"{c:>11}" for c in cells))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grasps", type=int, default=16, help="grasps per object in the friction study")
    parser.add_argument("--objects", default="053_mini_soccer_ball,038_padlock",
                        help="comma-separated shared/objects val meshes (CoACD timing and study)")
    parser.add_argument("--skip-coacd", action="store_true")
    parser.add_argument("--squeeze-study", action="store_true",
                        help="only run the squeeze study (success vs. squeeze rad on primitives, friction 0.6)")
    parser.add_argument("--json", help="write all numbers here")
    args = parser.parse_args(argv)
    print(f"# torch {torch.__version__}, mujoco {mujoco.__version__}, numpy {np.__version__}, "
          f"cpus {os.cpu_count()}, python {sys.version.split()[0]}")
    config = EvaluateConfig()
    out: dict = {"config": {"friction": config.friction}, "speed": [], "coacd": [], "friction_study": []}
    tmp = Path(tempfile.mkdtemp(prefix="bench_evaluate_"))
    os.environ["DIFFGRASP_CACHE"] = str(tmp / "cache")  # a cold CoACD cache: section 2 times it, section 3 reuses it
    prims = primitive_paths(tmp)
    if args.squeeze_study:
        out["squeeze_study"] = squeeze_study(prims, args.grasps, config)
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1))
        return 0

    # 1. speed: passing and failing grasps, 1 and 2 workers
    cyl = sample_grasps(prims["cylinder_r30"], 16, 0, config)
    probe = evaluate_grasps(prims["cylinder_r30"], cyl, config, progress=False)
    passing = [g for g, r in zip(cyl, probe.results) if r.passed][:4]
    failing = [g for g, r in zip(cyl, probe.results) if not r.passed and r.failed_direction != "prefilter"][:4]
    print("\n## seconds per grasp (cylinder r 30 mm; median of 2 repeats after a warm-up)")
    print(f"{'grasps':<10} {'n':>3} {'workers':>7} {'s/grasp':>8} {'wall s':>7} {'cpu s/grasp':>11}")
    for label, grasps in (("passing", passing), ("failing", failing)):
        if not grasps:
            continue
        for workers in (1, 2):
            evaluate_grasps(prims["cylinder_r30"], grasps[:1], config, workers=workers, progress=False)  # warm-up
            walls, cpus = [], []
            for _ in range(2):
                t0, c0 = time.perf_counter(), _cpu()
                evaluate_grasps(prims["cylinder_r30"], grasps, config, workers=workers, progress=False)
                walls.append(time.perf_counter() - t0)
                cpus.append(_cpu() - c0)
            wall, cpu = statistics.median(walls), statistics.median(cpus)
            print(f"{label:<10} {len(grasps):>3} {workers:>7} {wall / len(grasps):>8.2f} {wall:>7.1f} "
                  f"{cpu / len(grasps):>11.2f}")
            out["speed"].append({"grasps": label, "n": len(grasps), "workers": workers,
                                 "s_per_grasp": wall / len(grasps), "cpu_s_per_grasp": cpu / len(grasps)})

    # 2. CoACD per object (cache bypassed)
    val = []
    if SHARED.is_dir() and args.objects:
        splits = json.loads((SHARED / "splits.json").read_text())
        names = [n for n in args.objects.split(",") if n]
        unknown = [n for n in names if n not in splits["val"]]
        if unknown:
            raise SystemExit(f"--objects: not in the val split: {', '.join(unknown)}")
        val = [SHARED / f"{name}.obj" for name in names]
    if not args.skip_coacd and val:
        from diffgrasp.geometry.convex_decomposition import convex_pieces
        from diffgrasp.sim.physics_test.prepared_object import load_object_mesh
        print("\n## CoACD (default settings, cold cache)")
        print(f"{'object':<28} {'faces':>6} {'pieces':>6} {'s':>6}")
        for path in val:
            mesh = load_object_mesh(path)
            t0 = time.perf_counter()
            pieces = convex_pieces(mesh, config.coacd, progress=False)  # cold cache: computes and stores
            sec = time.perf_counter() - t0
            print(f"{path.stem:<28} {len(mesh.faces):>6} {len(pieces):>6} {sec:>6.1f}")
            out["coacd"].append({"object": path.stem, "faces": len(mesh.faces), "pieces": len(pieces), "s": sec})

    # 3. friction study
    print(f"\n## friction study: success rate (passed / submitted), {args.grasps} grasps per object, 2 workers")
    objects = dict(prims)
    objects.update({p.stem: p for p in val})
    frictions = (0.3, 0.6, 1.0)
    print(f"{'object':<28} " + " ".join(f"{'mu=' + str(f):>8}" for f in frictions) + f" {'prefilter':>9}")
    totals = {f: [0, 0] for f in frictions}
    for name, path in objects.items():
        grasps = sample_grasps(path, args.grasps, 1, config)
        rates, pre = [], 0
        for f in frictions:
            rep = evaluate_grasps(path, grasps, EvaluateConfig(friction=f), workers=2, progress=False)
            rates.append(rep.success_rate)
            totals[f][0] += rep.num_passed
            totals[f][1] += rep.num_submitted
            pre = sum(r.failed_direction == "prefilter" for r in rep.results)
        print(f"{name:<28} " + " ".join(f"{100 * r:>7.0f}%" for r in rates) + f" {pre:>9}")
        out["friction_study"].append({"object": name, "n": len(grasps), "prefilter": pre,
                                      "success_rate": dict(zip(map(str, frictions), rates))})
    print(f"{'all':<28} " + " ".join(f"{100 * p / max(n, 1):>7.0f}%" for p, n in totals.values()))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
