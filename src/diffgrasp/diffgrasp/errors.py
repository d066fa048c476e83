"""The project's error type for bad input: every loader and CLI check raises a subclass with a one-line message that
names the file, key or flag and the problem. The CLIs print it and exit with status 2."""

from __future__ import annotations


class DiffgraspError(ValueError):
    """Bad input (a file, a configuration value, an argument); ``str(err)`` is one line naming what and why."""


class ConfigError(DiffgraspError):
    """A configuration file or value is invalid; the message names the file and key."""


class PathConfinementError(DiffgraspError):
    """A path read from a file points outside the folder that file belongs to."""


class DiffgraspWarning(UserWarning):
    """Input that is used but changed or doubtful (a mesh simplified, disconnected parts); one line naming the file.

    Emit with ``warnings.warn(msg, DiffgraspWarning, stacklevel=2)``; the CLIs print it as ``diffgrasp CMD: warning: msg``.
    """
