"""Build ROS messages without importing rclpy: one callable ``factory(typename, **fields)`` per backend.

Type names are rosidl names: ``sensor_msgs/msg/Image``, ``diffgrasp_interfaces/srv/CaptureScene_Request``,
``control_msgs/action/FollowJointTrajectory_Goal``. Converters pass every field (rosbags has no defaults) as plain
Python values or numpy arrays; each factory adapts them to what its message classes accept.
"""

from __future__ import annotations

import array
import importlib
from typing import Any, Protocol

import numpy as np

_NUMPY_DTYPES = {
    "bool": np.bool_, "byte": np.uint8, "char": np.uint8, "int8": np.int8, "uint8": np.uint8,
    "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32,
    "int64": np.int64, "uint64": np.uint64, "float32": np.float32, "float64": np.float64,
}


class MessageFactory(Protocol):
    """``factory(typename, **fields) -> message``; unknown or missing fields raise TypeError naming them."""

    def __call__(self, typename: str, **fields: Any) -> Any: ...


class RosbagsFactory:
    """Messages of a rosbags typestore (see ``diffgrasp_ros.typestore.build_typestore``).

    Primitive arrays/sequences become numpy arrays of the field's dtype (what rosbags serialises); every field of the
    definition must be given, and a field the definition lacks is an error (so a renamed interface field breaks).
    """

    def __init__(self, typestore: Any) -> None:
        self.typestore = typestore

    def __call__(self, typename: str, **fields: Any) -> Any:
        try:
            _, defs = self.typestore.fielddefs[typename]
        except KeyError:
            raise TypeError(f"{typename}: type not in the typestore") from None
        names = [name for name, _ in defs]
        unknown = sorted(set(fields) - set(names))
        missing = [n for n in names if n not in fields]
        if unknown or missing:
            raise TypeError(f"{typename}: unknown field(s) {unknown}, missing field(s) {missing}")
        kwargs = {}
        for name, desc in defs:
            value = fields[name]
            nodetype, detail = desc
            if nodetype.name in ("ARRAY", "SEQUENCE"):
                (sub_type, sub_detail), _ = detail
                if sub_type.name == "BASE" and sub_detail[0] in _NUMPY_DTYPES:
                    value = np.asarray(value, dtype=_NUMPY_DTYPES[sub_detail[0]])
                else:
                    value = list(value)
            kwargs[name] = value
        return self.typestore.types[typename](**kwargs)


class RclpyFactory:
    """Messages of the rosidl-generated Python classes (import ``pkg.msg``/``pkg.srv``/``pkg.action`` on demand)."""

    def __init__(self) -> None:
        self._classes: dict[str, type] = {}

    def message_class(self, typename: str) -> type:
        if typename not in self._classes:
            package, kind, name = typename.split("/")
            module = importlib.import_module(f"{package}.{kind}")
            if kind in ("srv", "action"):
                base, _, part = name.rpartition("_")
                cls = getattr(getattr(module, base), part)
            else:
                cls = getattr(module, name)
            self._classes[typename] = cls
        return self._classes[typename]

    def __call__(self, typename: str, **fields: Any) -> Any:
        cls = self.message_class(typename)
        kwargs = {}
        for name, value in fields.items():
            if isinstance(value, np.ndarray):
                # rosidl: uint8[] takes array('B') (fast); other primitive sequences take Python lists.
                value = array.array("B", value.tobytes()) if value.dtype == np.uint8 else value.tolist()
            kwargs[name] = value
        try:
            return cls(**kwargs)
        except AssertionError as err:  # rosidl asserts on unknown keyword names and wrong value types
            raise TypeError(f"{typename}: {err or 'invalid field name or value type'}") from None


__all__ = ["MessageFactory", "RclpyFactory", "RosbagsFactory"]
