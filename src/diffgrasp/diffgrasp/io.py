"""Atomic file output: write to a temporary file beside the target, then rename over it; an advisory lock so that two
processes never write one output at once."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from diffgrasp.errors import DiffgraspError


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and rename the result onto ``path``; the target never holds a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(data, indent=1) + "\n")


class OutputLockedError(DiffgraspError):
    """Another process holds the advisory lock of an output file (see ``output_lock``)."""


def lock_path_for(path: str | os.PathLike) -> Path:
    """The lock file of output ``path``: ``.NAME.lock`` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def output_lock(path: str | os.PathLike, wait: bool = False, poll_s: float = 0.1) -> Iterator[Path]:
    """Hold an advisory ``fcntl.flock`` on ``.NAME.lock`` beside output ``path`` while writing it.

    A second writer of the same output fails at once with OutputLockedError "PATH is being written by another process
    (pid N)", or with ``wait=True`` blocks until the first one is done. The lock file holds the owner's pid and is
    removed on release. Removal races with a waiter that opened the old file: after acquiring, the lock is valid only
    if the lock path still names the locked inode, otherwise the waiter retries on the new file. Advisory: writers
    that do not take the lock are not stopped. ``poll_s``: the wait loop's period (the lock itself never polls).
    Yields the lock file's path.
    """
    path = Path(path)
    lock = lock_path_for(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise OutputLockedError(f"{path} is being written by another process (pid {owner})") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:  # released (and removed) by the previous owner while we waited
            same = False
        if same:
            break
        os.close(fd)
        time.sleep(poll_s if wait else 0.0)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield lock
    finally:
        try:  # unlink while still holding the lock: a waiter then finds another inode (or none) and retries
            os.unlink(lock)
        finally:
            os.close(fd)
