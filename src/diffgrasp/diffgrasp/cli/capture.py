"""``diffgrasp capture``: real cameras, a recording, or a simulated rig → a capture directory."""

from __future__ import annotations

import argparse
import shutil
import warnings
from pathlib import Path

import numpy as np
from tqdm import tqdm

from diffgrasp.cli.args import (
    check_output_dir,
    check_output_file,
    existing_file,
    load_config_arg,
    non_negative_int,
    positive_int,
)
from diffgrasp.geometry.mesh_validation import load_object_mesh
from diffgrasp.io import atomic_write, output_lock
from diffgrasp.perception.capture import Capture, write_capture
from diffgrasp.perception.noise import DepthNoiseConfig
from diffgrasp.perception.realsense import capture_frames
from diffgrasp.perception.rig import load_rig
from diffgrasp.perception.simulate import ring_rig, simulate_capture

HELP = "capture calibrated multi-view depth (RealSense devices, a .db3 replay, or a simulated rig) to a directory"
DEFAULT_SIM_CAMERAS = Path("config/cameras_sim.yaml")
TRUTH_MESH = Path("object_truth.obj")  # --simulate: the true mesh, copied into the capture (suffix kept)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="capture directory to write")
    p.add_argument("--cameras", type=existing_file,
                   help="rig YAML (config/cameras.yaml; for --simulate default config/cameras_sim.yaml)")
    p.add_argument("--camera", action="append", help="use only this camera (repeatable)")
    p.add_argument("--frames", type=positive_int, default=1,
                   help="framesets to grab; N > 1 also writes each under frames/ and the top-level capture holds "
                   "their per-pixel median")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--record", help="also record live streams to FILE.db3 (one file per camera)")
    src.add_argument("--replay", nargs="+", metavar="FILE", type=existing_file,
                     help="read .db3/.bag recording(s), one per camera")
    src.add_argument("--simulate", metavar="OBJECT", type=existing_file,
                     help="render a simulated rig looking at this mesh (metres)")
    p.add_argument("--repair", action="store_true", help="--simulate: fill holes and fix winding of the mesh first")
    p.add_argument("--noise", choices=("realsense", "none"), default="realsense", help="simulated depth noise")
    p.add_argument("--noise-config", type=existing_file,
                   help="--simulate: DepthNoiseConfig YAML (default: built-in = config/depth_noise.yaml)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="noise seed (simulation)")
    p.add_argument("--depth-format", choices=("png", "npy"), default="png",
                   help="png: 16-bit millimetres (like the camera); npy: float32 metres")


def median_capture(captures: list[Capture]) -> Capture:
    """Per-pixel median over framesets (pixels valid in more than half of them), stamps of the first."""
    if len(captures) == 1:
        return captures[0]
    stack = np.stack([c.depth for c in captures])                      # (N, V, H, W)
    valid = np.isfinite(stack).sum(0) * 2 > len(captures)
    with np.errstate(all="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(stack, axis=0)
    med[~valid] = np.nan
    c0 = captures[0]
    return Capture(c0.names, med, c0.intrinsics, c0.camera_to_world, c0.stamps, c0.color, c0.serials,
                   {**c0.metadata, "frames_combined": len(captures)})


def run(args: argparse.Namespace) -> int:
    # Outputs and inputs are checked before any camera is opened or rendered.
    out = check_output_dir(args.output, "-o")
    if args.record:
        check_output_file(args.record, "--record", (".db3",))
    with output_lock(out):  # a second writer of the same capture folder fails with one line instead of mixing views
        return _capture(args, out)


def _capture(args: argparse.Namespace, out: Path) -> int:
    """Grab (or simulate, or replay) the framesets and write the capture folder ``out``."""
    mesh = None
    if args.simulate:  # the mesh is loaded once and validated as `plan` does before anything is rendered
        mesh = load_object_mesh(args.simulate, repair=args.repair)
        cams = args.cameras or (DEFAULT_SIM_CAMERAS if DEFAULT_SIM_CAMERAS.is_file() else None)
        rig = load_rig(cams, args.camera) if cams else ring_rig(4).select(args.camera)
        noise_config = load_config_arg(DepthNoiseConfig, args.noise_config, flag="--noise-config")
        captures = [simulate_capture(mesh, rig, noise=args.noise, seed=args.seed + 1000 * k, noise_config=noise_config)
                    for k in tqdm(range(args.frames), desc="simulate", disable=args.frames == 1)]
    else:
        if not args.cameras:
            raise ValueError("--cameras is required for device capture and replay (extrinsics come from it)")
        rig = load_rig(args.cameras, args.camera)
        with tqdm(total=args.frames, desc="capture") as bar:
            captures = capture_frames(rig, args.frames, record=args.record, replay=args.replay, progress=bar.update)
    if len(captures) > 1:
        for k, c in enumerate(captures):
            write_capture(out / "frames" / f"{k:04d}", c, depth_format=args.depth_format)
    meta = {"cameras_config": str(args.cameras or ""), "replay": [str(p) for p in args.replay or []],
            "record": args.record or ""}
    if args.simulate:  # a copy of the true mesh inside the capture, so that `fuse` can compare without leaving it
        truth = TRUTH_MESH.with_suffix(Path(args.simulate).suffix.lower())
        if args.repair:  # the repaired mesh is the one the cameras saw
            truth = TRUTH_MESH
            atomic_write(out / truth, lambda p: mesh.export(p, file_type="obj"))
        else:
            atomic_write(out / truth, lambda p: shutil.copyfile(args.simulate, p))
        meta["object_mesh"] = str(truth)
    path = write_capture(out, median_capture(captures), meta, depth_format=args.depth_format)
    valid = [float(np.isfinite(d).mean()) for d in captures[0].depth]
    print(f"wrote {path} ({len(captures[0].names)} cameras, {len(captures)} frameset(s), valid pixels "
          + ", ".join(f"{n} {v:.0%}" for n, v in zip(captures[0].names, valid, strict=True)) + ")")
    return 0
