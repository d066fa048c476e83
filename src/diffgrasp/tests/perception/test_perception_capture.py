"""Capture directory format: round trips and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from diffgrasp.perception.capture import Capture, pose_from_json, pose_to_json, read_capture, write_capture
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
    np.testing.assert_allclose(pose_from_json(doc["object_pose_world"]), pose_from_json(cap.metadata["object_pose_world"]))
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
