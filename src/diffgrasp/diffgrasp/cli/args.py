"""The validation layer of the command lines (``diffgrasp``, ``diffgrasp-train``): argparse types, output checks done
before any work, and the error/warning reporting around a command.

Every user error is one line on stderr naming the flag or file and the problem, exit status 2; other exceptions are
"internal error" lines (exit status 1) whose traceback ``--debug`` shows. Argparse types raise
``argparse.ArgumentTypeError`` (argparse prefixes ``argument FLAG:``); the output checks raise :class:`OutputPathError`
(a :class:`~diffgrasp.errors.DiffgraspError`) whose message starts with the flag and the path.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import stat
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from diffgrasp.config import load_config
from diffgrasp.errors import ConfigError, DiffgraspError, DiffgraspWarning

T = TypeVar("T")

#: Exceptions reported as a user error (one line, exit status 2); DiffgraspError is a ValueError.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, RuntimeError)


class OutputPathError(DiffgraspError):
    """An output path cannot be written (a directory, an unknown suffix, an unwritable folder); names flag and path."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line ``PROG: error: MESSAGE (see PROG --help)``, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def one_line(message: object) -> str:
    """The first non-empty line of ``message``, with " […]" when lines were dropped."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[0] + (" […]" if len(lines) > 1 else "")


# ---------------------------------------------------------------------------------------------------- argparse types
def int_range(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer within [lo, hi] (either bound may be None)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if lo is not None and hi is not None and not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be within {lo}..{hi}, got {value}")
        if lo is not None and value < lo:
            raise argparse.ArgumentTypeError(f"must be ≥ {lo}, got {value}")
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"must be ≤ {hi}, got {value}")
        return value
    parse.__name__ = "int"
    return parse


def float_range(lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite float within [lo, hi] (``lo_open``: > lo); NaN and inf are rejected."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise argparse.ArgumentTypeError(f"must be {'>' if lo_open else '≥'} {lo:g}, got {text}")
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"must be ≤ {hi:g}, got {text}")
        return value
    parse.__name__ = "float"
    return parse


non_negative_int = int_range(0)
positive_int = int_range(1)
non_negative_float = float_range(0.0)
positive_float = float_range(0.0, lo_open=True)


def existing_file(text: str) -> Path:
    """argparse type: a readable regular file (not a directory)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, expected a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a regular file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text}: permission denied")
    return path


def existing_dir(text: str) -> Path:
    """argparse type: an existing, readable directory."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such directory: {text}")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, expected a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: permission denied")
    return path


def torch_device(text: str) -> str:
    """argparse type: ``cpu``, ``cuda`` or ``cuda:N``, usable by the installed torch (checked up front)."""
    if text == "cpu":
        return text
    import torch  # only for a non-cpu --device: every command imports this module before parsing (start-up of --help)

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; expected cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return text
    if device.type != "cuda":
        raise argparse.ArgumentTypeError(f"unsupported device {text!r}; expected cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text}: no CUDA device is usable with this torch ({torch.__version__}); "
                                         "use --device cpu")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise argparse.ArgumentTypeError(f"{text}: only {count} CUDA device(s) (cuda:0..cuda:{count - 1})")
    return text


# ------------------------------------------------------------------------------------------------------ output paths
def _creatable_in(directory: Path) -> str | None:
    """None when a file can be created in the existing ``directory``, else the problem (probed with a temp file)."""
    if not directory.is_dir():
        return f"{directory} is not a directory"
    try:
        fd, probe = tempfile.mkstemp(prefix=".diffgrasp-probe-", dir=directory)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        if err.errno in (errno.ENOENT, errno.EACCES, errno.EPERM, errno.EROFS):
            reason = f"not writable ({reason})"
        return f"cannot create files in {directory}: {reason}"
    os.close(fd)
    os.unlink(probe)
    return None


def _parent_problem(path: Path) -> str | None:
    """None when ``path``'s folder exists and is writable or can be created (first existing ancestor writable)."""
    ancestor = path.absolute().parent
    while not ancestor.exists():
        if ancestor.is_symlink():  # a dangling link: mkdir would fail
            return f"{ancestor} is a broken symbolic link"
        ancestor = ancestor.parent
    return _creatable_in(ancestor)


def output_file_problem(path: str | os.PathLike, suffixes: Iterable[str] = ()) -> str | None:
    """None when ``path`` can be written as an output file of one of ``suffixes`` (any when empty), else why not."""
    path = Path(path)
    suffixes = tuple(s.lower() for s in suffixes)
    if str(path) in ("", "."):
        return "empty file name"
    if path.is_dir():
        return "is an existing directory, expected a file name"
    if suffixes and path.suffix.lower() not in suffixes:
        return f"must end with {' or '.join(suffixes)} (got {path.suffix or 'no suffix'})"
    if os.path.lexists(path):
        mode = os.stat(path).st_mode if path.exists() else 0
        if not stat.S_ISREG(mode):
            return "exists and is not a regular file"
        if not os.access(path, os.W_OK):
            return "exists and is not writable"
    return _parent_problem(path)


def check_output_file(path: str | os.PathLike, flag: str, suffixes: Iterable[str] = ()) -> Path:
    """Raise OutputPathError (``FLAG PATH: problem``) unless ``path`` can be written as an output file; → Path.

    Checked before any work: the path is not a directory; if it exists it is a writable regular file; its folder
    exists or can be created (the first existing ancestor is a writable directory); its suffix is one of
    ``suffixes`` (case-insensitive; any when empty).
    """
    problem = output_file_problem(path, suffixes)
    if problem:
        raise OutputPathError(f"{flag} {path}: {problem}")
    return Path(path)


