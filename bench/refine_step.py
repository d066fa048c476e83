"""Cost of one refinement step: the planner's energy (GraspLoss on the SDF grid) forward + backward, per term.

Usage: ``.venv/bin/python bench/refine_step.py [--object NAME] [--batch 64] [--repeats 10] [--threads 1]``.
Candidates come from the planner's own initialisation on a val object of ../shared/objects (a 4 cm box if absent).
Rows: the whole energy, the two penetration terms in their sparse form (what the planner runs) and as dense
autograd sums (their references), generalized Q1; milliseconds per batch and per candidate (median of the repeats).
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import numpy as np
import torch
import trimesh
from losses import timeit  # bench/losses.py (this folder is on sys.path when run as a script)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "objects"


def main(argv: list[str] | None = None) -> int:
    from diffgrasp.geometry import ObjectModel
    from diffgrasp.hand import JointCoupling, ShadowHand
    from diffgrasp.losses import generalized_q1
    from diffgrasp.losses.penetration import (
        dense_object_in_hand_penetration,
        hand_in_object_penetration,
        object_in_hand_penetration,
        sparse_hand_in_object_penetration,
    )
    from diffgrasp.planning import PlannerConfig
    from diffgrasp.planning.canonical_frame import canonical_transform
    from diffgrasp.planning.energy import diffgrasp_energy
    from diffgrasp.planning.fast_object import GridObject, SurfaceSubsetHand
    from diffgrasp.planning.initialization import initial_candidates

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--object", default="072-b_toy_airplane")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    path = SHARED / f"{args.object}.obj"
    mesh = trimesh.load(path, force="mesh") if path.is_file() else trimesh.creation.box(extents=(0.04,) * 3)
    mesh.apply_transform(canonical_transform(mesh))
    obj = ObjectModel(mesh, name=args.object)
    cfg = PlannerConfig()
    hand = ShadowHand(dtype=torch.float32)
    coupling = JointCoupling(cfg.coupling_ratio)
    torch.manual_seed(0)
    pos, rot, u = initial_candidates(obj.mesh, args.batch, coupling, cfg.init_config, np.random.default_rng(0),
                                     hand.dtype, hand.device)
    grid = GridObject(obj, cfg.sdf_voxel_m)
    energy = diffgrasp_energy(hand, obj, grid, coupling, cfg)
    loss_cfg = cfg.loss
    object_points = torch.as_tensor(obj.surface_samples(loss_cfg.object_samples, seed=loss_cfg.seed),
                                    dtype=torch.float32)
    skin = SurfaceSubsetHand(hand, cfg.surface_stride)
    pos, rot, u = (t.detach().requires_grad_(True) for t in (pos, rot, u))

    def backward(total: torch.Tensor) -> None:
        total.sum().backward()

    def capsules():
        a, b, radius = hand.collision_capsules(pos, rot, coupling.expand(u))
        return a, b, radius.to(a.dtype)

    def contacts():
        points, _ = hand.contact_candidates(pos, rot, coupling.expand(u))
        d, n = grid.signed_distance(points)
        return points, -n, d

    rows = {
        "energy (all terms)": lambda: backward(energy(pos, rot, u)[0]),
        "object in hand, sparse": lambda: backward(object_in_hand_penetration(object_points, *capsules())),
        "object in hand, dense (reference)": lambda: backward(dense_object_in_hand_penetration(object_points,
                                                                                              *capsules())),
        "hand in object, sparse": lambda: backward(sparse_hand_in_object_penetration(
            skin.surface_points(pos, rot, coupling.expand(u)), grid.grid)),
        "hand in object, dense (reference)": lambda: backward(hand_in_object_penetration(
            grid.signed_distance(skin.surface_points(pos, rot, coupling.expand(u)))[0])),
        "generalized Q1": lambda: backward(generalized_q1(
            *contacts(), mu=loss_cfg.mu, alpha=loss_cfg.alpha, torque_scale=obj.characteristic_length,
            center=torch.as_tensor(obj.center_of_mass, dtype=torch.float32), num_directions=loss_cfg.num_directions,
            refine_top=loss_cfg.refine_top, refine_steps=loss_cfg.refine_steps)),
    }
    print(f"# refine step: {args.object}, batch {args.batch}, forward + backward, median of {args.repeats}; "
          f"torch {torch.__version__}, {args.threads} thread(s), {platform.machine()}")
    print(f"{'row':36s} {'ms/batch':>9s} {'ms/cand':>8s}")
    for name, fn in rows.items():
        ms = 1000 * timeit(fn, args.repeats)[0]
        print(f"{name:36s} {ms:9.1f} {ms / args.batch:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
