"""Shared pieces of the file loaders: short one-line previews of bad values, paths confined to the folder of the file
that names them, and JSON/YAML reading that turns every decoding problem into the project's one-line error.

Why here: grasp files, captures, rig and config YAML, training indexes and checkpoints all read user files; the same
rules (one line naming the file and key, no path escaping the folder, no library traceback) must hold for each.
"""

from __future__ import annotations

import json
import os
import reprlib
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

import yaml

from diffgrasp.errors import ConfigError, DiffgraspError, PathConfinementError

MAX_TEXT_BYTES = 256 * 1024 * 1024  # a JSON/YAML file larger than this is refused rather than parsed for minutes
MAX_REASON_CHARS = 200              # a library's reason quoted in a message is cut to this length

__all__ = ["MAX_TEXT_BYTES", "brief", "check_format", "confined_path", "one_line", "read_json", "read_text",
           "read_versioned_json", "read_yaml"]


class _Brief(reprlib.Repr):
    """reprlib with small limits that never raises (a 5000-digit int makes ``repr`` fail in Python ≥ 3.11)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict = 3, 4, 4, 4
        self.maxstring, self.maxother, self.maxlong = 50, 50, 30

    def repr_int(self, x: int, level: int) -> str:
        try:
            return super().repr_int(x, level)
        except ValueError:  # int → str conversion limit
            return f"<an integer of {x.bit_length()} bits>"


_BRIEF = _Brief()


def one_line(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` with all whitespace runs folded to one space and cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def brief(value: Any) -> str:
    """A short, bounded, one-line ``repr`` of a value read from a file (for 'got ...' in messages)."""
    try:
        return one_line(_BRIEF.repr(value), 80)
    except Exception:  # noqa: BLE001 — a preview must never fail
        return f"<{type(value).__name__}>"


def confined_path(base: str | os.PathLike, value: Any, source: str | os.PathLike, key: str) -> Path:
    """The path ``value`` (read from file ``source`` at ``key``) resolved against folder ``base``.

    Raises PathConfinementError unless it is a relative path whose target, symlinks resolved, lies inside ``base``
    (absolute paths and ``..`` escapes are refused); DiffgraspError if ``value`` is not a non-empty string.
    Paths the user passes on the command line are not confined: call this only for paths read from files.
    """
    if not isinstance(value, str) or not value.strip():
        raise DiffgraspError(f"{source}: {key}: expected a relative file path, got {brief(value)}")
    if "\x00" in value:
        raise PathConfinementError(f"{source}: {key}: path {brief(value)} contains a NUL byte")
    if PurePath(value).is_absolute() or value.startswith("~"):
        raise PathConfinementError(f"{source}: {key}: absolute path {brief(value)} not allowed; paths in this file "
                                   f"must be relative to its folder {base}")
    try:
        root = Path(base).resolve()
        target = (root / value).resolve()
    except (OSError, RuntimeError, ValueError) as err:  # RuntimeError: symlink loop (Python 3.11)
        raise PathConfinementError(f"{source}: {key}: cannot resolve path {brief(value)} "
                                   f"({type(err).__name__}: {one_line(str(err))})") from None
    if not target.is_relative_to(root):
        raise PathConfinementError(f"{source}: {key}: path {brief(value)} leads outside the folder {root} "
                                   f"(to {target}); paths in this file must stay inside its folder")
    return target


def read_text(path: str | os.PathLike, error: type[DiffgraspError] = DiffgraspError,
              max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of ``path``. FileNotFoundError if absent; ``error`` (one line naming the file) for a folder,
    an unreadable or oversized file, or bytes that are not UTF-8."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path}: is a directory, not a file")
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{path}: {size / 2**20:.0f} MiB is too large for this file type (limit "
                        f"{max_bytes / 2**20:.0f} MiB)")
        data = path.read_bytes()
    except OSError as err:
        raise error(f"{path}: cannot read ({err.strerror or type(err).__name__})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise error(f"{path}: not UTF-8 text (undecodable byte at offset {err.start})") from None


def read_json(path: str | os.PathLike, error: type[DiffgraspError] = DiffgraspError) -> Any:
    """Parsed JSON of ``path``; any decoding problem → ``error`` naming the file (and line/column when known)."""
    text = read_text(path, error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise error(f"{path}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
    except RecursionError:
        raise error(f"{path}: not usable JSON (nested too deeply)") from None
    except ValueError as err:  # e.g. an integer beyond Python's 4300-digit conversion limit
        raise error(f"{path}: not usable JSON ({one_line(str(err))})") from None


def check_format(doc: Any, source: str | os.PathLike, formats: str | Sequence[str],
                 error: type[DiffgraspError] = DiffgraspError, *, what: str = "format") -> Mapping[str, Any]:
    """``doc`` itself after checking that it is a mapping whose ``"format"`` is one of ``formats`` (versioned names
    such as ``"diffgrasp.grasps/1"``); otherwise ``error``, one line naming ``source``: "expected a JSON object,
    got …" or "unknown {what} … (expected '…')"."""
    if not isinstance(doc, Mapping):
        raise error(f"{source}: expected a JSON object, got {brief(doc)}")
    accepted = (formats,) if isinstance(formats, str) else tuple(formats)
    found = doc.get("format")
    if found not in accepted:
        expected = repr(accepted[0]) if len(accepted) == 1 else "one of " + ", ".join(map(repr, accepted))
        raise error(f"{source}: unknown {what} {brief(found)} (expected {expected})")
    return doc


def read_versioned_json(path: str | os.PathLike, formats: str | Sequence[str],
                        error: type[DiffgraspError] = DiffgraspError) -> Mapping[str, Any]:
    """The JSON object of a versioned file (its ``"format"`` one of ``formats``): :func:`read_json` then
    :func:`check_format`. FileNotFoundError if absent; ``error`` (one line naming the file) for anything else."""
    return check_format(read_json(path, error), path, formats, error)


def read_yaml(path: str | os.PathLike, error: type[DiffgraspError] = ConfigError) -> Any:
    """Parsed YAML (``yaml.safe_load``) of ``path``; a syntax error → ``error`` naming the file, line and column."""
    text = read_text(path, error, max_bytes=16 * 1024 * 1024)
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = one_line(err.problem or err.context or type(err).__name__)
        raise error(f"{path}: invalid YAML{where}: {reason}") from None
    except RecursionError:
        raise error(f"{path}: invalid YAML (nested too deeply)") from None
    except Exception as err:  # noqa: BLE001 — yaml's constructors raise ValueError/TypeError for odd scalars
        raise error(f"{path}: invalid YAML ({type(err).__name__}: {one_line(str(err))})") from None
