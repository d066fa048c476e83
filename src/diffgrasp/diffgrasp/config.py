"""Configuration: frozen dataclasses with defaults, loaded from YAML, unknown keys rejected by name."""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def _coerce(name: str, value: Any, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind) and isinstance(value, dict):
        return from_dict(kind, value, prefix=name + ".")
    if origin in (tuple,) and isinstance(value, list):
        return tuple(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any] | None, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; nested dataclasses from nested dicts; unknown keys raise."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown key(s) {', '.join(prefix + u for u in unknown)}; "
                         f"valid: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(prefix + k, v, hints[k]) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(obj: Any) -> dict[str, Any]:
    """Dataclass → plain dict (tuples as lists) suitable for YAML/JSON."""
    def plain(v: Any) -> Any:
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(dataclasses.asdict(obj))


def load_config(cls: type[T], path: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None) -> T:
    """Defaults of ``cls``, updated from the YAML file ``path`` (if given), then from ``overrides``."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping at the top level")
        data.update(loaded)
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return from_dict(cls, data)
