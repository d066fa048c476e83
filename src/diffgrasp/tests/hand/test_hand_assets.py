"""Generated hand assets: contact candidates (outward normals), surface samples, collision capsules and pairs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from diffgrasp.hand import ShadowHand
from diffgrasp.hand.assets import (
    forearm_collision_points,
    hand_model,
    link_meshes,
    load_collision_capsules,
    load_contact_candidates,
    load_surface_points,
)

REPO = Path(__file__).resolve().parents[4]
STEP = 0.002  # m, probe distance along the normal


@pytest.fixture(scope="module")
def meshes() -> dict[str, trimesh.Trimesh]:
    return link_meshes()


@pytest.fixture(scope="module")
def hand() -> ShadowHand:
    return ShadowHand(dtype=torch.float64)


def _first_hit_distance(mesh: trimesh.Trimesh, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    locs, idx, _ = mesh.ray.intersects_location(origins, dirs, multiple_hits=True)
    out = np.full(len(origins), np.inf)
    for loc, i in zip(locs, idx, strict=True):
        out[i] = min(out[i], float(np.dot(loc - origins[i], dirs[i])))
    return out


def _distance(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """Unsigned distance (m), computed in millimetres: trimesh's closest point loses accuracy on sub-mm² triangles."""
    mm = trimesh.Trimesh(mesh.vertices * 1000.0, mesh.faces, process=False)
    return trimesh.proximity.closest_point(mm, np.asarray(points) * 1000.0)[1] / 1000.0


def test_candidate_count_and_layout() -> None:
    cc = load_contact_candidates()
    assert 40 <= len(cc.names) <= 50
    assert len(set(cc.names)) == len(cc.names)
    np.testing.assert_allclose(np.linalg.norm(cc.normals, axis=1), 1.0, atol=1e-8)
    for digit in ("ff", "mf", "rf", "lf", "th"):
        on = {n: sum(1 for c in cc.links if c == f"rh_{digit}{n}") for n in ("proximal", "middle", "distal")}
        assert on["distal"] >= 3 and on["distal"] > on["middle"] >= 2 and on["proximal"] >= 2  # denser at the tip
    assert sum(1 for c in cc.links if c in ("rh_palm", "rh_lfmetacarpal")) >= 8


def test_candidate_normals_point_out_of_the_skin(meshes: dict[str, trimesh.Trimesh]) -> None:
    """p + 2 mm·n is outside (nothing of the link further out, the skin 2 mm back); p − 2 mm·n is under the skin."""
    cc = load_contact_candidates()
    for link in sorted(set(cc.links)):
        sel = [i for i, c in enumerate(cc.links) if c == link]
        p, n = cc.positions[sel], cc.normals[sel]
        mesh = meshes[link]
        outside = p + STEP * n
        assert np.isinf(_first_hit_distance(mesh, outside, n)).all(), f"{link}: mesh beyond p + 2 mm n"
        back = _first_hit_distance(mesh, outside, -n)
        np.testing.assert_allclose(back, STEP, atol=3e-4, err_msg=f"{link}: skin not 2 mm behind p + 2 mm n")
        inside = p - STEP * n
        up = _first_hit_distance(mesh, inside, n)
        assert (up < STEP + 3e-4).all(), f"{link}: p - 2 mm n is not under the skin"
        if mesh.is_watertight:
            assert not mesh.contains(outside).any() and mesh.contains(inside).all(), link
        # unsigned distance to the mesh: the outer probe is ~2 mm away, the point itself on the surface
        dist = _distance(mesh, np.concatenate([p, outside]))
        assert dist[:len(sel)].max() < 1e-6 and dist[len(sel):].min() > 1e-3


def test_candidate_normals_face_the_palmar_side(hand: ShadowHand) -> None:
    """At q = 0: palm and finger normals point to −y of the palm; the thumb's away from the palm's thumb edge."""
    pos, rot = torch.zeros(1, 3, dtype=torch.float64), torch.eye(3, dtype=torch.float64)[None]
    _, n = hand.contact_candidates(pos, rot, torch.zeros(1, 22, dtype=torch.float64))
    for i, name in enumerate(hand.contact_names):
        if name.startswith("th"):
            continue
        assert -n[0, i, 1].item() > 0.5, f"{name}: normal {n[0, i].tolist()} not palmar"
    # pinch: with the thumb opposed, its pad normals point at the index/middle fingertips
    q = torch.zeros(1, 22, dtype=torch.float64)
    for joint, value in {"rh_THJ5": 0.3, "rh_THJ4": 1.0, "rh_THJ3": -0.2}.items():
        q[0, hand.finger_joint_names.index(joint)] = value
    for f in ("FF", "MF"):
        for j, value in ((3, 0.75), (2, 0.65), (1, 0.55)):
            q[0, hand.finger_joint_names.index(f"rh_{f}J{j}")] = value
    p, n = hand.contact_candidates(pos, rot, q)
    names = hand.contact_names
    tips = p[0, [names.index("ffdistal_0"), names.index("mfdistal_0")]].mean(0)
    for name, least in (("thdistal_0", 0.8), ("thdistal_1", 0.8), ("thmiddle_0", 0.6), ("thproximal_1", 0.4)):
        d = tips - p[0, names.index(name)]
        assert (n[0, names.index(name)] @ d / d.norm()).item() > least, name


