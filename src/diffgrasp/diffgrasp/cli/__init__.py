"""Command line entry point ``diffgrasp`` (design notes §5).

Each subcommand lives in its own module (``diffgrasp.cli.<command>``; see COMMANDS) exposing ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; modules are imported only when their command runs (``--help``
imports them all). Bad input (usage errors, bad files, unwritable outputs; checked before any work) exits with status
2 and one line ``diffgrasp CMD: error: …`` on stderr; any other exception is one ``internal error`` line, exit status
1, with the traceback behind ``--debug`` (see :mod:`diffgrasp.cli.args`).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys

from diffgrasp.cli.args import OneLineArgumentParser, run_reported

# MuJoCo picks its GL backend at import; headless machines need EGL (set before any module imports mujoco).
os.environ.setdefault("MUJOCO_GL", "egl")

COMMANDS: dict[str, str] = {
    "plan": "diffgrasp.cli.plan",
    "evaluate": "diffgrasp.cli.evaluate",
    "export": "diffgrasp.cli.export",
    "capture": "diffgrasp.cli.capture",
    "fuse": "diffgrasp.cli.fuse",
    "demo": "diffgrasp.cli.demo",
    "render-hand": "diffgrasp.cli.render_hand",
    "ros-sim": "diffgrasp_ros.ros_sim_cli",  # only where diffgrasp_ros and rclpy are installed
}


# Top-level packages a command needs besides diffgrasp itself (located, not imported: see _available).
REQUIRES: dict[str, tuple[str, ...]] = {"ros-sim": ("diffgrasp_ros", "rclpy")}


def _available() -> dict[str, str]:
    """The commands whose packages are installed. Only top-level packages are located: ``find_spec`` of a submodule
    would import its parents (torch, mujoco, open3d: seconds of start-up for every command)."""
    return {name: module for name, module in COMMANDS.items()
            if all(importlib.util.find_spec(top) is not None for top in REQUIRES.get(name, ()))}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog="diffgrasp", description="Differentiable grasp planning for the Shadow hand.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in _available().items():
        if only is not None and name != only:
            sub.add_parser(name)
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of errors")
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None, whole_process: bool = False) -> int:
    """Run ``diffgrasp`` with ``argv`` (default ``sys.argv[1:]``) → exit status (0 ok, 1 failure, 2 bad input).
    ``whole_process``: this process was started for this command (the console script), so a ``--time-budget`` counts
    from the process's start (interpreter and imports included)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command if command in COMMANDS else None)
    args = parser.parse_args(argv)  # usage errors: one line, SystemExit(2)
    args._whole_process = whole_process
    return run_reported(f"diffgrasp {args.command}", lambda: args._module.run(args), debug=args.debug)


def console_main() -> None:
    """The ``diffgrasp`` console script: :func:`main`, then exit without the interpreter's teardown.

    Freeing torch, warp and MuJoCo at exit costs ~1 s of every command (and of every ``--time-budget``); outputs are
    written and closed by then (atomic writes, context managers), so the process flushes its streams and logging and
    leaves with ``os._exit``. Tests and library callers use ``main``."""
    code = main(whole_process=True)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

