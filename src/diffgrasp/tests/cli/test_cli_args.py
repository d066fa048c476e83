"""The CLI validation layer (diffgrasp.cli.args): argparse types, output-path checks, one-line error reporting."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import pytest

from diffgrasp.cli.args import (
    OneLineArgumentParser,
    OutputPathError,
    check_output_dir,
    check_output_file,
    existing_dir,
    existing_file,
    float_range,
    int_range,
    load_config_arg,
    non_negative_int,
    one_line,
    positive_float,
    positive_int,
    run_reported,
    torch_device,
)
from diffgrasp.errors import DiffgraspError, DiffgraspWarning


# ------------------------------------------------------------------------------------------------------ number types
@pytest.mark.parametrize("parse, text, value", [
    (non_negative_int, "0", 0), (positive_int, "7", 7), (int_range(64, 2048), "2048", 2048),
    (positive_float, "1e-3", 1e-3), (float_range(0.0), "0", 0.0)])
def test_number_types_accept(parse, text, value):
    assert parse(text) == value


@pytest.mark.parametrize("parse, text, message", [
    (non_negative_int, "-1", "must be ≥ 0, got -1"),
    (positive_int, "0", "must be ≥ 1, got 0"),
    (positive_int, "1.5", "expected an integer, got '1.5'"),
    (int_range(64, 2048), "63", "must be within 64..2048, got 63"),
    (int_range(hi=5), "6", "must be ≤ 5, got 6"),
    (positive_float, "0", "must be > 0, got 0"),
    (positive_float, "nan", "must be a finite number, got nan"),
    (non_negative_float := float_range(0.0), "-inf", "must be a finite number"),
    (non_negative_float, "-0.5", "must be ≥ 0, got -0.5"),
    (float_range(0.0, 1.0), "2", "must be ≤ 1, got 2"),
    (positive_float, "fast", "expected a number, got 'fast'")])
def test_number_types_reject_with_the_reason(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match="^" + message.replace(".", r"\.")):
        parse(text)


# -------------------------------------------------------------------------------------------------------- input paths
def test_existing_file_and_dir(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    assert existing_file(str(tmp_path / "a.txt")) == tmp_path / "a.txt"
    assert existing_dir(str(tmp_path)) == tmp_path
    with pytest.raises(argparse.ArgumentTypeError, match="no such file"):
        existing_file(str(tmp_path / "b.txt"))
    with pytest.raises(argparse.ArgumentTypeError, match="is a directory, expected a file"):
        existing_file(str(tmp_path))
    with pytest.raises(argparse.ArgumentTypeError, match="no such directory"):
        existing_dir(str(tmp_path / "none"))
    with pytest.raises(argparse.ArgumentTypeError, match="is a file, expected a directory"):
        existing_dir(str(tmp_path / "a.txt"))


def test_torch_device():
    import torch

    assert torch_device("cpu") == "cpu"
    with pytest.raises(argparse.ArgumentTypeError, match="unknown device 'banana'"):
        torch_device("banana")
    with pytest.raises(argparse.ArgumentTypeError, match="unsupported device 'meta'"):
        torch_device("meta")
    with pytest.raises(argparse.ArgumentTypeError, match="cuda:99"):
        torch_device("cuda:99")
    if not torch.cuda.is_available():
        with pytest.raises(argparse.ArgumentTypeError, match="no CUDA device is usable.*use --device cpu"):
            torch_device("cuda")


# ------------------------------------------------------------------------------------------------------- output paths
def test_check_output_file_accepts_new_and_existing_files_without_creating_anything(tmp_path):
    deep = tmp_path / "a" / "b" / "out.json"
    assert check_output_file(deep, "-o", (".json",)) == deep
    assert not (tmp_path / "a").exists()  # checked, not created
    existing = tmp_path / "old.JSON"
    existing.write_text("keep")
    assert check_output_file(existing, "-o", (".json",)) == existing  # suffix case-insensitive
    assert existing.read_text() == "keep" and sorted(p.name for p in tmp_path.iterdir()) == ["old.JSON"]


@pytest.mark.parametrize("make, suffixes, message", [
    (lambda d: d, (".json",), "is an existing directory, expected a file name"),
    (lambda d: d / "x.txt", (".json", ".npy"), r"must end with \.json or \.npy \(got \.txt\)"),
    (lambda d: d / "noext", (".png",), r"must end with \.png \(got no suffix\)"),
    (lambda d: d / "file.json" / "x.json", (".json",), "file.json is not a directory"),
    (lambda d: d / "file.json" / "deeper" / "x.json", (), "file.json is not a directory"),
    (lambda d: Path("/proc/x.json"), (".json",), "cannot create files in /proc"),
    (lambda d: Path("/dev/null"), (), "exists and is not a regular file"),
])
def test_check_output_file_rejects_with_flag_path_and_reason(tmp_path, make, suffixes, message):
    (tmp_path / "file.json").write_text("{}")
    path = make(tmp_path)
    with pytest.raises(OutputPathError, match=message) as info:
        check_output_file(path, "-o", suffixes)
    assert str(info.value).startswith(f"-o {path}: ") and "\n" not in str(info.value)
    assert isinstance(info.value, DiffgraspError)


def test_check_output_dir(tmp_path):
    assert check_output_dir(tmp_path, "-o") == tmp_path
    assert check_output_dir(tmp_path / "new" / "deeper", "-o") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputPathError, match=r"^-o .*f: is an existing file, expected a directory$"):
        check_output_dir(tmp_path / "f", "-o")
    with pytest.raises(OutputPathError, match="f is not a directory"):
        check_output_dir(tmp_path / "f" / "sub", "-o")
    with pytest.raises(OutputPathError, match="cannot create files in /proc"):
        check_output_dir("/proc/capture", "-o")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_check_output_file_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    with pytest.raises(OutputPathError, match="not writable"):
        check_output_file(ro / "x.json", "-o", (".json",))


# ------------------------------------------------------------------------------------------------ parser and reporting
def test_parser_usage_errors_are_one_line(capsys):
    parser = OneLineArgumentParser(prog="diffgrasp plan")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["--seed", "-1"])
    assert info.value.code == 2
    assert capsys.readouterr().err == ("diffgrasp plan: error: argument --seed: must be ≥ 0, got -1 "
                                       "(see diffgrasp plan --help)\n")


def _report(capsys, fn, debug=False):
    rc = run_reported("diffgrasp x", fn, debug=debug)
    return rc, capsys.readouterr().err


def _raise(err):
    def fn():
        raise err
    return fn


@pytest.mark.parametrize("err, line", [
    (DiffgraspError("mesh.obj: not watertight"), "diffgrasp x: error: mesh.obj: not watertight"),
    (ValueError("bad\nsecond line"), "diffgrasp x: error: bad […]"),
    (FileNotFoundError("grasp file not found: g.json"), "diffgrasp x: error: grasp file not found: g.json"),
    (IsADirectoryError(21, "Is a directory", "out"), "diffgrasp x: error: out: Is a directory"),
    (PermissionError(13, "Permission denied", "a", None, "b"), "diffgrasp x: error: a → b: Permission denied"),
    (RuntimeError("device sim0000 not connected"), "diffgrasp x: error: device sim0000 not connected")])
def test_user_errors_exit_2_with_one_line(capsys, err, line):
    rc, out = _report(capsys, _raise(err))
    assert rc == 2 and out == line + "\n"


def test_internal_errors_exit_1_and_debug_shows_the_traceback(capsys):
    rc, out = _report(capsys, _raise(KeyError("q1")))
    assert rc == 1 and out == ("diffgrasp x: internal error: KeyError: 'q1' (rerun with --debug for the traceback)\n")
    rc, out = _report(capsys, _raise(KeyError("q1")), debug=True)
    assert rc == 1 and "Traceback" in out and out.endswith("diffgrasp x: internal error: KeyError: 'q1'\n")
    rc, out = _report(capsys, _raise(ValueError("bad")), debug=True)
    assert rc == 2 and "Traceback" in out and out.endswith("diffgrasp x: error: bad\n")
    rc, out = _report(capsys, _raise(KeyboardInterrupt()))
    assert rc == 130 and out == "diffgrasp x: interrupted\n"
    assert _report(capsys, lambda: None) == (0, "") and _report(capsys, lambda: 1) == (1, "")


def test_error_after_a_progress_bar_starts_on_a_fresh_line(capsys):
    from tqdm import tqdm

    def work():
        bar = tqdm(total=10, desc="plan", file=sys.stderr)
        bar.update(3)
        raise DiffgraspError("late problem")

    rc, out = _report(capsys, work)
    assert rc == 2 and out.endswith("\ndiffgrasp x: error: late problem\n")


def test_diffgrasp_warnings_are_one_line_and_others_pass_through(capsys):
    def work():
        warnings.warn("mesh.obj: 2 disconnected parts\nsecond line", DiffgraspWarning, stacklevel=1)
        warnings.warn("mesh.obj: 2 disconnected parts\nsecond line", DiffgraspWarning, stacklevel=1)  # said once
        warnings.warn("mesh.obj: simplified", DiffgraspWarning, stacklevel=1)
        return 0

    assert _report(capsys, work) == (0, "diffgrasp x: warning: mesh.obj: 2 disconnected parts […]\n"
                                        "diffgrasp x: warning: mesh.obj: simplified\n")
    before = warnings.showwarning
    with pytest.warns(UserWarning, match="plain"):
        run_reported("diffgrasp x", lambda: warnings.warn("plain", UserWarning, stacklevel=1))
    assert warnings.showwarning is before  # restored


def test_load_config_arg_names_flag_and_file(tmp_path):
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Cfg:
        n: int = 1

        def __post_init__(self):
            if self.n < 0:
                raise ValueError("n: must be ≥ 0")

    path = tmp_path / "c.yaml"
    path.write_text("n: -3\n")
    with pytest.raises(DiffgraspError, match=r"c\.yaml.*n: must be ≥ 0"):
        load_config_arg(Cfg, path)
    assert load_config_arg(Cfg, None, {"n": 2}).n == 2


def test_one_line():
    assert one_line("a\n\n b \n") == "a […]" and one_line("  ") == "" and one_line(ValueError("x")) == "x"


# ------------------------------------------------------------------------------------------------ through cli.main
def test_main_debug_flag_and_internal_errors(tmp_path, capsys, monkeypatch):
    from diffgrasp import cli
    from diffgrasp.cli import export as export_cli

    grasps = tmp_path / "g.json"
    grasps.write_text("{}")
    for argv in (["--debug", "export", str(grasps), "-o", str(tmp_path)],
                 ["export", str(grasps), "-o", str(tmp_path), "--debug"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" in err and err.splitlines()[-1].startswith("diffgrasp export: error: -o ")

    def broken(args):
        raise TypeError("unsupported operand")
    monkeypatch.setattr(export_cli, "run", broken)
    assert cli.main(["export", str(grasps), "-o", str(tmp_path / "q.npy")]) == 1
    assert capsys.readouterr().err == ("diffgrasp export: internal error: TypeError: unsupported operand "
                                       "(rerun with --debug for the traceback)\n")

    def warns(args):
        warnings.warn("g.json: 2 grasps duplicated", DiffgraspWarning, stacklevel=1)
        return 0
    monkeypatch.setattr(export_cli, "run", warns)
    assert cli.main(["export", str(grasps), "-o", str(tmp_path / "q.npy")]) == 0
    assert capsys.readouterr().err == "diffgrasp export: warning: g.json: 2 grasps duplicated\n"
