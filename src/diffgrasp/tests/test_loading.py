"""Versioned JSON files (loading.read_versioned_json / check_format): one helper, one-line messages naming the file."""

from __future__ import annotations

import json

import pytest

from diffgrasp.errors import ConfigError, DiffgraspError
from diffgrasp.loading import check_format, read_versioned_json


def _write(tmp_path, text: str):
    path = tmp_path / "doc.json"
    path.write_text(text)
    return path


def test_reads_a_document_of_an_accepted_format(tmp_path):
    doc = {"format": "diffgrasp.thing/2", "x": [1, 2]}
    assert read_versioned_json(_write(tmp_path, json.dumps(doc)), "diffgrasp.thing/2") == doc
    assert read_versioned_json(_write(tmp_path, json.dumps(doc)), ("diffgrasp.thing/1", "diffgrasp.thing/2")) == doc
    assert check_format(doc, "<dict>", "diffgrasp.thing/2") is doc


@pytest.mark.parametrize("text, message", [
    ('{"format": "other/1"}', "doc.json: unknown format 'other/1' (expected 'diffgrasp.thing/1')"),
    ('{"a": 1}', "doc.json: unknown format None (expected 'diffgrasp.thing/1')"),
    ("[1, 2]", "doc.json: expected a JSON object, got [1, 2]"),
    ("null", "doc.json: expected a JSON object, got None"),
    ("{", "doc.json: not valid JSON (Expecting property name enclosed in double quotes at line 1 column 2)"),
])
def test_messages_are_one_line_naming_the_file(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        read_versioned_json(_write(tmp_path, text), "diffgrasp.thing/1", ConfigError)
    assert str(info.value) == f"{tmp_path}/{message}"


def test_several_versions_are_listed_and_the_label_is_the_callers():
    with pytest.raises(DiffgraspError, match=r"^x\.pt: unknown checkpoint format 'a/3' \(expected one of 'a/1', "
                                             r"'a/2'\)$"):
        check_format({"format": "a/3"}, "x.pt", ("a/1", "a/2"), what="checkpoint format")


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_versioned_json(tmp_path / "absent.json", "diffgrasp.thing/1")
