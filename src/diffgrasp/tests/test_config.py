"""Config loading: YAML values coerced to the field types; each error is one ConfigError line naming file and key."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest

from diffgrasp.config import coerce_value, from_dict, load_config
from diffgrasp.errors import ConfigError, DiffgraspError


@dataclasses.dataclass(frozen=True)
class Inner:
    seed: int = 0
    scale: tuple[float, float] = (1.0, 2.0)


@dataclasses.dataclass(frozen=True)
class Outer:
    lr: float = 1e-3
    steps: int = 10
    enabled: bool = False
    name: str = "x"
    budget: float | None = None
    mode: Literal["fast", "slow"] = "fast"
    channels: tuple[int, ...] = (4, 8)
    weights: dict[str, float] = dataclasses.field(default_factory=dict)
    inner: Inner = Inner()

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"Outer.steps: must be ≥ 1, got {self.steps}")


def _load(tmp_path, text: str) -> Outer:
    path = tmp_path / "outer.yaml"
    path.write_text(text)
    return load_config(Outer, path)


def test_yaml_scalars_are_coerced_to_the_field_types(tmp_path):
    cfg = _load(tmp_path, "lr: 1e-3\nsteps: 1e4\nbudget: 5\nchannels: [1, 2.0, '3']\nweights: {a: 1, b: '2e-1'}\n"
                          "inner: {seed: '7', scale: [1, 3]}\n")
    assert cfg.lr == 1e-3 and type(cfg.lr) is float          # PyYAML reads 1e-3 (no dot) as the string '1e-3'
    assert cfg.steps == 10000 and type(cfg.steps) is int
    assert cfg.budget == 5.0 and type(cfg.budget) is float
    assert cfg.channels == (1, 2, 3) and cfg.weights == {"a": 1.0, "b": 0.2}
    assert cfg.inner == Inner(seed=7, scale=(1.0, 3.0))
    assert _load(tmp_path, "budget: null\nenabled: yes\n") == Outer(budget=None, enabled=True)  # YAML 1.1 bool


@pytest.mark.parametrize(("text", "message"), [
    ("lr: abc\n", "outer.yaml: lr: expected a float, got 'abc'"),
    ("lr: .nan\n", "outer.yaml: lr: expected a float, got nan"),
    ("steps: 1.5\n", "outer.yaml: steps: expected an integer, got 1.5"),
    ("steps: true\n", "outer.yaml: steps: expected an integer, got True"),
    ("enabled: 'yes'\n", "outer.yaml: enabled: expected true or false, got 'yes'"),
    ("enabled: 1\n", "outer.yaml: enabled: expected true or false, got 1"),
    ("name: 5\n", "outer.yaml: name: expected a string, got 5"),
    ("mode: medium\n", "outer.yaml: mode: expected one of 'fast', 'slow', got 'medium'"),
    ("channels: 4\n", "outer.yaml: channels: expected a list of integers, got 4"),
    ("inner: {seed: x}\n", "outer.yaml: inner.seed: expected an integer, got 'x'"),
    ("inner: {scale: [1]}\n", "outer.yaml: inner.scale: expected a list of 2 floats, got [1] (1 given)"),
    ("inner: {sead: 1}\n", "outer.yaml: unknown key(s) inner.sead; valid in inner: scale, seed"),
    ("inner: 3\n", "outer.yaml: inner: expected a mapping of Inner settings, got 3"),
    ("weights: {a: [1]}\n", "outer.yaml: weights.a: expected a float, got [1]"),
    ("steps: 0\n", "outer.yaml: Outer.steps: must be ≥ 1, got 0"),
    ("- 1\n", "outer.yaml: expected a mapping of Outer settings at the top level, got [1]"),
    ("lr: [1\n", "outer.yaml: invalid YAML at line 2, column 1"),
    ("steps: " + "9" * 5000 + "\n", "outer.yaml: invalid YAML"),
])
def test_errors_are_one_line_naming_file_and_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_overrides(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(Outer, tmp_path)
    path = tmp_path / "outer.yaml"
    path.write_text("lr: 0.5\n")
    assert load_config(Outer, path, {"steps": 3, "lr": None}) == Outer(lr=0.5, steps=3)
    with pytest.raises(ConfigError, match=r"^Outer override: steps: expected an integer, got 'x'$"):
        load_config(Outer, path, {"steps": "x"})  # a bad override is not blamed on the file
    with pytest.raises(ConfigError, match="unknown key.*bogus"):
        load_config(Outer, path, {"bogus": 1})


def test_from_dict_and_coerce_value_without_a_file():
    assert from_dict(Outer, {"lr": "2e-2"}).lr == 0.02
    with pytest.raises(ConfigError, match=r"^section.lr: expected a float, got 'x'$"):
        from_dict(Outer, {"lr": "x"}, prefix="section.")
    with pytest.raises(ConfigError, match=r"^f\.yaml: lr"):
        from_dict(Outer, {"lr": "x"}, source="f.yaml")
    assert coerce_value(10**400, int, "k") == 10**400
    with pytest.raises(DiffgraspError, match="too large for a float"):
        coerce_value(10**400, float, "k")
    assert coerce_value(None, int | None, "k") is None