def check_output_dir(path: str | os.PathLike, flag: str) -> Path:
    """Raise OutputPathError unless ``path`` is a writable directory or can be created (not an existing file)."""
    path = Path(path)
    if os.path.lexists(path) and not path.is_dir():
        problem = "is an existing file, expected a directory" if path.exists() else "is a broken symbolic link"
    elif path.is_dir():
        problem = _creatable_in(path)
    else:
        problem = _parent_problem(path / "x")
    if problem:
        raise OutputPathError(f"{flag} {path}: {problem}")
    return path


# ------------------------------------------------------------------------------------------------- inputs, configs
def load_config_arg(cls: type[T], path: str | os.PathLike | None, overrides: dict[str, Any] | None = None,
                    flag: str = "--config") -> T:
    """:func:`diffgrasp.config.load_config`; a problem of the file whose message does not name it (a dataclass check,
    a TypeError) becomes a ConfigError naming flag and file."""
    try:
        return load_config(cls, path, overrides)
    except (ValueError, TypeError) as err:
        if path is None or str(path) in str(err):
            raise
        raise ConfigError(f"{flag} {path}: {one_line(err)}") from err


def check_mesh(path: str | os.PathLike, scale: float = 1.0, repair: bool = False, closed: bool = True):
    """Load and validate an object mesh as ``plan`` does (→ trimesh.Trimesh); errors name the file. Only for commands
    that do not load it through :func:`~diffgrasp.geometry.mesh_validation.load_object_mesh` before their work.

    closed=False: a mesh that is valid except for being open (not watertight / inconsistent winding) is accepted with
    a DiffgraspWarning (e.g. ``evaluate``, whose physics test uses a convex decomposition).
    """
    # trimesh and torch load here: every command imports this module before parsing (start-up of --help)
    from diffgrasp.geometry.mesh_validation import (
        MAX_EXTENT_M,
        MIN_EXTENT_M,
        MeshValidationError,
        load_mesh_file,
        repair_mesh,
        validate_mesh,
    )

    mesh = load_mesh_file(path, scale=scale)
    if repair:
        mesh = repair_mesh(mesh, str(path))
    try:
        validate_mesh(mesh, str(path))
    except MeshValidationError as err:
        extent = float(max(mesh.extents))
        if closed or mesh.is_watertight or not MIN_EXTENT_M <= extent <= MAX_EXTENT_M:
            raise
        warnings.warn(f"{path}: mesh is not watertight ({one_line(err).split(': ', 1)[-1]}); using it as given",
                      DiffgraspWarning, stacklevel=2)
    return mesh


# ------------------------------------------------------------------------------------------------ running a command
def _close_progress_bars() -> None:
    """Close live tqdm bars so that a following message starts on a fresh line."""
    module = sys.modules.get("tqdm.std")
    for bar in list(getattr(getattr(module, "tqdm", None), "_instances", ()) or ()):
        try:
            bar.close()
        except Exception:  # noqa: BLE001 - a broken bar must not hide the error being reported
            pass


@contextmanager
def diffgrasp_warnings(prog: str) -> Iterator[None]:
    """Print DiffgraspWarnings as one line ``PROG: warning: msg`` on stderr while the block runs, each text once
    (a mesh is validated by each stage that loads it; the user needs to read it once)."""
    previous = warnings.showwarning
    shown: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if isinstance(category, type) and issubclass(category, DiffgraspWarning):
            text = one_line(message)
            if text in shown:
                return
            shown.add(text)
            _close_progress_bars()
            print(f"{prog}: warning: {text}", file=sys.stderr, flush=True)
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", DiffgraspWarning)
            yield
    finally:
        warnings.showwarning = previous


def _error_text(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        target = f"{err.filename} → {err.filename2}" if err.filename2 is not None else str(err.filename)
        return f"{target}: {err.strerror}"
    return one_line(err) or type(err).__name__


def run_reported(prog: str, command: Callable[[], int | None], debug: bool = False, interrupted: str = "interrupted"
                 ) -> int:
    """Run ``command`` and turn its outcome into an exit status with one-line reports on stderr.

    0/int: what ``command`` returned; 2: user error (ValueError incl. DiffgraspError, OSError, RuntimeError);
    1: any other exception ("internal error"); 130: Ctrl-C. ``debug``: print the traceback before the line.
    """
    try:
        with diffgrasp_warnings(prog):
            return int(command() or 0)
    except KeyboardInterrupt:
        _close_progress_bars()
        print(f"{prog}: {interrupted}", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        _close_progress_bars()
        if debug:
            traceback.print_exc()
        print(f"{prog}: error: {_error_text(err)}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - reported as an internal error; --debug shows where
        _close_progress_bars()
        if debug:
            traceback.print_exc()
            print(f"{prog}: internal error: {type(err).__name__}: {one_line(err)}", file=sys.stderr)
        else:
            print(f"{prog}: internal error: {type(err).__name__}: {one_line(err)} "
                  "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1


__all__ = ["OneLineArgumentParser", "OutputPathError", "USER_ERRORS", "check_mesh", "check_output_dir",
           "check_output_file", "diffgrasp_warnings", "existing_dir", "existing_file", "float_range", "int_range",
           "load_config_arg", "non_negative_float", "non_negative_int", "one_line", "output_file_problem",
           "positive_float", "positive_int", "run_reported", "torch_device"]
