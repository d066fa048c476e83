"""PNG views of a grasp in the physics-test scene (hand visual meshes + object), MuJoCo offscreen rendering: one
grasp (``render_grasp_png``, ``evaluate --render``) or the top grasps of a plan stacked in one PNG (``render_grasps``,
``plan --render``).

Headless: MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` when it is first imported. If it was imported before
``MUJOCO_GL`` was set and there is no display, ``render_views`` switches the renderer's context class to EGL
(or ``MUJOCO_GL``'s egl/osmesa) instead of failing.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path

import mujoco
import numpy as np
from PIL import Image, ImageDraw

from diffgrasp.grasps import Grasp
from diffgrasp.io import atomic_write
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
from diffgrasp.sim.physics_test.hand_scene import build_scene_spec, scene_index
from diffgrasp.sim.physics_test.prepared_object import PreparedObject, prepare_object
from diffgrasp.sim.physics_test.trial import GraspTester, Phases

VIEWS: tuple[tuple[float, float], ...] = ((30.0, -25.0), (150.0, -25.0), (270.0, -60.0))
"""(azimuth, elevation) in degrees of the views, world = object frame."""


def _headless_gl() -> None:
    """Use the EGL/OSMesa context when no display exists but mujoco was imported with the GLFW default."""
    from mujoco.rendering.classic import gl_context  # OpenGL context classes: only when something renders

    want = os.environ.get("MUJOCO_GL", "").lower() or ("" if os.environ.get("DISPLAY") else "egl")
    current = getattr(gl_context, "GLContext", None)
    if want in ("egl", "osmesa") and (current is None or not current.__module__.startswith(f"mujoco.{want}")):
        gl_context.GLContext = importlib.import_module(f"mujoco.{want}").GLContext


def render_views(model: mujoco.MjModel, data: mujoco.MjData, center: np.ndarray, distance: float,
                 size: int = 320, views: tuple[tuple[float, float], ...] = VIEWS) -> np.ndarray:
    """Render ``data``'s state from each view; returns (H, W·V, 3) uint8 (views side by side)."""
    model.vis.global_.offwidth = max(model.vis.global_.offwidth, size)
    model.vis.global_.offheight = max(model.vis.global_.offheight, size)
    _headless_gl()
    renderer = mujoco.Renderer(model, size, size)
    option = mujoco.MjvOption()
    option.geomgroup[:] = [1, 1, 1, 0, 0, 0]  # visual groups only (hand meshes and the object's full mesh)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = center
    camera.distance = distance
    images = []
    try:
        for azimuth, elevation in views:
            camera.azimuth, camera.elevation = azimuth, elevation
            renderer.update_scene(data, camera=camera, scene_option=option)
            images.append(renderer.render().copy())
    finally:
        renderer.close()
    return np.concatenate(images, axis=1)


def save_png(path: str | os.PathLike, image: np.ndarray, title: str | None = None) -> Path:
    """Write an (H, W, 3) uint8 image as PNG atomically, with an optional title strip on top."""
    img = Image.fromarray(image)
    if title:
        canvas = Image.new("RGB", (img.width, img.height + 18), (255, 255, 255))
        canvas.paste(img, (0, 18))
        ImageDraw.Draw(canvas).text((4, 3), title, fill=(0, 0, 0))
        img = canvas
    return atomic_write(path, lambda p: img.save(p, format="PNG"))


def render_grasp_png(path: str | os.PathLike, prepared: PreparedObject, phases: Phases,
                     config: EvaluateConfig | None = None, title: str | None = None, size: int = 320) -> Path:
    """PNG of the hand at the grasp (palm pose, grasp joints) around the object; three views side by side."""
    config = config or EvaluateConfig()
    spec = build_scene_spec(prepared.pieces, prepared.com, prepared.inertia, config.scene_params(),
                            visual_mesh=(prepared.vertices, prepared.faces))
    for material in spec.materials:  # the hand's black plastic renders too dark to read the finger shapes
        if material.name == "black":
            material.rgba = [0.45, 0.47, 0.55, 1.0]
    spec.add_texture(name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX, builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT,
                     rgb1=[0.95, 0.95, 0.97], rgb2=[0.75, 0.8, 0.88], width=64, height=64)
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.7, 0.7, 0.7]
    model = spec.compile()
    tester = GraspTester(model, scene_index(model, prepared.com), config)
    tester.set_state(phases.grasp_position, phases.grasp_quat_wxyz, phases.grasp_joints)
    extent = float(np.linalg.norm(prepared.vertices - prepared.com, axis=1).max())
    center = 0.5 * (prepared.com + phases.grasp_position)
    image = render_views(model, tester.data, center, distance=max(0.25, 2.2 * extent + 0.12), size=size)
    return save_png(path, image, title)


def render_grasps(mesh_path: str | os.PathLike, grasps: list[Grasp], output: str | os.PathLike, top: int = 4,
                  scale: float = 1.0) -> Path:
    """Render the first ``top`` grasps (hand at the grasp around the object, three views each) into ``output``."""
    if not grasps:
        raise ValueError("render: no grasps to render")
    config = EvaluateConfig()
    prepared = prepare_object(mesh_path, scale, config, progress=False)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, grasp in enumerate(grasps[:top]):
            m = grasp.metrics
            title = (f"grasp {i}: Q1 {m.get('q1_exact', float('nan')):.3f}, "
                     f"penetration {m.get('penetration_m', float('nan')) * 1e3:.2f} mm, "
                     f"{m.get('touching_fingers', '?')} fingers touching")
            path = render_grasp_png(Path(tmp) / f"{i}.png", prepared, Phases.from_grasp(grasp), config, title)
            rows.append(np.asarray(Image.open(path).convert("RGB")))
    width = max(r.shape[1] for r in rows)
    canvas = np.full((sum(r.shape[0] for r in rows), width, 3), 255, dtype=np.uint8)
    y = 0
    for r in rows:
        canvas[y:y + r.shape[0], :r.shape[1]] = r
        y += r.shape[0]
    return atomic_write(output, lambda p: Image.fromarray(canvas).save(p, format="PNG"))


__all__ = ["VIEWS", "render_grasp_png", "render_grasps", "render_views", "save_png"]
