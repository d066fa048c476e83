"""The project's error type for bad input: every loader and CLI check raises a subclass with a one-line message that
names the file, key or flag and the problem. The CLIs print it and exit with status 2."""

from __future__ import annotations

import re

_LINE_BREAKS = re.compile(r"\s*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+\s*")


class DiffgraspError(ValueError):
    """Bad input (a file, a configuration value, an argument); ``str(err)`` is one line naming what and why.

    Line breaks in the message (from a quoted file name or a library's reason) are folded into spaces, so a CLI can
    print ``str(err)`` as the single line it promises.
    """

    def __str__(self) -> str:
        return _LINE_BREAKS.sub(" ", super().__str__())


class ConfigError(DiffgraspError):
    """A configuration file or value is invalid; the message names the file and key."""


class PathConfinementError(DiffgraspError):
    """A path read from a file points outside the folder that file belongs to."""


class MissingFileError(DiffgraspError, FileNotFoundError):
    """A file named inside another file (a capture's depth image, an index's views) is missing.

    Both a DiffgraspError (bad content of the naming file) and a FileNotFoundError (what callers used to catch).
    """


class DiffgraspWarning(UserWarning):
    """Input that is used but changed or doubtful (a mesh simplified, disconnected parts); one line naming the file.

    Emit with ``warnings.warn(msg, DiffgraspWarning, stacklevel=2)``; the CLIs print it as
    ``diffgrasp CMD: warning: msg``.
    """
