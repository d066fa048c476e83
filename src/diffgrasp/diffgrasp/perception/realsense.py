"""Intel RealSense capture (pyrealsense2): live devices by serial, recording to ``.db3`` and replay through playback.

One ``rs.pipeline`` per live camera; replay reads the playback device's sensors (:mod:`.playback`, lossless). Depth is
z16 (device units × ``depth_scale`` → metres, 0 invalid → NaN); colour optional (rgb8, same resolution); optional
alignment of depth to colour; post-processing filters from :class:`CaptureOptions` (decimation, spatial and temporal in
the disparity domain, hole filling); ``sync="inter_cam"`` sets the first camera master (mode 1) and the others slaves
(mode 2) for a hardware sync cable. pyrealsense2 2.58+ records only ``.db3``; playback reads ``.db3`` and ROS1 ``.bag``.
Without a camera, :func:`write_recording` creates a real recording through a ``software_device`` (tests, simulated
rigs).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from diffgrasp.perception.capture import Capture
from diffgrasp.perception.playback import PlaybackReader
from diffgrasp.perception.rig import CameraConfig, CaptureOptions, RigConfig

__all__ = ["list_devices", "RealSenseCamera", "capture_frames", "write_recording", "recording_paths"]


def _rs() -> Any:
    try:
        import pyrealsense2 as rs  # optional dependency (the `realsense` extra; also fails without libusb)
    except ImportError as err:  # also raised when libusb-1.0-0 is missing
        raise RuntimeError(f"pyrealsense2 is not usable ({err}); pip install pyrealsense2, apt install libusb-1.0-0")
    return rs


def list_devices() -> list[dict[str, str]]:
    """Connected RealSense devices: [{"serial", "name", "firmware"}]."""
    rs = _rs()
    out = []
    for dev in rs.context().query_devices():
        info = {k: dev.get_info(getattr(rs.camera_info, k2)) if dev.supports(getattr(rs.camera_info, k2)) else ""
                for k, k2 in (("serial", "serial_number"), ("name", "name"), ("firmware", "firmware_version"))}
        out.append(info)
    return out


def recording_paths(record: str | os.PathLike, names: Sequence[str]) -> list[Path]:
    """One ``.db3`` per camera: ``FILE.db3`` for a single camera, else ``FILE_<name>.db3``."""
    record = Path(record)
    if record.suffix != ".db3":
        raise ValueError(f"recording file must end in .db3 (pyrealsense2 ≥ 2.58 writes only .db3), got {record}")
    if len(names) == 1:
        return [record]
    return [record.with_name(f"{record.stem}_{n}.db3") for n in names]


class RealSenseCamera:
    """One depth camera (live by serial, or a playback file) configured from a :class:`CameraConfig`."""

    def __init__(self, camera: CameraConfig, options: CaptureOptions, replay: str | os.PathLike | None = None,
                 record: str | os.PathLike | None = None, sync_mode: int = 0) -> None:
        self.rs = rs = _rs()
        self.camera, self.options, self.replay = camera, options, replay
        self.playback: PlaybackReader | None = None
        if replay is not None:
            if not Path(replay).is_file():
                raise FileNotFoundError(f"recording not found: {replay}")
            self.pipe = None
            self.playback = PlaybackReader(rs, replay)
            dev = self.playback.device
            has_color = self.playback.has_color
        else:
            if not camera.serial:
                raise ValueError(f"camera {camera.name}: no serial number in the rig config")
            serials = [d["serial"] for d in list_devices()]
            if camera.serial not in serials:
                raise RuntimeError(f"camera {camera.name}: device {camera.serial} not connected "
                                   f"(connected: {', '.join(serials) or 'none'})")
            cfg = rs.config()
            cfg.enable_device(camera.serial)
            cfg.enable_stream(rs.stream.depth, camera.width, camera.height, rs.format.z16, camera.fps)
            if options.color:
                cfg.enable_stream(rs.stream.color, camera.width, camera.height, rs.format.rgb8, camera.fps)
            if record is not None:
                cfg.enable_record_to_file(str(record))
            self.pipe = rs.pipeline()
            profile = self.pipe.start(cfg)
            dev = profile.get_device()
            has_color = any(s.stream_type() == rs.stream.color for s in profile.get_streams())
        sensor = dev.first_depth_sensor()
        self.depth_scale = float(sensor.get_depth_scale())
        if sync_mode and sensor.supports(rs.option.inter_cam_sync_mode):
            sensor.set_option(rs.option.inter_cam_sync_mode, sync_mode)
        self.serial = dev.get_info(rs.camera_info.serial_number) if dev.supports(rs.camera_info.serial_number) else ""
        self.align = rs.align(rs.stream.color) if options.align_to_color and options.color else None
        self.filters = self._filters(options)
        self._has_color = has_color

    def _filters(self, o: CaptureOptions) -> list[Any]:
        rs = self.rs
        out: list[Any] = []
        if o.decimation > 1:
            dec = rs.decimation_filter()
            dec.set_option(rs.option.filter_magnitude, o.decimation)
            out.append(dec)
        if o.spatial or o.temporal:
            out.append(rs.disparity_transform(True))
            if o.spatial:
                out.append(rs.spatial_filter())
            if o.temporal:
                out.append(rs.temporal_filter())
            out.append(rs.disparity_transform(False))
        if o.hole_filling:
            out.append(rs.hole_filling_filter())
        return out

    def grab(self) -> dict[str, Any] | None:
        """Next frameset → {"depth" (H, W) float32 m NaN invalid, "raw" uint16, "K" (3, 3), "stamp" s,
        "frame_number", "color" (H, W, 3) uint8 or None}; None when a playback file is exhausted."""
        if self.playback is not None:
            fs = self.playback.next_frameset(self.options.timeout_ms)
            if fs is None:
                return None
        else:
            ok, fs = self.pipe.try_wait_for_frames(self.options.timeout_ms)
            if not ok:
                raise RuntimeError(f"camera {self.camera.name}: no frames within {self.options.timeout_ms} ms")
        if self.align is not None and fs.get_color_frame():
            fs = self.align.process(fs)
        depth = fs.get_depth_frame()
        for f in self.filters:
            depth = f.process(depth).as_depth_frame()
        raw = np.asanyarray(depth.get_data()).copy()
        intr = depth.profile.as_video_stream_profile().get_intrinsics()
        K = np.array([[intr.fx, 0.0, intr.ppx], [0.0, intr.fy, intr.ppy], [0.0, 0.0, 1.0]])
        metres = raw.astype(np.float32) * np.float32(self.depth_scale)
        metres[raw == 0] = np.nan
        color = None
        if self._has_color:
            cf = fs.get_color_frame()
            color = np.asanyarray(cf.get_data()).copy() if cf else None
        return {"depth": metres, "raw": raw, "K": K, "stamp": depth.get_timestamp() / 1000.0,
                "frame_number": int(depth.get_frame_number()), "color": color}

    def stop(self) -> None:
        if self.playback is not None:
            self.playback.close()
        else:
            self.pipe.stop()


def capture_frames(rig: RigConfig, frames: int = 1, record: str | os.PathLike | None = None,
                   replay: Sequence[str | os.PathLike] | None = None, warmup: int | None = None,
                   progress: Any = None) -> list[Capture]:
    """Grab ``frames`` framesets from the rig's cameras (live by serial, or from ``replay`` files, one per camera in
    rig order) → one :class:`Capture` per frameset (extrinsics from the rig; intrinsics from the device/recording).

    record: ``FILE.db3`` (live only), one file per camera (see :func:`recording_paths`). Warm-up frames (default
    ``rig.capture.warmup_frames`` live, 0 on replay) are dropped. A replay that runs out early returns fewer.
    """
    if frames < 1:
        raise ValueError("frames must be ≥ 1")
    if replay is not None and record is not None:
        raise ValueError("--record and --replay exclude each other")
    if replay is not None and len(replay) != len(rig.cameras):
        raise ValueError(f"{len(replay)} recording(s) for {len(rig.cameras)} camera(s) "
                         f"({', '.join(rig.names)}); give one file per camera")
    opts = rig.capture
    rec = recording_paths(record, rig.names) if record is not None else [None] * len(rig.cameras)
    cams: list[RealSenseCamera] = []
    try:
        for i, cam in enumerate(rig.cameras):
            sync = 0 if opts.sync == "none" or replay is not None else (1 if i == 0 else 2)
            cams.append(RealSenseCamera(cam, opts, replay[i] if replay is not None else None, rec[i], sync))
        n_warm = (0 if replay is not None else opts.warmup_frames) if warmup is None else warmup
        for _ in range(n_warm):
            for c in cams:
                c.grab()
        out = []
        for k in range(frames):
            grabbed = [c.grab() for c in cams]
            if any(g is None for g in grabbed):
                break
            out.append(_to_capture(rig, cams, grabbed, k))
            if progress is not None:
                progress(1)
        if not out:
            raise RuntimeError("no frames captured (empty recording?)")
        return out
    finally:
        for c in cams:
            c.stop()


def _to_capture(rig: RigConfig, cams: list[RealSenseCamera], grabbed: list[dict], k: int) -> Capture:
    shapes = {g["depth"].shape for g in grabbed}
    if len(shapes) != 1:
        raise ValueError(f"cameras deliver different depth sizes {sorted(shapes)}; use one resolution")
    color = None
    if all(g["color"] is not None and g["color"].shape[:2] == grabbed[0]["depth"].shape for g in grabbed):
        color = np.stack([g["color"] for g in grabbed])
    for cam, c in zip(rig.cameras, cams, strict=True):
        if c.serial and cam.serial and c.serial != cam.serial and c.replay is None:
            raise RuntimeError(f"camera {cam.name}: expected serial {cam.serial}, device reports {c.serial}")
    meta = {"source": "replay" if cams[0].replay is not None else "device", "frame_index": k,
            "frame_numbers": [g["frame_number"] for g in grabbed], "world_frame": rig.world_frame,
            "capture_options": dataclasses.asdict(rig.capture)}
    return Capture(rig.names, np.stack([g["depth"] for g in grabbed]), np.stack([g["K"] for g in grabbed]),
                   np.stack([c.camera_to_world() for c in rig.cameras]), np.array([g["stamp"] for g in grabbed]),
                   color, tuple(c.serial or cam.serial for c, cam in zip(cams, rig.cameras, strict=True)), meta)


def write_recording(path: str | os.PathLike, depth_mm: np.ndarray, K: np.ndarray, fps: int = 30,
                    serial: str = "000000000000", name: str = "Intel RealSense D435 (software)",
                    depth_scale: float = 0.001, color: np.ndarray | None = None) -> Path:
    """Record synthetic z16 frames (N, H, W) uint16 (device units) with intrinsics K (3, 3) to a ``.db3`` file via a
    pyrealsense2 ``software_device`` + ``recorder``: a real recording that replays like a camera's.

    color: optional (N, H, W, 3) uint8 rgb8 frames, recorded as a second sensor with the same intrinsics and an
    identity depth → colour extrinsic (so alignment to colour is exact).
    """
    rs = _rs()
    path = Path(path)
    if path.suffix != ".db3":
        raise ValueError(f"recording file must end in .db3, got {path}")
    depth_mm = np.asarray(depth_mm)
    if depth_mm.dtype != np.uint16 or depth_mm.ndim != 3:
        raise ValueError(f"depth_mm must be (N, H, W) uint16, got {depth_mm.dtype} {depth_mm.shape}")
    n, H, W = depth_mm.shape
    if color is not None:
        color = np.asarray(color)
        if color.dtype != np.uint8 or color.shape != (n, H, W, 3):
            raise ValueError(f"color must be ({n}, {H}, {W}, 3) uint8, got {color.dtype} {color.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    sd = rs.software_device()
    sd.register_info(rs.camera_info.serial_number, serial)
    sd.register_info(rs.camera_info.name, name)
    intr = rs.intrinsics()
    intr.width, intr.height = W, H
    intr.fx, intr.fy, intr.ppx, intr.ppy = float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])
    intr.model, intr.coeffs = rs.distortion.brown_conrady, [0.0] * 5

    def add(sensor_name: str, stream: Any, fmt: Any, bpp: int, uid: int) -> tuple[Any, Any]:
        sensor = sd.add_sensor(sensor_name)
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid, vs.width, vs.height, vs.fps, vs.bpp = stream, 0, uid, W, H, fps, bpp
        vs.fmt, vs.intrinsics = fmt, intr
        return sensor, sensor.add_video_stream(vs)

    streams = [(*add("Stereo Module", rs.stream.depth, rs.format.z16, 2, 0), 2, depth_mm)]
    streams[0][0].add_read_only_option(rs.option.depth_units, depth_scale)
    if color is not None:
        streams.append((*add("RGB Camera", rs.stream.color, rs.format.rgb8, 3, 1), 3, color))
        identity = rs.extrinsics()
        identity.rotation, identity.translation = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], [0.0, 0.0, 0.0]
        streams[0][1].register_extrinsics_to(streams[1][1], identity)
    recorder = rs.recorder(str(path), sd)
    queues = []
    for sensor, prof, _, _ in streams:
        sensor.open(prof)
        queues.append(rs.frame_queue(max(n, 1)))
        sensor.start(queues[-1])
    for k in range(n):
        for sensor, prof, bpp, data in streams:
            f = rs.software_video_frame()
            f.pixels = np.ascontiguousarray(data[k]).tobytes()
            f.bpp, f.stride, f.timestamp = bpp, W * bpp, k * 1000.0 / fps
            f.domain, f.frame_number, f.profile = rs.timestamp_domain.hardware_clock, k, prof.as_video_stream_profile()
            sensor.on_video_frame(f)
        time.sleep(0.01)
    for sensor, *_ in streams:
        sensor.stop()
        sensor.close()
    del recorder  # flushes and closes the file
    return path