def test_surface_points_on_meshes(meshes: dict[str, trimesh.Trimesh], hand: ShadowHand) -> None:
    sp = load_surface_points()
    assert set(sp.links) <= set(hand.palm_link_names)
    counts = np.bincount(sp.link_index, minlength=len(sp.links))
    assert counts.min() >= 64 and 3000 <= counts.sum() <= 8000
    assert hand.num_surface_points == counts.sum()
    for k, link in enumerate(sp.links):
        pts = sp.points[sp.link_index == k]
        assert _distance(meshes[link], pts).max() < 1e-6, link
        # spread: no two samples closer than 0.3 mm (farthest-point thinning), and they cover the mesh extent
        d = np.linalg.norm(pts[:, None] - pts[None], axis=-1) + np.eye(len(pts))
        assert d.min() > 3e-4, link
        extent = meshes[link].bounds[1] - meshes[link].bounds[0]
        assert (pts.max(0) - pts.min(0) > 0.8 * extent).all(), link


def _segment_distance(p1: torch.Tensor, q1: torch.Tensor, p2: torch.Tensor, q2: torch.Tensor) -> torch.Tensor:
    """Slow reference: (M, 3) segment pairs → (M,) distance by dense sampling of both segments."""
    s = torch.linspace(0, 1, 101, dtype=p1.dtype)
    a = p1[:, None] + s[None, :, None] * (q1 - p1)[:, None]
    b = p2[:, None] + s[None, :, None] * (q2 - p2)[:, None]
    return torch.cdist(a, b).amin(dim=(1, 2))


def test_capsules_and_self_collision_pairs(hand: ShadowHand) -> None:
    caps = load_collision_capsules()
    k = len(caps.names)
    assert k == hand.num_capsules and 30 <= k <= 60
    assert (caps.radius >= 0.002).all() and (caps.radius < 0.02).all()
    model = hand_model()
    parent = {model.body(b).name: model.body(int(model.body_parentid[b])).name for b in range(model.nbody)}

    def near(x: str, y: str) -> bool:  # at most two joints apart
        return x == y or parent[x] == y or parent[y] == x or parent[parent[x]] == y or parent[parent[y]] == x \
            or parent[x] == parent[y]

    pairs = hand.self_collision_pairs
    assert pairs.dtype == torch.long and pairs.shape[1] == 2 and len(pairs) > 100
    assert len({tuple(p) for p in pairs.tolist()}) == len(pairs)
    for i, j in pairs.tolist():
        assert i < j and not near(caps.links[i], caps.links[j]), (caps.names[i], caps.names[j])
    # every far pair is listed unless it overlaps at q = 0 (none do), and none of the listed pairs overlaps at q = 0
    far = [(i, j) for i in range(k) for j in range(i + 1, k) if not near(caps.links[i], caps.links[j])]
    assert {tuple(p) for p in pairs.tolist()} == set(far)
    pos, rot = torch.zeros(1, 3, dtype=torch.float64), torch.eye(3, dtype=torch.float64)[None]
    a, b, r = hand.collision_capsules(pos, rot, torch.zeros(1, 22, dtype=torch.float64))
    i, j = pairs[:, 0], pairs[:, 1]
    gap = _segment_distance(a[0, i], b[0, i], a[0, j], b[0, j]) - r[i] - r[j]
    assert gap.min().item() > 0.0
    # a closed fist makes neighbouring fingertips or finger/palm capsules come close: real pairs exist
    fist = hand.lower[2:] + 0.95 * (hand.upper - hand.lower)[2:]
    a, b, r = hand.collision_capsules(pos, rot, fist[None])
    gap = _segment_distance(a[0, i], b[0, i], a[0, j], b[0, j]) - r[i] - r[j]
    assert gap.min().item() < 0.0


def test_generator_outputs_up_to_date() -> None:
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "generate_hand_assets.py"), "--check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_forearm_hull_points_follow_the_mujoco_forearm_geoms():
    import mujoco

    model = hand_model()
    data = mujoco.MjData(model)
    data.qpos[:] = 0.0  # the wrist at 0, as the planner assumes
    mujoco.mj_forward(model, data)
    hand = ShadowHand(dtype=torch.float64)

    def pose(body: str) -> tuple[np.ndarray, np.ndarray]:
        b = model.body(body).id
        return data.xmat[b].reshape(3, 3), data.xpos[b]

    palm_rot, palm_pos = pose("rh_palm")
    ours = hand.forearm_hull_points(torch.as_tensor(palm_pos)[None], torch.as_tensor(palm_rot)[None])[0].numpy()
    fore_rot, fore_pos = pose("rh_forearm")
    assert np.allclose(ours, forearm_collision_points() @ fore_rot.T + fore_pos, atol=1e-12)
    # Every vertex of the forearm's collision mesh lies in the hull of ours.
    forearm = model.body("rh_forearm").id
    hull = trimesh.convex.convex_hull(ours)
    for g in range(model.ngeom):
        if model.geom_bodyid[g] == forearm and model.geom_group[g] == 3 and model.geom_type[g] == 7:
            mid = model.geom_dataid[g]
            v = model.mesh_vert[model.mesh_vertadr[mid]:model.mesh_vertadr[mid] + model.mesh_vertnum[mid]]
            rot = data.geom_xmat[g].reshape(3, 3)
            world = v @ rot.T + data.geom_xpos[g]
            assert (hull.nearest.signed_distance(world) > -1e-6).all()
    assert hull.volume > 0.15 * 0.14 * 0.15  # the 15 x 15 x 18 cm housing
    skin = hand.surface_points(torch.as_tensor(palm_pos)[None], torch.as_tensor(palm_rot)[None],
                               torch.zeros(1, 22, dtype=torch.float64))[0].numpy()
    # The planner's skin starts at the palm: the housing reaches ~25 cm behind it, the skin does not.
    behind = -palm_rot[:, 2]
    assert ((ours - palm_pos) @ behind).max() > 0.2 > 0.1 > ((skin - palm_pos) @ behind).max()
