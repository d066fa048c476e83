"""Configuration: frozen dataclasses with defaults, loaded from YAML.

YAML scalars are coerced to the field types (int, float, bool, str, tuples/lists/dicts of those, Optional, Literal,
nested dataclasses) and unknown keys are rejected by name, because PyYAML's own typing surprises users: ``1e-3`` is
read as the *string* '1e-3', ``10`` where a float is meant is an int. Every problem is one :class:`ConfigError` line
naming the file, the dotted key, the expected type and the value, e.g.
``config/training.yaml: lr: expected a float, got 'abc'``.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import numbers
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from diffgrasp.errors import ConfigError
from diffgrasp.loading import brief, one_line, read_yaml

T = TypeVar("T")

__all__ = ["coerce_value", "describe_type", "from_dict", "load_config", "to_dict"]


def describe_type(kind: Any) -> str:
    """Words for a field type in messages: ``float`` → 'a float', ``tuple[int, ...]`` → 'a list of integers'."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    simple = {int: "an integer", float: "a float", bool: "true or false", str: "a string", Path: "a path"}
    plural = {int: "integers", float: "floats", bool: "booleans (true/false)", str: "strings"}
    if kind in simple:
        return simple[kind]
    if origin in (typing.Union, types.UnionType):
        parts = [describe_type(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (tuple, list):
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(set(args)) == 1:
                return f"a list of {len(args)} {plural.get(args[0], describe_type(args[0]))}"
            return f"a list of {len(args)} values ({', '.join(describe_type(a) for a in args)})"
        item = args[0] if args else Any
        return f"a list of {plural.get(item, describe_type(item))}"
    if origin is dict:
        return "a mapping" + (f" of {describe_type(args[1])} values" if len(args) == 2 else "")
    if dataclasses.is_dataclass(kind):
        return f"a mapping of {kind.__name__} settings"
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in kind)
    return getattr(kind, "__name__", str(kind))


def _mismatch(where: str, kind: Any, value: Any, why: str = "") -> ConfigError:
    return ConfigError(f"{where}: expected {describe_type(kind)}, got {brief(value)}{why}")


def _float(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real | str):
        raise _mismatch(where, float, value)
    try:
        out = float(value.strip() if isinstance(value, str) else value)
    except OverflowError:
        raise _mismatch(where, float, value, " (too large for a float)") from None
    except (TypeError, ValueError):
        raise _mismatch(where, float, value) from None
    if math.isnan(out):
        raise _mismatch(where, float, value, " (NaN is not a setting)")
    return out


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise _mismatch(where, int, value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float | str):
        try:
            return int(value.strip(), 10) if isinstance(value, str) else _integral(value)
        except ValueError:
            pass
        try:
            return _integral(float(value.strip()) if isinstance(value, str) else value)
        except (ValueError, OverflowError):
            pass
    raise _mismatch(where, int, value)


def _integral(x: float) -> int:
    if not math.isfinite(x) or not float(x).is_integer():
        raise ValueError(x)
    return int(x)


def _sequence(value: Any, kind: Any, where: str) -> tuple | list:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if not isinstance(value, list | tuple):
        raise _mismatch(where, kind, value)
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise _mismatch(where, kind, value, f" ({len(value)} given)")
        items = [coerce_value(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))]
    else:
        item = args[0] if args else Any
        items = [coerce_value(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else items


def coerce_value(value: Any, kind: Any, where: str) -> Any:
    """``value`` (as YAML or a caller gave it) converted to the field type ``kind``; ConfigError naming ``where``.

    int: ints, integral floats and strings like '10' or '1e4'; never a bool. float: numbers and numeric strings
    ('1e-3', which PyYAML leaves a string); never a bool or NaN. bool: only true/false (a quoted 'yes' or an int
    is refused). str: strings only. Tuples/lists from YAML lists (fixed lengths checked), dicts from mappings,
    Optional accepts null, Literal/Enum check the choices, nested dataclasses recurse with dotted keys.
    """
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any or kind is object or isinstance(kind, TypeVar):
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            try:
                return coerce_value(value, options[0], where)
            except ConfigError as err:
                if value is None:
                    raise _mismatch(where, kind, value) from None
                raise err from None
        for option in options:
            try:
                return coerce_value(value, option, where)
            except ConfigError:
                continue
        raise _mismatch(where, kind, value)
    if origin is typing.Literal:
        for choice in args:
            if type(value) is type(choice) and value == choice:
                return choice
        raise _mismatch(where, kind, value)
    if kind is bool:
        if isinstance(value, bool) or type(value).__name__ == "bool_":  # numpy bools from Python callers
            return bool(value)
        raise _mismatch(where, kind, value)
    if kind is int:
        return _int(value, where)
    if kind is float:
        return _float(value, where)
    if kind is str:
        if isinstance(value, str):
            return value
        raise _mismatch(where, kind, value)
    if kind is Path:
        if isinstance(value, str | os.PathLike):
            return Path(value)
        raise _mismatch(where, kind, value)
    if origin in (tuple, list) or kind in (tuple, list):
        return _sequence(value, kind, where)
    if origin is dict or kind is dict:
        if not isinstance(value, Mapping):
            raise _mismatch(where, kind, value)
        key_kind, value_kind = args if len(args) == 2 else (Any, Any)
        out = {}
        for k, v in value.items():
            key = coerce_value(k, key_kind, f"{where} key {brief(k)}")
            out[key] = coerce_value(v, value_kind, f"{where}.{key}")
        return out
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        if isinstance(value, kind):
            return value
        head, sep, dotted = where.rpartition(": ")
        return _build(kind, value, head + sep, dotted + ".")
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except (ValueError, TypeError):
            raise _mismatch(where, kind, value) from None
    if isinstance(kind, type):
        if isinstance(value, kind):
            return value
        raise _mismatch(where, kind, value)
    return value  # an annotation this function does not know: left to the dataclass's own checks


def _field_default(field: dataclasses.Field) -> Any:
    """A field's default value (its factory called), or MISSING."""
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _build(cls: type[T], data: Any, head: str, dotted: str, base: Any = None) -> T:
    """``cls`` from the mapping ``data``; messages start with ``head`` ('file: ') and name keys ``dotted`` + key.

    Keys missing from ``data`` keep ``base``'s values (an instance of ``cls``; None: the class defaults). A nested
    dataclass given as a (partial) mapping updates the parent's value for it — ``base``'s, else the field's default
    — so that ``loss: {w_q1: 2.0}`` changes one weight of the planner's loss settings and keeps the planner's others,
    not the loss library's defaults."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        where = dotted.rstrip(".") or "top level"
        raise ConfigError(f"{head}{where}: expected a mapping of {cls.__name__} settings, got {brief(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(dotted + one_line(str(k), 60) for k in data if not (isinstance(k, str) and k in fields))
    if unknown:
        raise ConfigError(f"{head or cls.__name__ + ': '}unknown key(s) {', '.join(unknown)}; "
                          f"valid{' in ' + dotted.rstrip('.') if dotted else ''}: {', '.join(sorted(fields))}")
    by_name = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for k, v in data.items():
        kind = hints[k]
        if dataclasses.is_dataclass(kind) and isinstance(kind, type) and isinstance(v, Mapping):
            parent = getattr(base, k) if base is not None else _field_default(by_name[k])
            kwargs[k] = _build(kind, v, head, f"{dotted}{k}.", parent if isinstance(parent, kind) else None)
        else:
            kwargs[k] = coerce_value(v, kind, f"{head}{dotted}{k}")
    if base is not None:
        kwargs = {name: getattr(base, name) for name in by_name} | kwargs
    try:
        return cls(**kwargs)
    except (ValueError, TypeError, ArithmeticError, LookupError) as err:  # the dataclass's own checks
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"{head}{one_line(str(err), 300)}") from None


def from_dict(cls: type[T], data: Mapping[str, Any] | None, prefix: str = "", source: str | os.PathLike | None = None
              ) -> T:
    """Build dataclass ``cls`` from ``data``: values coerced to the field types (see :func:`coerce_value`), nested
    dataclasses from nested mappings, unknown keys refused. Errors are ConfigError naming ``source`` (a file) and
    the dotted key (``prefix`` + field)."""
    return _build(cls, data, f"{source}: " if source is not None else "", prefix)


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
    """Defaults of ``cls``, updated from the YAML file ``path`` (if given), then from ``overrides`` (None values are
    skipped). FileNotFoundError for a missing file; ConfigError (file + dotted key) for anything wrong inside it."""
    data: dict[str, Any] = {}
    source = None
    if path is not None:
        path = Path(path)
        source = str(path)
        if not path.exists():
            raise FileNotFoundError(f"config file not found: {path}")
        loaded = read_yaml(path, ConfigError)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of {cls.__name__} settings at the top level, "
                              f"got {brief(loaded)}")
        data.update(loaded)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if given:  # checked on their own first, so that a bad override (flag, code) is not blamed on the file
        hints = typing.get_type_hints(cls)
        fields = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(one_line(str(k), 60) for k in given if k not in fields)
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)} in the overrides; "
                              f"valid: {', '.join(sorted(fields))}")
        given = {k: coerce_value(v, hints[k], f"{cls.__name__} override: {k}") for k, v in given.items()}
    data.update(given)
    return from_dict(cls, data, source=source)
