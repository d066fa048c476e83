"""``diffgrasp render-hand``: picture of the Shadow hand with its contact candidates and outward normals (PNG)."""

from __future__ import annotations

import argparse
import os

from diffgrasp.cli.args import check_output_file, int_range

HELP = "render the Shadow hand with its contact candidates and normals to a PNG (MuJoCo offscreen)"
DEFAULT_OUTPUT = "outputs/hand_contacts.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help=f"PNG path (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--joints", default="open", choices=("open", "grasp"),
                        help="hand shape: open (all joints 0) or grasp (fingers and thumb closed around an object)")
    parser.add_argument("--size", type=int_range(64, 2048), default=640,
                        help="pixels per view (4 views, 2 x 2; default 640)")


def run(args: argparse.Namespace) -> int:
    check_output_file(args.output, "-o", (".png",))
    os.environ.setdefault("MUJOCO_GL", "egl")
    from diffgrasp.hand.render import save_hand_png  # mujoco, torch: loaded when the command runs (start-up of --help)

    path = save_hand_png(args.output, joints=args.joints, size=args.size)
    print(path.resolve())
    return 0
