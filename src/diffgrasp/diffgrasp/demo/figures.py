"""PNG/GIF outputs of the embedded pipeline: camera depth views, fused mesh vs truth, top grasps, execution frames.

All files are written atomically. matplotlib runs on the Agg backend; grasp views are MuJoCo renders
(``diffgrasp.sim.physics_test.render``), so ``MUJOCO_GL`` must allow offscreen rendering (egl on headless machines).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image, ImageDraw
from scipy.spatial import cKDTree

from diffgrasp.io import atomic_write
from diffgrasp.sim.physics_test.hand_scene import object_inertia
from diffgrasp.sim.physics_test.prepared_object import PreparedObject
from diffgrasp.sim.physics_test.render import render_grasp_png
from diffgrasp.sim.physics_test.trial import Phases

__all__ = ["save_camera_views", "save_execution_frames", "save_fusion_figure", "save_grasp_views"]


def _figure(nrows: int, ncols: int, size: tuple[float, float], **kwargs):
    # matplotlib only here: the Agg backend must be chosen before pyplot is imported, and choosing it at import time
    # of this module would change the backend of every process that imports diffgrasp.demo
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(nrows, ncols, figsize=size, **kwargs)


def _save_figure(plt, fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return atomic_write(path, lambda p: p.write_bytes(buf.getvalue()))


def save_camera_views(path: str | Path, capture, focus_world: np.ndarray | None = None, crop: int = 64,
                      zoom_range_m: float = 0.06) -> Path:
    """The capture's depth images (m; NaN invalid shown black), one column per camera; with ``focus_world`` (3,) a
    second row zooms on a ``2 crop`` × ``2 crop`` px window around that point's projection, colours spanning the
    point's depth ± ``zoom_range_m``."""
    v = len(capture.names)
    rows = 1 if focus_world is None else 2
    plt, fig, axes = _figure(rows, v, (3.6 * v, 3.3 * rows), squeeze=False)
    cmap = plt.get_cmap("viridis").with_extremes(bad="black")
    finite = capture.depth[np.isfinite(capture.depth)]
    lo, hi = (np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0))
    for i in range(v):
        d = capture.depth[i]
        ax = axes[0, i]
        ax.imshow(np.ma.masked_invalid(d), cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(f"{capture.names[i]}: {100 * np.isfinite(d).mean():.0f}% valid", fontsize=9)
        ax.axis("off")
        if focus_world is None:
            continue
        T, K = capture.camera_to_world[i], capture.intrinsics[i]
        c = T[:3, :3].T @ (np.asarray(focus_world, float) - T[:3, 3])
        u, w = (K[:2, :2] @ (c[:2] / c[2]) + K[:2, 2]).round().astype(int) if c[2] > 0 else (d.shape[1] // 2,
                                                                                            d.shape[0] // 2)
        u0, v0 = int(np.clip(u - crop, 0, d.shape[1] - 2 * crop)), int(np.clip(w - crop, 0, d.shape[0] - 2 * crop))
        window = d[v0:v0 + 2 * crop, u0:u0 + 2 * crop]
        wlo, whi = c[2] - zoom_range_m, c[2] + zoom_range_m
        axes[1, i].imshow(np.ma.masked_invalid(window), cmap=cmap, vmin=wlo, vmax=whi)
        axes[1, i].set_title(f"zoom, depth {1000 * wlo:.0f}-{1000 * whi:.0f} mm", fontsize=9)
        axes[1, i].axis("off")
    fig.suptitle("simulated depth (D4xx noise model); black = no depth")
    fig.tight_layout()
    return _save_figure(plt, fig, Path(path))


def _shaded(mesh: trimesh.Trimesh, colour: tuple[float, float, float]) -> np.ndarray:
    light = np.array([0.4, -0.5, 0.77])
    shade = 0.35 + 0.65 * np.clip(mesh.face_normals @ (light / np.linalg.norm(light)), 0.0, 1.0)
    return np.clip(shade[:, None] * np.asarray(colour)[None], 0.0, 1.0)


def save_fusion_figure(path: str | Path, true_world: trimesh.Trimesh, fused_world: trimesh.Trimesh,
                       chamfer: dict[str, float], samples: int = 6000) -> Path:
    """Truth | fused | fused surface points coloured by distance to the truth (mm); both meshes in world (m)."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # part of matplotlib: loaded only to draw, as in _figure

    plt, fig, _ = _figure(1, 1, (15, 5))
    fig.clf()
    both = np.vstack([true_world.bounds, fused_world.bounds])
    centre, half = both.mean(axis=0), 0.55 * (both.max(axis=0) - both.min(axis=0)).max()
    pts = trimesh.sample.sample_surface(fused_world, samples, seed=0)[0]
    ref = trimesh.sample.sample_surface(true_world, 4 * samples, seed=1)[0]
    dist_mm = 1000 * cKDTree(ref).query(pts)[0]
    panels = [("truth (true pose)", true_world, (0.75, 0.75, 0.78)),
              (f"fused: {len(fused_world.faces)} faces", fused_world, (0.35, 0.6, 0.9)), ("error", None, None)]
    for i, (title, mesh, colour) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1, projection="3d")
        if mesh is not None:
            ax.add_collection3d(Poly3DCollection(mesh.vertices[mesh.faces], facecolors=_shaded(mesh, colour),
                                                 linewidths=0))
        else:
            sc = ax.scatter(*pts.T, c=dist_mm, s=2, cmap="inferno", vmin=0, vmax=max(5.0, np.percentile(dist_mm, 99)))
            fig.colorbar(sc, ax=ax, shrink=0.6, label="distance to truth (mm)")
            title = f"chamfer {1000 * chamfer['mean']:.1f} mm, p95 {1000 * chamfer['p95']:.1f} mm"
        ax.set_xlim(centre[0] - half, centre[0] + half)
        ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_zlim(centre[2] - half, centre[2] + half)
        ax.set_box_aspect((1, 1, 1))
        ax.view_init(elev=25, azim=-60)
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=6)
    fig.suptitle("fused mesh vs truth (world frame, m)")
    return _save_figure(plt, fig, Path(path))


def save_grasp_views(output_dir: str | Path, mesh: trimesh.Trimesh, grasps: Sequence, name: str,
                     size: int = 280) -> list[Path]:
    """``grasp_NN.png``: the hand at each grasp around ``mesh`` (the frame the grasps are in), three views each."""
    if not grasps:
        return []
    hull = mesh.convex_hull  # collision geometry is irrelevant for a picture; the visual is the full mesh
    com, inertia = object_inertia(mesh.vertices, mesh.faces, 0.1)
    prepared = PreparedObject([(np.asarray(hull.vertices), np.asarray(hull.faces))], com, inertia,
                              np.asarray(mesh.vertices), np.asarray(mesh.faces), 0.0)
    out = []
    for i, g in enumerate(grasps):  # a few pictures
        m = g.metrics
        title = (f"{name} (fused mesh) grasp {i}: Q1 {m.get('q1_exact', float('nan')):.3f}, "
                 f"penetration {1000 * m.get('penetration_m', float('nan')):.1f} mm, "
                 f"{m.get('contact_count', '?')} contacts")
        out.append(render_grasp_png(Path(output_dir) / f"grasp_{i:02d}.png", prepared, Phases.from_grasp(g),
                                    title=title, size=size))
    return out


def save_execution_frames(output_dir: str | Path, frames: Sequence[np.ndarray], phases: Sequence[tuple[str, float]],
                          gif: bool = True, frame_interval_s: float = 0.25, strip_frames: int = 8) -> list[Path]:
    """``execution.png`` (``strip_frames`` frames evenly spread, labelled with phase and simulated time, 4 per row)
    and, if ``gif``, ``execution.gif`` (all frames, real time)."""
    if len(frames) == 0:
        return []
    output_dir = Path(output_dir)
    idx = np.unique(np.linspace(0, len(frames) - 1, min(strip_frames, len(frames))).round().astype(int))
    h, w = frames[0].shape[:2]
    cols = min(4, len(idx))
    rows = int(np.ceil(len(idx) / cols))
    canvas = Image.new("RGB", (cols * w, rows * h), (255, 255, 255))
    for k, i in enumerate(idx):
        tile = Image.fromarray(np.asarray(frames[i], dtype=np.uint8))
        label = f"{phases[i][0]}  t={phases[i][1]:.2f} s" if i < len(phases) else f"frame {i}"
        draw = ImageDraw.Draw(tile)
        draw.rectangle((0, 0, 8 + 7 * len(label), 16), fill=(255, 255, 255))
        draw.text((4, 2), label, fill=(0, 0, 0))
        canvas.paste(tile, ((k % cols) * w, (k // cols) * h))
    out = [atomic_write(output_dir / "execution.png", lambda p: canvas.save(p, format="PNG"))]
    if gif:
        images = [Image.fromarray(np.asarray(f, dtype=np.uint8)).quantize(colors=128) for f in frames]
        duration_ms = int(round(1000 * frame_interval_s))
        out.append(atomic_write(output_dir / "execution.gif", lambda p: images[0].save(
            p, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)))
    return out
