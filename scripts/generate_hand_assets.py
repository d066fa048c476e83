#!/usr/bin/env python3
"""Generate the Shadow hand's contact candidates, surface samples and collision capsules from the packaged MJCF.

Outputs (committed, written atomically, deterministic for a fixed seed) in ``src/diffgrasp/diffgrasp/data/hand/``:

1. ``contact_candidates.yaml`` — about 45 points with outward skin normals on the palmar side of the palm and every
   phalanx (fingertips denser). Each candidate is a ray aimed at its link's visual mesh from outside, travelling
   against the palmar direction (``-y`` of the palm and finger bodies; ``-x`` of the thumb's proximal and middle
   bodies, whose flexion THJ2 turns them about ``-y``; ``-y`` of the thumb's distal body). The first hit is the point;
   the normal is the plane fitted to a bundle of 19 parallel rays within 1.5 mm, oriented against the ray (outward).
   This is robust to the inconsistent face winding of ``palm.obj``.
2. ``surface_points.npz`` — area-weighted samples of every visual link mesh below ``rh_palm``: 20 random samples per
   kept point (area-weighted), thinned by farthest-point sampling (even spacing); 8 points per cm², clipped to
   [64, 600] per link.
3. ``collision_capsules.yaml`` — capsules from the MJCF collision geoms of ``rh_palm`` and its descendants: a capsule
   stays a capsule; a sphere is a capsule with a == b; a cylinder (radius r, half-length h) becomes a capsule of
   radius r and half-segment max(h - r, 0); a box becomes 1–4 parallel capsules of radius = its smallest half-extent
   along its longest axis, spread over its middle axis; a mesh geom (the distal phalanges) gets a capsule fitted to its
   vertices (principal axis; radius = 80th percentile of the distances to the axis). Self-collision pairs: every pair
   of capsules on different links, except links at most two joints apart in the tree (parent–child, grandparent–
   grandchild: they meet at a joint by design) and pairs that already overlap at q = 0.

Usage: ``python scripts/generate_hand_assets.py [--seed 0] [--check]``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import mujoco
import numpy as np
import trimesh
import yaml

from diffgrasp.data import DATA_DIR
from diffgrasp.hand.assets import COLLISION_GROUP, VISUAL_GROUP, hand_model, link_meshes
from diffgrasp.hand.kinematics import quat_wxyz_to_matrix_np
from diffgrasp.io import atomic_write, atomic_write_text

OUT_DIR = DATA_DIR / "hand"
PALM = "rh_palm"
FINGERS = ("ff", "mf", "rf", "lf")

# Candidate rays per link: (suffix, origin on the link's inner axis (m, link frame), palmar direction (unit-ised)).
_PAD = (0.0, -1.0, 0.0)


def _tilt(deg: float, palmar: tuple[float, float, float]) -> tuple[float, float, float]:
    """The palmar direction tilted ``deg`` degrees toward the fingertip (+z)."""
    r = np.radians(deg)
    p = np.asarray(palmar, dtype=float)
    return tuple(np.cos(r) * p + np.sin(r) * np.array([0.0, 0.0, 1.0]))


def candidate_rays() -> list[tuple[str, str, tuple[float, float, float], tuple[float, float, float]]]:
    """(name, link, origin, outward direction) for every candidate; the ray is cast from origin + 5 cm * dir back."""
    rays = []
    palm_pts = [(-0.012, 0.075), (0.008, 0.075), (-0.012, 0.050), (0.005, 0.050), (0.020, 0.050),
                (-0.025, 0.020), (-0.005, 0.020), (0.015, 0.020)]
    for i, (x, z) in enumerate(palm_pts):
        rays.append((f"palm_{i}", PALM, (x, 0.0, z), _PAD))
    lf_offset = np.array([-0.033, 0.0, 0.02071])  # rh_lfmetacarpal origin in the palm frame (q = 0)
    for i, z in enumerate((0.065, 0.045)):
        rays.append((f"lfmetacarpal_{i}", "rh_lfmetacarpal", tuple(np.array([-0.033, 0.0, z]) - lf_offset), _PAD))
    for f in FINGERS:
        for i, z in enumerate((0.015, 0.032)):
            rays.append((f"{f}proximal_{i}", f"rh_{f}proximal", (0.0, 0.0, z), _PAD))
        for i, z in enumerate((0.008, 0.018)):
            rays.append((f"{f}middle_{i}", f"rh_{f}middle", (0.0, 0.0, z), _PAD))
        for i, (z, tilt) in enumerate(((0.012, 0.0), (0.020, 10.0), (0.024, 50.0))):
            rays.append((f"{f}distal_{i}", f"rh_{f}distal", (0.0, 0.0, z), _tilt(tilt, _PAD)))
    thumb_pad = (-1.0, 0.0, 0.0)
    for i, z in enumerate((0.016, 0.032)):
        rays.append((f"thproximal_{i}", "rh_thproximal", (0.0, 0.0, z), thumb_pad))
    for i, z in enumerate((0.010, 0.024)):
        rays.append((f"thmiddle_{i}", "rh_thmiddle", (0.0, 0.0, z), thumb_pad))
    for i, (z, tilt) in enumerate(((0.013, 0.0), (0.022, 10.0), (0.027, 50.0))):
        rays.append((f"thdistal_{i}", "rh_thdistal", (0.0, 0.0, z), _tilt(tilt, _PAD)))
    return rays


def _first_hit(mesh: trimesh.Trimesh, origins: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """(N, 3) origins, one (3,) direction → (N, 3) first hit points (NaN where a ray misses)."""
    dirs = np.broadcast_to(direction, origins.shape).copy()
    locs, ray_idx, _ = mesh.ray.intersects_location(origins, dirs, multiple_hits=True)
    out = np.full(origins.shape, np.nan)
    dist = np.full(len(origins), np.inf)
    for loc, r in zip(locs, ray_idx, strict=True):
        t = float(np.dot(loc - origins[r], direction))
        if t < dist[r]:
            dist[r], out[r] = t, loc
    return out


def make_candidates(meshes: dict[str, trimesh.Trimesh]) -> list[dict]:
    """Cast each candidate ray (and a 1.5 mm bundle around it) from outside; return YAML entries."""
    out = []
    for name, link, origin, direction in candidate_rays():
        d = np.asarray(direction) / np.linalg.norm(direction)
        u = np.cross(d, [1.0, 0.0, 0.0] if abs(d[0]) < 0.9 else [0.0, 1.0, 0.0])
        u /= np.linalg.norm(u)
        v = np.cross(d, u)
        offsets = [(0.0, 0.0)] + [(r * np.cos(a), r * np.sin(a)) for r, k in ((0.00075, 6), (0.0015, 12))
                                  for a in np.linspace(0, 2 * np.pi, k, endpoint=False)]
        starts = np.array([np.asarray(origin) + 0.05 * d + a * u + b * v for a, b in offsets])
        hits = _first_hit(meshes[link], starts, -d)
        if np.isnan(hits[0]).any():
            raise RuntimeError(f"candidate {name}: ray missed the mesh of {link}")
        good = hits[~np.isnan(hits).any(axis=1)]
        centred = good - good.mean(axis=0)
        normal = np.linalg.svd(centred, full_matrices=False)[2][-1]
        normal = normal if normal @ d > 0 else -normal
        out.append({"name": name, "link": link, "position": [round(float(x), 6) for x in hits[0]],
                    "normal": [round(float(x), 6) for x in normal / np.linalg.norm(normal)]})
    for e in out:  # renormalise after rounding so the file holds unit vectors to 1e-9
        n = np.array(e["normal"])
        e["normal"] = [round(float(x), 9) + 0.0 for x in n / np.linalg.norm(n)]
    return out


def _farthest_points(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    chosen = np.empty(k, dtype=np.int64)
    chosen[0] = rng.integers(len(points))
    dist = np.linalg.norm(points - points[chosen[0]], axis=1)
    for i in range(1, k):
        chosen[i] = int(dist.argmax())
        dist = np.minimum(dist, np.linalg.norm(points - points[chosen[i]], axis=1))
    return chosen


def make_surface_points(meshes: dict[str, trimesh.Trimesh], links: tuple[str, ...], seed: int,
                        per_cm2: float = 8.0, lo: int = 64, hi: int = 600) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    names, index, points = [], [], []
    for link in links:
        if link not in meshes:
            continue
        mesh = meshes[link]
        k = int(np.clip(round(mesh.area * 1e4 * per_cm2), lo, hi))
        dense, _ = trimesh.sample.sample_surface(mesh, 20 * k, seed=int(rng.integers(2**31)))
        pts = dense[_farthest_points(dense, k, rng)]
        index.append(np.full(k, len(names)))
        names.append(link)
        points.append(pts)
    return {"links": np.array(names), "link_index": np.concatenate(index).astype(np.int32),
            "points": np.concatenate(points).astype(np.float32)}


def _geom_capsules(model: mujoco.MjModel, g: int, meshes: dict[str, trimesh.Trimesh]) -> list[tuple]:
    """Capsules (a, b, radius) in the body frame for collision geom ``g``."""
    gtype, size = int(model.geom_type[g]), model.geom_size[g]
    rot, pos = quat_wxyz_to_matrix_np(model.geom_quat[g]), model.geom_pos[g].astype(np.float64)
    gt = mujoco.mjtGeom
    if gtype == int(gt.mjGEOM_SPHERE):
        return [(pos, pos, float(size[0]))]
    if gtype in (int(gt.mjGEOM_CAPSULE), int(gt.mjGEOM_CYLINDER)):
        r, h = float(size[0]), float(size[1])
        half = h if gtype == int(gt.mjGEOM_CAPSULE) else max(h - r, 0.0)
        axis = rot[:, 2]
        return [(pos - half * axis, pos + half * axis, r)]
    if gtype == int(gt.mjGEOM_BOX):
        order = np.argsort(size[:3])  # smallest, middle, largest half-extent
        s_ax, m_ax, l_ax = order
        r = float(size[s_ax])
        half_l = max(float(size[l_ax]) - r, 0.0)
        span = float(size[m_ax]) - r
        n = 1 if span < 0.5 * r else min(4, int(np.ceil(span / r)) + 1)
        offsets = [0.0] if n == 1 else np.linspace(-span, span, n)
        out = []
        for o in offsets:
            c = pos + o * rot[:, m_ax]
            out.append((c - half_l * rot[:, l_ax], c + half_l * rot[:, l_ax], r))
        return out
    if gtype == int(gt.mjGEOM_MESH):
        mid = int(model.geom_dataid[g])
        v0, nv = int(model.mesh_vertadr[mid]), int(model.mesh_vertnum[mid])
        verts = model.mesh_vert[v0:v0 + nv].astype(np.float64) @ rot.T + pos
        centre = verts.mean(axis=0)
        axis = np.linalg.svd(verts - centre, full_matrices=False)[2][0]
        axis = axis if axis[2] >= 0 else -axis
        t = (verts - centre) @ axis
        radial = np.linalg.norm((verts - centre) - np.outer(t, axis), axis=1)
        r = float(np.percentile(radial, 80))
        t0, t1 = t.min() + r, t.max() - r
        if t1 < t0:
            t0 = t1 = 0.5 * (t.min() + t.max())
        return [(centre + t0 * axis, centre + t1 * axis, r)]
    raise ValueError(f"geom {g}: unsupported collision geom type {gtype}")


def _segment_distance(p1: np.ndarray, q1: np.ndarray, p2: np.ndarray, q2: np.ndarray) -> float:
    """Distance between segments p1–q1 and p2–q2 (dense sampling of one, exact projection on the other)."""
    s = np.linspace(0.0, 1.0, 201)[:, None]
    pts = p1 + s * (q1 - p1)
    d = q2 - p2
    dd = float(d @ d)
    t = np.clip(((pts - p2) @ d) / dd, 0.0, 1.0) if dd > 0 else np.zeros(len(pts))
    return float(np.linalg.norm(pts - (p2 + t[:, None] * d), axis=1).min())


def make_capsules(model: mujoco.MjModel, links: tuple[str, ...], meshes: dict) -> dict:
    body_of = {model.body(b).name: b for b in range(model.nbody)}
    caps = []
    for link in links:
        b = body_of[link]
        k = 0
        for g in range(model.ngeom):
            if int(model.geom_bodyid[g]) == b and int(model.geom_group[g]) == COLLISION_GROUP:
                for a, c, r in _geom_capsules(model, g, meshes):
                    caps.append({"name": f"{link[3:]}_{k}", "link": link, "a": [round(float(x), 6) for x in a],
                                 "b": [round(float(x), 6) for x in c], "radius": round(r, 6),
                                 "source_geom": int(g)})
                    k += 1
    # Tree distance between links (number of joints between them).
    parent = {link: model.body(int(model.body_parentid[body_of[link]])).name for link in links}

    def ancestors(link: str) -> list[str]:
        out = [link]
        while out[-1] in parent and out[-1] != links[0]:
            out.append(parent[out[-1]])
        return out

    def tree_distance(x: str, y: str) -> int:
        ax, ay = ancestors(x), ancestors(y)
        common = next(n for n in ax if n in ay)
        return ax.index(common) + ay.index(common)

    # Capsule ends at q = 0 in the palm frame.
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    pb = body_of[links[0]]
    rp, tp = data.xmat[pb].reshape(3, 3), data.xpos[pb]

    def in_palm(link: str, x: list[float]) -> np.ndarray:
        bb = body_of[link]
        world = data.xmat[bb].reshape(3, 3) @ np.asarray(x) + data.xpos[bb]
        return rp.T @ (world - tp)

    ends = [(in_palm(c["link"], c["a"]), in_palm(c["link"], c["b"])) for c in caps]
    pairs, overlapping = [], []
    for i in range(len(caps)):
        for j in range(i + 1, len(caps)):
            if tree_distance(caps[i]["link"], caps[j]["link"]) <= 2:
                continue
            gap = _segment_distance(*ends[i], *ends[j]) - caps[i]["radius"] - caps[j]["radius"]
            if gap <= 0.0:
                overlapping.append((caps[i]["name"], caps[j]["name"]))
                continue
            pairs.append([i, j])
    rule = ("all capsule pairs on different links, except links at most two joints apart in the kinematic tree "
            "(parent-child, grandparent-grandchild) and pairs already overlapping at q = 0")
    if overlapping:
        print(f"excluded (overlap at q = 0): {overlapping}")
    return {"capsules": caps, "self_collision_pairs": pairs, "pair_rule": rule}


def _dump(data: dict, header: str) -> str:
    return header + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="exit 1 if an output would change; write nothing")
    args = parser.parse_args(argv)
    model = hand_model()
    meshes = link_meshes(model, VISUAL_GROUP)
    palm_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, PALM)
    links = [PALM]
    for b in range(palm_id + 1, model.nbody):
        if model.body(int(model.body_parentid[b])).name in links:
            links.append(model.body(b).name)
    links = tuple(links)

    header = "# Generated by scripts/generate_hand_assets.py from right_hand.xml; do not edit by hand.\n"
    cands = make_candidates(meshes)
    cand_text = _dump({"frame": "link body frame (MJCF), metres; normal = outward unit skin normal",
                       "candidates": cands}, header)
    caps = make_capsules(model, links, meshes)
    caps_text = _dump({"frame": "link body frame (MJCF), metres; a == b is a sphere", **caps}, header)
    surface = make_surface_points(meshes, links, args.seed)
    outputs = {"contact_candidates.yaml": cand_text, "collision_capsules.yaml": caps_text}
    if args.check:
        changed = [n for n, t in outputs.items() if not (OUT_DIR / n).is_file() or (OUT_DIR / n).read_text() != t]
        npz = OUT_DIR / "surface_points.npz"
        if not npz.is_file():
            changed.append(npz.name)
        else:
            with np.load(npz) as old:
                if set(old.files) != set(surface) or not all(np.array_equal(old[k], surface[k]) for k in surface):
                    changed.append(npz.name)
        print("changed: " + ", ".join(changed) if changed else "up to date")
        return 1 if changed else 0
    for name, text in outputs.items():
        atomic_write_text(OUT_DIR / name, text)

    def write_npz(path: Path) -> None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **surface)
        path.write_bytes(buf.getvalue())

    atomic_write(OUT_DIR / "surface_points.npz", write_npz)
    for name in (*outputs, "surface_points.npz"):
        os.chmod(OUT_DIR / name, 0o644)  # atomic_write's temp file is 0600; package data must be world-readable
    counts = {str(n): int((surface["link_index"] == i).sum()) for i, n in enumerate(surface["links"])}
    print(f"contact candidates: {len(cands)}")
    print(f"surface points: {len(surface['points'])} ({counts})")
    print(f"capsules: {len(caps['capsules'])}, self-collision pairs: {len(caps['self_collision_pairs'])}")
    print(f"wrote {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
