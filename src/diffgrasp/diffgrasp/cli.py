"""Command line entry point ``diffgrasp`` (design notes §5).

Each subcommand lives in its own module exposing ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``;
modules are imported only when their command runs (``--help`` imports them all). Bad input exits with status 2 and a
one-line reason.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

# MuJoCo picks its GL backend at import; headless machines need EGL (set before any module imports mujoco).
os.environ.setdefault("MUJOCO_GL", "egl")

COMMANDS: dict[str, str] = {
    "plan": "diffgrasp.planning.cli",
    "evaluate": "diffgrasp.sim.evaluate_cli",
    "export": "diffgrasp.sim.export_cli",
    "capture": "diffgrasp.perception.capture_cli",
    "fuse": "diffgrasp.perception.fuse_cli",
    "demo": "diffgrasp.demo_cli",
    "render-hand": "diffgrasp.hand.render_cli",
    "ros-sim": "diffgrasp_ros.ros_sim_cli",  # only where diffgrasp_ros and rclpy are installed
}


def _available() -> dict[str, str]:
    out = {}
    for name, module in COMMANDS.items():
        try:
            if importlib.util.find_spec(module) is not None:
                out[name] = module
        except ModuleNotFoundError:
            continue
    return out


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffgrasp", description="Differentiable grasp planning for the Shadow hand.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in _available().items():
        if only is not None and name != only:
            sub.add_parser(name)
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        return int(args._module.run(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"diffgrasp {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"diffgrasp {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
