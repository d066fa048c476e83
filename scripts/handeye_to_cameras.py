#!/usr/bin/env python3
"""Convert easy_handeye2 eye-on-base ``.calib`` files into ``config/cameras.yaml`` camera entries.

    scripts/handeye_to_cameras.py cam_front_left.calib [more.calib ...] --cameras config/cameras.yaml [-o OUT]

The camera name is the file stem (or --name for a single file). The result is validated with diffgrasp's rig loader
before it is written (atomically); without -o the updated YAML goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from diffgrasp.io import atomic_write_text
from diffgrasp.perception.handeye import update_rig_yaml
from diffgrasp.perception.rig import Transform, rig_from_dict


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("calib", nargs="+", help="easy_handeye2 .calib YAML file(s)")
    p.add_argument("--cameras", help="existing cameras.yaml to update (default: start empty)")
    p.add_argument("-o", "--output", help="write here (default: stdout)")
    p.add_argument("--name", help="camera name (single .calib only; default: the file stem)")
    p.add_argument("--serial", help="serial number to set (single .calib only)")
    p.add_argument("--link-to-tracking", nargs=7, type=float, metavar=("X", "Y", "Z", "QX", "QY", "QZ", "QW"),
                   help="<cam>_link → tracking_base_frame when it is not the depth optical frame")
    args = p.parse_args(argv)
    try:
        if (args.name or args.serial) and len(args.calib) != 1:
            raise ValueError("--name/--serial need exactly one .calib file")
        data = yaml.safe_load(Path(args.cameras).read_text()) if args.cameras else {}
        ltt = Transform(tuple(args.link_to_tracking[:3]), tuple(args.link_to_tracking[3:])) \
            if args.link_to_tracking else None
        for path in args.calib:
            data = update_rig_yaml(data, args.name or Path(path).stem, path, ltt, args.serial)
        rig_from_dict(data)  # validate
        text = yaml.safe_dump(data, sort_keys=False, width=120)
    except (ValueError, FileNotFoundError) as err:
        print(f"handeye_to_cameras: error: {err}", file=sys.stderr)
        return 2
    if args.output:
        atomic_write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
