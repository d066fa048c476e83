"""Capture directory format: round trips and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from diffgrasp.errors import DiffgraspError, MissingFileError, PathConfinementError
from diffgrasp.perception.capture import (
    Capture,
    CaptureError,
    pose_from_json,
    pose_to_json,
    read_capture,
    write_capture,
)
from diffgrasp.perception.simulate import look_at


def _capture(V: int = 2, H: int = 24, W: int = 32) -> Capture:
    rng = np.random.default_rng(1)
    depth = rng.uniform(0.3, 1.2, (V, H, W)).astype(np.float32)
    depth[:, :3, :4] = np.nan
    K = np.array([[40.0, 0, W / 2 - 0.5], [0, 41.0, H / 2 - 0.5], [0, 0, 1]])
    Ts = np.stack([look_at([0.5 * np.cos(a), 0.5 * np.sin(a), 0.4], [0, 0, 0]) for a in np.linspace(0, 3, V)])
    color = rng.integers(0, 255, (V, H, W, 3), dtype=np.uint8)
    return Capture(tuple(f"c{i}" for i in range(V)), depth, np.stack([K] * V), Ts, np.arange(V) * 0.01, color,
                   tuple(f"{i:012d}" for i in range(V)),
                   {"object_pose_world": pose_to_json(look_at([0.1, 0.2, 0.3], [0, 0, 0]))})


@pytest.mark.parametrize("fmt, atol", [("png", 5e-4 + 1e-7), ("npy", 0.0)])
def test_round_trip(tmp_path, fmt, atol):
    cap = _capture()
    write_capture(tmp_path / "cap", cap, {"note": "x"}, depth_format=fmt)
    back = read_capture(tmp_path / "cap")
    assert back.names == cap.names and back.serials == cap.serials
    assert np.array_equal(np.isnan(back.depth), np.isnan(cap.depth))
    np.testing.assert_allclose(back.depth, cap.depth, atol=atol)
    np.testing.assert_allclose(back.intrinsics, cap.intrinsics)
    np.testing.assert_allclose(back.camera_to_world, cap.camera_to_world, atol=1e-12)
    np.testing.assert_array_equal(back.color, cap.color)
    np.testing.assert_allclose(back.stamps, cap.stamps)
    assert back.metadata["note"] == "x"
    doc = json.loads((tmp_path / "cap" / "capture.json").read_text())
    assert doc["format"] == "diffgrasp.capture/1"
    assert set(doc["object_pose_world"]) == {"position", "quaternion_xyzw"}
    np.testing.assert_allclose(pose_from_json(doc["object_pose_world"]),
                               pose_from_json(cap.metadata["object_pose_world"]))
    assert doc["cameras"][0]["depth_encoding"] == ("16UC1" if fmt == "png" else "32FC1")


def test_subset_and_shape_checks():
    cap = _capture(3)
    sub = cap.subset([2, 0])
    assert sub.names == ("c2", "c0") and sub.depth.shape == (2, 24, 32)
    with pytest.raises(ValueError, match=r"capture.intrinsics: expected shape \(3, 3, 3\)"):
        Capture(cap.names, cap.depth, cap.intrinsics[:2], cap.camera_to_world, cap.stamps)
    with pytest.raises(ValueError, match="missing calibration for c1"):
        T = cap.camera_to_world.copy()
        T[1] = np.nan
        Capture(cap.names, cap.depth, cap.intrinsics, T, cap.stamps)


def _edit(tmp_path, fn):
    cap = _capture()
    write_capture(tmp_path / "cap", cap)
    path = tmp_path / "cap" / "capture.json"
    doc = json.loads(path.read_text())
    fn(doc, tmp_path / "cap")
    path.write_text(json.dumps(doc))
    return tmp_path / "cap"


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no capture.json"):
        read_capture(tmp_path)


def test_missing_calibration(tmp_path):
    d = _edit(tmp_path, lambda doc, _: doc["cameras"][1].pop("camera_to_world"))
    with pytest.raises(ValueError, match="missing calibration for c1"):
        read_capture(d)


def test_wrong_format_and_encoding(tmp_path):
    d = _edit(tmp_path, lambda doc, _: doc.update(format="other/2"))
    with pytest.raises(ValueError, match="unknown format"):
        read_capture(d)
    d = _edit(tmp_path, lambda doc, _: doc["cameras"][0].update(depth_encoding="rgb8"))
    with pytest.raises(ValueError, match="camera c0: unsupported depth encoding 'rgb8'"):
        read_capture(d)


def test_eight_bit_png_rejected(tmp_path):
    def to8(doc, root):
        Image.fromarray(np.zeros((24, 32), np.uint8)).save(root / doc["cameras"][0]["depth"])
    with pytest.raises(ValueError, match="not a 16-bit PNG"):
        read_capture(_edit(tmp_path, to8))


def test_missing_depth_file(tmp_path):
    d = _edit(tmp_path, lambda doc, root: (root / doc["cameras"][1]["depth"]).unlink())
    with pytest.raises(FileNotFoundError, match="camera c1: depth file not found"):
        read_capture(d)


def test_all_zero_depth_is_rejected_on_validate(tmp_path):
    def zero(doc, root):
        Image.fromarray(np.zeros((24, 32), np.uint16)).save(root / doc["cameras"][0]["depth"])
    cap = read_capture(_edit(tmp_path, zero))
    with pytest.raises(ValueError, match="camera c0: depth image has no valid pixel"):
        cap.validate()


@pytest.mark.parametrize("path", ["../../../../etc/passwd", "/etc/passwd", "depth/../../outside.png", "link.png"])
def test_image_paths_must_stay_inside_the_capture(tmp_path, path):
    """A capture.json may not make fuse read a file outside its folder (symlinks resolved)."""
    def escape(doc, root):
        (root.parent / "outside.png").write_bytes((root / doc["cameras"][0]["depth"]).read_bytes())
        (root / "link.png").symlink_to(root.parent / "outside.png")
        doc["cameras"][1]["depth"] = path
    with pytest.raises(PathConfinementError, match=r"capture\.json: camera c1\.depth: .*(outside|absolute)") as info:
        read_capture(_edit(tmp_path, escape))
    assert "\n" not in str(info.value)
    d = _edit(tmp_path / "b", lambda doc, _: doc["cameras"][0].update(color="../../x.png"))
    with pytest.raises(PathConfinementError, match="camera c0.color"):
        read_capture(d)


def test_depth_file_that_is_not_an_image(tmp_path):
    d = _edit(tmp_path, lambda doc, root: (root / doc["cameras"][1]["depth"]).write_bytes(b"hello"))
    with pytest.raises(CaptureError, match=r"capture\.json: camera c1: depth/c1\.png is not a depth image "
                                           r"\(16-bit PNG or float32 \.npy\) \(unrecognised image format\)$"):
        read_capture(d)


def test_a_smaller_view_is_blamed_not_a_good_one(tmp_path):
    """The first camera's image is 16x12 among 32x24 ones: the message names c0 (the odd one), never c1."""
    def shrink(doc, root, declared):
        Image.fromarray(np.full((12, 16), 500, np.uint16)).save(root / doc["cameras"][0]["depth"])
        if not declared:
            for cam in doc["cameras"]:
                cam.pop("width"), cam.pop("height")
    with pytest.raises(CaptureError, match=r"camera c0: depth image depth/c0\.png is 16x12, but capture\.json gives "
                                           r"32x24 for this camera"):
        read_capture(_edit(tmp_path / "a", lambda doc, root: shrink(doc, root, True)))
    cap = _capture(3)
    write_capture(tmp_path / "b", cap)
    doc = json.loads((tmp_path / "b" / "capture.json").read_text())
    shrink(doc, tmp_path / "b", False)
    (tmp_path / "b" / "capture.json").write_text(json.dumps(doc))
    with pytest.raises(CaptureError, match=r"camera c0 \(depth/c0\.png is 16x12\): differs from the 2 other view\(s\) "
                                           r"at 32x24") as info:
        read_capture(tmp_path / "b")
    assert "c1" not in str(info.value) and "c2" not in str(info.value)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda doc, _: doc.update(cameras={"a": 1}), "cameras: expected a non-empty list"),
    (lambda doc, _: doc["cameras"][0].update(intrinsics={"fx": "a"}), "camera c0: intrinsics need fx, fy, cx, cy"),
    (lambda doc, _: doc["cameras"][0].update(intrinsics={"fx": -1, "fy": 1, "cx": 1, "cy": 1}),
     "camera c0: intrinsics.fx: expected a positive number"),
    (lambda doc, _: doc["cameras"][0]["camera_to_world"].update(position=[1e400, 0, 0]),
     "camera c0: camera_to_world.position: expected 3 finite numbers"),
    (lambda doc, _: doc["cameras"][0].update(stamp=[1]), "camera c0: stamp: expected a number, got [1]"),
    (lambda doc, _: doc["cameras"][0].update(depth_encoding=["16UC1"]), "camera c0: unsupported depth encoding"),
    (lambda doc, _: doc["cameras"][0].update(width="32"), "camera c0: width: expected a positive integer"),
])
def test_bad_capture_json_values_are_one_line_errors(tmp_path, edit, message):
    with pytest.raises(CaptureError) as info:
        read_capture(_edit(tmp_path, edit))
    assert message in str(info.value) and "capture.json" in str(info.value) and "\n" not in str(info.value)


def test_capture_json_not_json_and_missing_image_is_both_error_types(tmp_path):
    d = _edit(tmp_path, lambda doc, root: None)
    (d / "capture.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(CaptureError, match="capture.json: not UTF-8 text"):
        read_capture(d)
    d = _edit(tmp_path / "b", lambda doc, root: (root / doc["cameras"][0]["color"]).unlink())
    with pytest.raises(MissingFileError, match="camera c0: colour file not found") as info:
        read_capture(d)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, DiffgraspError)


def test_unsafe_camera_names_are_not_written(tmp_path):
    cap = _capture()
    bad = Capture(("../evil", "c1"), cap.depth, cap.intrinsics, cap.camera_to_world, cap.stamps)
    with pytest.raises(DiffgraspError, match="cannot name files"):
        write_capture(tmp_path / "cap", bad)
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "cap" / "depth").exists()
