"""RealSense record/replay without a camera: pyrealsense2 software device → .db3 → `diffgrasp capture --replay`."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

pytest.importorskip("pyrealsense2")

from diffgrasp.cli import main  # noqa: E402
from diffgrasp.perception.capture import read_capture  # noqa: E402
from diffgrasp.perception.depth import metres_to_mm_u16  # noqa: E402
from diffgrasp.perception.realsense import capture_frames, recording_paths, write_recording  # noqa: E402
from diffgrasp.perception.rig import load_rig, rig_to_dict  # noqa: E402
from diffgrasp.perception.simulate import ring_rig, simulate_capture  # noqa: E402


@pytest.fixture(scope="module")
def recordings(tmp_path_factory, shared_objects):
    """Two cameras, three frames each (simulated noisy depth of a real object), recorded as real .db3 files."""
    root = tmp_path_factory.mktemp("rs")
    sim = ring_rig(2)
    frames = {cam.name: [] for cam in sim.cameras}
    for k in range(3):
        cap = simulate_capture(shared_objects / "057_racquetball.obj", sim, noise="realsense", seed=10 + k)
        for i, cam in enumerate(sim.cameras):
            frames[cam.name].append(metres_to_mm_u16(cap.depth[i]))
    files = []
    for cam in sim.cameras:
        files.append(write_recording(root / f"{cam.name}.db3", np.stack(frames[cam.name]), cam.intrinsics_matrix(),
                                     serial=cam.serial))
    data = rig_to_dict(sim)
    for c in data["cameras"]:
        c["intrinsics"] = "from_device"
    (root / "cameras.yaml").write_text(yaml.safe_dump(data))
    return root, sim, frames, files


def test_replay_through_cli_gives_identical_frames(recordings, tmp_path):
    root, sim, frames, files = recordings
    out = tmp_path / "cap"
    rc = main(["capture", "--cameras", str(root / "cameras.yaml"), "--replay", *map(str, files), "-o", str(out),
               "--frames", "3"])
    assert rc == 0
    for k in range(3):
        cap = read_capture(out / "frames" / f"{k:04d}")
        assert cap.names == sim.names and cap.metadata["source"] == "replay"
        for i, cam in enumerate(sim.cameras):
            assert np.array_equal(metres_to_mm_u16(cap.depth[i]), frames[cam.name][k]), (k, cam.name)
            np.testing.assert_allclose(cap.intrinsics[i], cam.intrinsics_matrix(), rtol=1e-6)
            np.testing.assert_allclose(cap.camera_to_world[i], cam.camera_to_world(), atol=1e-6)
        np.testing.assert_allclose(cap.stamps, k / 30.0, atol=1e-4)
        assert cap.serials == tuple(c.serial for c in sim.cameras)
    top = read_capture(out)
    assert top.metadata["frames_combined"] == 3
    med = np.median(np.stack([f for f in frames[sim.names[0]]]).astype(float), axis=0)
    both = np.isfinite(top.depth[0]) & (np.stack(frames[sim.names[0]]) > 0).all(0)
    np.testing.assert_allclose(top.depth[0][both] * 1000, med[both], atol=0.51)


def test_replay_returns_what_the_recording_holds(recordings):
    root, sim, frames, files = recordings
    rig = load_rig(root / "cameras.yaml")
    caps = capture_frames(rig, frames=10, replay=files)
    assert len(caps) == 3
    assert np.array_equal(metres_to_mm_u16(caps[2].depth[1]), frames[sim.names[1]][2])


def test_replay_and_record_errors(recordings, tmp_path, capsys):
    root, sim, frames, files = recordings
    rig = load_rig(root / "cameras.yaml")
    with pytest.raises(ValueError, match="1 recording"):
        capture_frames(rig, replay=files[:1])
    with pytest.raises(FileNotFoundError, match="recording not found"):
        capture_frames(rig, replay=[tmp_path / "a.db3", tmp_path / "b.db3"])
    with pytest.raises(ValueError, match=r"must end in \.db3"):
        recording_paths(tmp_path / "x.bag", ["a"])
    assert [p.name for p in recording_paths(tmp_path / "x.db3", ["a", "b"])] == ["x_a.db3", "x_b.db3"]
    rc = main(["capture", "--replay", str(files[0]), "-o", str(tmp_path / "c")])
    assert rc == 2 and "--cameras is required" in capsys.readouterr().err


def test_live_capture_without_device_is_a_clear_error(recordings):
    root, *_ = recordings
    rig = load_rig(root / "cameras.yaml")
    with pytest.raises(RuntimeError, match=r"device sim0000 not connected"):
        capture_frames(rig)


def test_post_processing_filters_run_on_replay(recordings, tmp_path):
    root, sim, frames, files = recordings
    data = yaml.safe_load((root / "cameras.yaml").read_text())
    data["capture"] = {"decimation": 2, "spatial": True, "temporal": True, "hole_filling": False}
    (tmp_path / "cams.yaml").write_text(yaml.safe_dump(data))
    caps = capture_frames(load_rig(tmp_path / "cams.yaml"), frames=2, replay=files)
    raw = frames[sim.names[0]][0]
    assert caps[0].depth.shape[1:] == (raw.shape[0] // 2, raw.shape[1] // 2)
    np.testing.assert_allclose(caps[0].intrinsics[0, 0, 0], sim.cameras[0].intrinsics_matrix()[0, 0] / 2, rtol=1e-3)
    valid = np.isfinite(caps[0].depth[0])
    assert valid.mean() > 0.3
    # filtered depth stays close to the recorded depth on the table (median over the decimated blocks)
    blocks = raw.reshape(raw.shape[0] // 2, 2, raw.shape[1] // 2, 2).astype(float)
    ref = blocks.mean(axis=(1, 3)) / 1000.0
    both = valid & (blocks > 0).all(axis=(1, 3))
    err = np.abs(caps[0].depth[0][both] - ref[both])
    assert np.median(err) < 0.005 and np.percentile(err, 90) < 0.02


def _rig_for(root, sim, data_updates=None):
    data = rig_to_dict(sim)
    for c in data["cameras"]:
        c["intrinsics"] = "from_device"
    data["capture"] = {**data.get("capture", {}), **(data_updates or {})}
    (root / "cams.yaml").write_text(yaml.safe_dump(data))
    return load_rig(root / "cams.yaml")


def test_replay_of_a_long_recording_keeps_every_frame_for_a_slow_reader(tmp_path, monkeypatch):
    """40 frames through playback buffers of 2: the playback waits for the reader instead of dropping frames."""
    import time

    from diffgrasp.perception import playback

    sim = ring_rig(1)
    cam = sim.cameras[0]
    depth = (np.arange(40, dtype=np.uint16)[:, None, None] + 400 + np.zeros((1, 24, 32), np.uint16))
    K = np.array([[30.0, 0, 16], [0, 30.0, 12], [0, 0, 1]])
    f = write_recording(tmp_path / "long.db3", depth, K, serial=cam.serial)
    monkeypatch.setattr(playback.PlaybackReader, "max_buffered", 2)
    original = playback.PlaybackReader.next_frameset

    def slow(self, timeout_ms):
        time.sleep(0.01)
        return original(self, timeout_ms)

    monkeypatch.setattr(playback.PlaybackReader, "next_frameset", slow)
    caps = capture_frames(_rig_for(tmp_path, sim), frames=100, replay=[f])
    assert len(caps) == 40
    assert [int(round(c.depth[0, 0, 0] * 1000)) for c in caps] == list(range(400, 440))
    assert [c.metadata["frame_numbers"][0] for c in caps] == list(range(40))


def test_replay_reads_nothing_until_every_sensor_started(tmp_path, monkeypatch):
    """A frame the playback reads for a sensor not yet started is lost; here the colour sensor starts 0.2 s after the
    depth sensor, and still every depth and colour frame arrives once, in recorded order, none before both started."""
    import time

    import pyrealsense2 as rs

    from diffgrasp.perception import playback

    n, H, W = 3, 24, 32
    depth = np.full((n, H, W), 500, np.uint16) + np.arange(n, dtype=np.uint16)[:, None, None]
    color = np.zeros((n, H, W, 3), np.uint8) + (10 * np.arange(n, dtype=np.uint8))[:, None, None, None]
    K = np.array([[30.0, 0, 16], [0, 30.0, 12], [0, 0, 1]])
    f = write_recording(tmp_path / "c.db3", depth, K, color=color)
    events = []
    start, on_frame = playback.PlaybackReader._start, playback.PlaybackReader._on_frame

    def slow_start(self, sensor):
        start(self, sensor)
        events.append("start")
        time.sleep(0.2)

    def logged(self, frame):
        events.append((frame.get_profile().stream_type().name, frame.get_frame_number()))
        on_frame(self, frame)

    monkeypatch.setattr(playback.PlaybackReader, "_start", slow_start)
    monkeypatch.setattr(playback.PlaybackReader, "_on_frame", logged)
    reader = playback.PlaybackReader(rs, f)
    try:
        pairs = []
        while (fs := reader.next_frameset(2000)) is not None:
            pairs.append((int(np.asanyarray(fs.get_depth_frame().get_data())[0, 0]) - 500,
                          int(np.asanyarray(fs.get_color_frame().get_data())[0, 0, 0]) // 10))
    finally:
        reader.close()
    assert events[:2] == ["start", "start"], events
    assert sorted(events[2:]) == [(s, k) for s in ("color", "depth") for k in range(n)], events
    assert pairs == [(k, k) for k in range(n)]


def test_replay_with_colour_pairs_frames_and_aligns(tmp_path):
    sim = ring_rig(1)
    cam = sim.cameras[0]
    n, H, W = 3, 24, 32
    depth = np.full((n, H, W), 500, np.uint16) + np.arange(n, dtype=np.uint16)[:, None, None]
    depth[:, :, :4] = 0
    color = np.zeros((n, H, W, 3), np.uint8) + (10 * np.arange(n, dtype=np.uint8))[:, None, None, None]
    color[:, 5, 7] = (1, 2, 3)
    K = np.array([[30.0, 0, 16], [0, 30.0, 12], [0, 0, 1]])
    f = write_recording(tmp_path / "c.db3", depth, K, serial=cam.serial, color=color)
    for align in (False, True):
        rig = _rig_for(tmp_path, sim, {"color": True, "align_to_color": align})
        caps = capture_frames(rig, frames=10, replay=[f])
        assert len(caps) == 3, align
        for k, cap in enumerate(caps):
            np.testing.assert_array_equal(cap.color[0], color[k])
            valid = np.isfinite(cap.depth[0])
            # same intrinsics, identity extrinsic: aligned depth lands on the same pixels (edges may lose a pixel)
            assert valid[:, 6:-1].all() and not valid[:, :3].any(), align
            np.testing.assert_allclose(cap.depth[0][valid], (500 + k) / 1000.0, atol=1e-6)
    with pytest.raises(ValueError, match=r"color must be \(3, 24, 32, 3\) uint8"):
        write_recording(tmp_path / "bad.db3", depth, K, color=color[:2])
