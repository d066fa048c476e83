"""``diffgrasp ros-sim``: start the whole ROS 2 graph here (see ``diffgrasp_ros.ros_sim``); runs until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from diffgrasp.cli.args import existing_file, int_range, non_negative_int

HELP = "start the ROS 2 graph with simulated cameras and MuJoCo execution, serving the grasp_object action"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--object", type=existing_file, default=None,
                        help="watertight object mesh, metres (default: the demo's bundled 057_racquetball)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="camera noise, planner and IK seed (default 0)")
    parser.add_argument("--domain-id", type=int_range(0, 101), default=None,
                        help="ROS_DOMAIN_ID for the graph, 0-101 (default: $ROS_DOMAIN_ID or 0)")
    parser.add_argument("--fast", action="store_true", help="the demo's coarse planner settings")


def run(args: argparse.Namespace) -> int:
    # heavy (torch, MuJoCo, Open3D, rclpy and every node): `diffgrasp --help` imports this module
    from diffgrasp.demo import default_object_path

    obj = args.object or default_object_path()
    if not Path(obj).is_file():
        raise FileNotFoundError(f"--object: no such file: {obj}")
    from diffgrasp_ros.ros_sim import SimOptions
    from diffgrasp_ros.ros_sim import run as run_graph

    domain = args.domain_id if args.domain_id is not None else int(os.environ.get("ROS_DOMAIN_ID", "0") or 0)

    def ready() -> None:
        print(f"diffgrasp ros-sim: ready on ROS_DOMAIN_ID={domain}; serving /grasp_object (Ctrl-C to stop)",
              flush=True)

    run_graph(SimOptions(str(obj), args.seed, fast=args.fast), domain_id=domain, ready=ready)
    print("diffgrasp ros-sim: stopped", file=sys.stderr)
    return 0


__all__ = ["HELP", "add_arguments", "run"]
