"""ROS-free type store: our .msg/.srv/.action definitions (plus vendored ones) registered into rosbags' Jazzy store.

Used by the tests (CDR round trips against the real definitions) and by tools that write rosbag2 files without ROS.
rosbags parses only ``.msg`` text, so ``.srv`` files are split on their ``---`` line into ``Name_Request`` /
``Name_Response`` and ``.action`` files into ``Name_Goal`` / ``Name_Result`` / ``Name_Feedback`` (the type names
rosidl generates). ``.msg`` default values are not applied by rosbags: every field must be given.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

SUFFIXES = {".srv": ("_Request", "_Response"), ".action": ("_Goal", "_Result", "_Feedback")}


def split_definition(text: str, suffix: str) -> list[str]:
    """Split a .srv/.action text on lines equal to ``---`` (2 or 3 parts); a .msg gives one part."""
    parts: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip() == "---":
            parts.append([])
        else:
            parts[-1].append(line)
    want = len(SUFFIXES.get(suffix, ("",)))
    if len(parts) != want:
        raise ValueError(f"{suffix} definition: expected {want} part(s) separated by '---', got {len(parts)}")
    return ["\n".join(p) + "\n" for p in parts]


def definitions_in(package_dir: str | os.PathLike, package: str | None = None) -> dict[str, str]:
    """Type name → .msg text for every file of ``package_dir``/{msg,srv,action}.

    ``package`` defaults to the directory name (e.g. ``diffgrasp_interfaces``). Type names follow rosidl:
    ``pkg/msg/Name``, ``pkg/srv/Name_Request``, ``pkg/action/Name_Goal``.
    """
    root = Path(package_dir)
    package = package or root.name
    out: dict[str, str] = {}
    for kind in ("msg", "srv", "action"):
        folder = root / kind
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"*.{kind}")):
            parts = split_definition(path.read_text(), path.suffix)
            suffixes = SUFFIXES.get(path.suffix, ("",))
            for text, suffix in zip(parts, suffixes, strict=True):
                out[f"{package}/{kind}/{path.stem}{suffix}"] = text
    if not out:
        raise FileNotFoundError(f"no .msg/.srv/.action files under {root}")
    return out


def build_typestore(package_dirs: Iterable[str | os.PathLike]):
    """A rosbags ROS2_JAZZY typestore extended with every definition found in ``package_dirs``.

    Each directory is one interface package (``<dir>/msg``, ``srv``, ``action``); all types are registered at once
    so they may refer to each other.
    """
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore  # optional: the core's ros-tools extra

    store = get_typestore(Stores.ROS2_JAZZY)
    types: dict = {}
    for package_dir in package_dirs:
        for name, text in definitions_in(package_dir).items():
            # Parse as "pkg/msg/X" so relative field types resolve to pkg/msg/... (as rosidl does for .srv/.action;
            # rosbags would otherwise resolve them next to "pkg/action/"), then key the tree by the rosidl name.
            package, _, stem = name.split("/")
            (parsed,) = get_types_from_msg(text, f"{package}/msg/{stem}").values()
            types[name] = parsed
    store.register(types)
    return store


def interfaces_source_dir() -> Path:
    """``src/diffgrasp_interfaces`` of the source tree, or ``share/diffgrasp_interfaces`` of an installed workspace."""
    here = Path(__file__).resolve()
    candidates = [here.parents[2] / "diffgrasp_interfaces"]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / "diffgrasp_interfaces")
    for candidate in candidates:
        if (candidate / "msg").is_dir():
            return candidate
    raise FileNotFoundError("diffgrasp_interfaces definitions not found (looked in: "
                            + ", ".join(str(c) for c in candidates) + ")")


__all__ = ["build_typestore", "definitions_in", "interfaces_source_dir", "split_definition"]
