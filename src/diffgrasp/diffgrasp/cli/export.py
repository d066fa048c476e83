"""``diffgrasp export GRASPS.json --format dexgraspbench -o out.npy|out.json``.

DexGraspBench's 29-number qpos per grasp (design notes §4): root = rh_palm moved 0.034 m along −z of the palm frame
(position 3), root quaternion wxyz (4), the 22 finger joints in canonical order. Written for the grasp joints and,
in the JSON form, also for the pregrasp and squeeze (resolved with the §7 defaults where a grasp lacks them).
``.npy``: a (G, 29) float64 array of the grasp qpos. ``.json``: {"layout", "object", "grasps": [{"grasp_qpos",
"pregrasp_qpos", "squeeze_qpos"}]}.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from diffgrasp.cli.args import check_output_file, existing_file
from diffgrasp.errors import DiffgraspError
from diffgrasp.io import atomic_write, atomic_write_json, output_lock

HELP = "export grasps to another tool's layout (DexGraspBench qpos)"
FORMATS = ("dexgraspbench",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("grasps", type=existing_file, help="grasp file (diffgrasp.grasps/1 JSON)")
    parser.add_argument("--format", default="dexgraspbench", choices=FORMATS, help="target layout")
    parser.add_argument("-o", "--output", required=True, help="out.npy (grasp qpos, (G, 29)) or out.json (all phases)")


def dexgraspbench_arrays(grasp_set) -> dict[str, np.ndarray]:
    """(G, 29) qpos arrays for the grasp, pregrasp and squeeze of every grasp (defaults filled per §7)."""
    # torch, mujoco: loaded when `export` runs, not when this module is imported (start-up of `export --help`)
    from diffgrasp.grasps import resolved_phases, to_dexgraspbench_qpos

    out: dict[str, list[np.ndarray]] = {"grasp_qpos": [], "pregrasp_qpos": [], "squeeze_qpos": []}
    for g in grasp_set.grasps:
        ph = resolved_phases(g)
        pre = dataclasses.replace(g, palm_position=np.asarray(ph["pregrasp_palm_position"]),
                                  palm_quaternion_xyzw=np.asarray(ph["pregrasp_palm_quaternion_xyzw"]),
                                  joints=ph["pregrasp_joints"])
        squeeze = dataclasses.replace(g, joints=ph["squeeze_joints"])
        out["grasp_qpos"].append(to_dexgraspbench_qpos(g))
        out["pregrasp_qpos"].append(to_dexgraspbench_qpos(pre))
        out["squeeze_qpos"].append(to_dexgraspbench_qpos(squeeze))
    return {k: np.array(v, dtype=float).reshape(-1, 29) for k, v in out.items()}


def run(args: argparse.Namespace) -> int:
    from diffgrasp.grasps import load_grasps  # torch, mujoco: loaded when `export` runs (start-up of `export --help`)

    out = check_output_file(args.output, "-o", (".npy", ".json"))
    grasp_set = load_grasps(args.grasps)
    if not grasp_set.grasps:
        raise DiffgraspError(f"{args.grasps}: no grasps to export ({out} not written)")
    arrays = dexgraspbench_arrays(grasp_set)
    with output_lock(out):  # a second writer of the same file fails with one line instead of racing
        if out.suffix.lower() == ".npy":
            def write(p: Path) -> None:
                with open(p, "wb") as fh:
                    np.save(fh, arrays["grasp_qpos"])
            atomic_write(out, write)
        else:  # .json
            atomic_write_json(out, {
                "layout": "dexgraspbench qpos: root xyz (rh_palm − 0.034 m along palm z), root quat wxyz, 22 joints",
                "object": {"name": grasp_set.object_name, "mesh": grasp_set.mesh, "scale": grasp_set.scale},
                "grasps": [{k: arrays[k][i].tolist() for k in arrays} for i in range(len(grasp_set.grasps))]})
    print(f"exported {len(grasp_set.grasps)} grasps ({args.format}) to {out}")
    return 0
