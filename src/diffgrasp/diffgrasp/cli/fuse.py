"""``diffgrasp fuse``: a capture directory → watertight object mesh (world frame) + point cloud + frame JSON."""

from __future__ import annotations

import argparse
import dataclasses
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from diffgrasp.cli.args import check_output_file, existing_file, load_config_arg, positive_float
from diffgrasp.errors import DiffgraspError, DiffgraspWarning
from diffgrasp.io import atomic_write, atomic_write_json, output_lock
from diffgrasp.loading import confined_path

if TYPE_CHECKING:  # open3d and the fusion stack load only when the command runs
    from diffgrasp.perception.capture import Capture
    from diffgrasp.perception.fusion import FusionConfig, FusionResult

MESH_SUFFIXES = (".obj", ".ply", ".stl")
HELP = "fuse a capture directory into a watertight object mesh (world frame), its point cloud and object frame"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("capture", help="capture directory (capture.json)")
    p.add_argument("-o", "--output", required=True, help="mesh file to write (.obj/.ply/.stl), world frame")
    p.add_argument("--voxel", type=positive_float, default=None,
                   help="TSDF voxel size in m (default from the config: 0.002)")
    p.add_argument("--config", type=existing_file, help="fusion YAML (config/fusion.yaml)")
    p.add_argument("--truth", type=existing_file, help="true object mesh (object frame) to compare with; default: the "
                   "capture's own copy (object_mesh in capture.json, inside the capture folder), if any")


def _truth_mesh(args: argparse.Namespace, metadata: dict) -> Path | None:
    """--truth, else capture.json's object_mesh confined to the capture folder (a path read from a file never leads
    out of it: one outside is ignored with a warning)."""
    if args.truth is not None:
        return Path(args.truth)
    value = metadata.get("object_mesh")
    if not value:
        return None
    try:
        path = confined_path(args.capture, value, Path(args.capture) / "capture.json", "object_mesh")
    except DiffgraspError as err:
        warnings.warn(f"{err}; no comparison with the true mesh (give it with --truth)", DiffgraspWarning, stacklevel=2)
        return None
    return path if path.is_file() else None


def run(args: argparse.Namespace) -> int:
    # open3d, torch: loaded when `fuse` runs, not when this module is imported (start-up of `diffgrasp --help`)
    from diffgrasp.perception.capture import read_capture
    from diffgrasp.perception.fusion import FusionConfig, fuse

    # The outputs (mesh, its _points.ply and _fusion.json beside it) are checked before fusing.
    out = check_output_file(args.output, "-o", MESH_SUFFIXES)
    for extra in (out.with_name(out.stem + "_points.ply"), out.with_name(out.stem + "_fusion.json")):
        check_output_file(extra, f"-o {out} writes", ())
    cfg = load_config_arg(FusionConfig, args.config, {"voxel_size": args.voxel})
    if cfg.voxel_size <= 0:
        raise ValueError(f"--config {args.config}: voxel_size must be > 0, got {cfg.voxel_size}")
    with output_lock(out):  # a second writer of the same mesh fails with one line instead of racing
        capture = read_capture(args.capture)
        result = fuse(capture, cfg)
        _write_outputs(args, out, capture, result, cfg)
    return 0


def _write_outputs(args: argparse.Namespace, out: Path, capture: Capture, result: FusionResult,
                   cfg: FusionConfig) -> None:
    """The mesh, its point cloud and the _fusion.json record, each written atomically."""
    # numpy, trimesh, torch: loaded when `fuse` runs, not when this module is imported (start-up of `diffgrasp --help`)
    import numpy as np
    import trimesh

    from diffgrasp.perception.capture import pose_to_json

    atomic_write(out, lambda p: result.mesh.export(p))
    points_path = out.with_name(out.stem + "_points.ply")
    cloud = trimesh.PointCloud(result.points)
    atomic_write(points_path, lambda p: cloud.export(p))
    info = {"format": "diffgrasp.fusion/1", "mesh": out.name, "points": points_path.name, "frame": "world",
            "capture": str(args.capture), "object_to_world": pose_to_json(result.object_to_world),
            "table_plane": [float(x) for x in result.table_plane], "watertight": bool(result.mesh.is_watertight),
            "faces": len(result.mesh.faces), "volume_m3": float(result.mesh.volume), "num_points": len(result.points),
            "timings_s": result.timings, "config": dataclasses.asdict(cfg)}
    truth = _truth_mesh(args, capture.metadata)
    if truth is not None and "object_pose_world" in capture.metadata:  # torch, only with a true mesh
        from diffgrasp.geometry.mesh_validation import load_mesh_file
        from diffgrasp.perception.evaluate import chamfer, fused_mesh_in_object_frame

        ch = chamfer(fused_mesh_in_object_frame(result, capture.metadata["object_pose_world"]),
                     load_mesh_file(truth))
        info["chamfer_vs_true_m"] = ch
        info["object_pose_world"] = capture.metadata["object_pose_world"]
    atomic_write_json(out.with_name(out.stem + "_fusion.json"), info)
    msg = (f"wrote {out} ({len(result.mesh.faces)} faces, watertight, {np.round(result.timings['total'], 3)} s), "
           f"{points_path.name} ({len(result.points)} points)")
    if "chamfer_vs_true_m" in info:
        msg += f"; chamfer vs true mesh {info['chamfer_vs_true_m']['mean'] * 1000:.2f} mm mean"
    print(msg)
