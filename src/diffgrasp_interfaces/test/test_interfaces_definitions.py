"""Our .msg/.srv/.action files: parse into the rosbags Jazzy typestore, every field documented, results carry
error codes, and each type serialises to CDR and back when filled with non-default values."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT.parent / "diffgrasp_ros"))  # the ROS-free typestore helper (source tree)
from diffgrasp_ros.typestore import build_typestore, definitions_in, split_definition  # noqa: E402

FILES = sorted(p for kind in ("msg", "srv", "action") for p in (ROOT / kind).glob(f"*.{kind}"))
FIELD = re.compile(r"^\s*([\w/]+(?:\[\d*\])?)\s+(\w+)\s*(=.*)?$")


@pytest.fixture(scope="module")
def store():
    return build_typestore([ROOT])


def test_expected_interfaces_exist():
    names = {p.name for p in FILES}
    assert names == {"DexterousGrasp.msg", "GraspLossTerms.msg", "GraspSet.msg", "MultiViewDepth.msg",
                     "ObjectObservation.msg", "CaptureScene.srv", "FuseScene.srv", "PredictGrasps.action",
                     "RefineGrasps.action", "ExecuteGrasp.action", "GraspObject.action"}


def test_every_part_registers_with_the_rosidl_name(store):
    for path in FILES:
        suffixes = {".msg": [""], ".srv": ["_Request", "_Response"],
                    ".action": ["_Goal", "_Result", "_Feedback"]}[path.suffix]
        for suffix in suffixes:
            assert f"diffgrasp_interfaces/{path.parent.name}/{path.stem}{suffix}" in store.fielddefs


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_field_is_documented(path):
    """Each field line carries a comment (units, frame, meaning) on the line or just above it."""
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#"), f"{path.name}: starts without a description"
    for i, line in enumerate(lines):
        code = line.split("#", 1)[0]
        match = FIELD.match(code)
        if not match or match.group(3):  # not a field, or a constant
            continue
        documented = "#" in line or (i > 0 and lines[i - 1].strip().startswith("#"))
        assert documented, f"{path.name}:{i + 1}: field {match.group(2)!r} has no comment"


def test_results_and_responses_carry_error_code_and_message(store):
    for name, (consts, fields) in store.fielddefs.items():
        if name.startswith("diffgrasp_interfaces/") and name.endswith(("_Result", "_Response")):
            field_names = [f for f, _ in fields]
            assert field_names[:2] == ["error_code", "message"], name
            assert ("SUCCESS", "int32", 0) in consts, name


def test_split_definition_rejects_a_wrong_number_of_parts():
    with pytest.raises(ValueError, match="expected 3 part"):
        split_definition("int32 a\n---\nint32 b\n", ".action")
    assert len(split_definition("int32 a\n---\nint32 b\n", ".srv")) == 2
    with pytest.raises(FileNotFoundError, match="no .msg/.srv/.action"):
        definitions_in(ROOT / "test")


def _fill(store, typename: str, depth: int = 0):
    """A message with every field set to a non-default value (nested types recursively, one sequence element)."""
    _, fields = store.fielddefs[typename]
    values = {}
    for i, (name, (kind, detail)) in enumerate(fields):
        values[name] = _value(store, kind.name, detail, i + depth + 1, depth)
    return store.types[typename](**values)


def _value(store, kind: str, detail, seed: int, depth: int):
    if kind == "BASE":
        base = detail[0]
        if base == "string":
            return f"s{seed}"
        if base == "bool":
            return bool(seed % 2)
        if base.startswith("float"):
            return seed + 0.25
        return seed % 100
    if kind == "NAME":
        return _fill(store, detail, depth + 1)
    (sub_kind, sub_detail), count = detail
    n = count if kind == "ARRAY" else 2
    if kind == "SEQUENCE" and count:  # bounded sequence
        n = min(n, count)
    if sub_kind.name == "BASE" and sub_detail[0] != "string":
        dtype = {"float64": np.float64, "float32": np.float32, "bool": np.bool_}.get(sub_detail[0], np.uint8)
        if sub_detail[0] in ("int32", "uint32", "int64", "uint64", "int16", "uint16", "int8"):
            dtype = np.dtype(sub_detail[0])
        return (np.arange(n) + seed).astype(dtype)
    return [_value(store, sub_kind.name, sub_detail, seed + j, depth + 1) for j in range(n)]


def test_every_type_round_trips_through_cdr(store):
    names = [n for n in store.fielddefs if n.startswith("diffgrasp_interfaces/")]
    assert len(names) == 5 + 2 * 2 + 4 * 3
    for name in names:
        msg = _fill(store, name)
        raw = store.serialize_cdr(msg, name)
        back = store.deserialize_cdr(raw, name)
        assert bytes(store.serialize_cdr(back, name)) == bytes(raw), name
