"""Offscreen MuJoCo pictures of the Shadow hand with its contact candidates (spheres) and outward normals (arrows).

The hand is shown upright in its ``rh_palm`` frame (fingers up = world +z, palmar side facing the viewer at −y, thumb on
+x), forearm hidden, on a light gradient background; several views are tiled into one RGB image. Rendering uses
``MUJOCO_GL`` (default ``egl``, set before MuJoCo's GL context is created).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from diffgrasp.data import shadow_hand_mjcf
from diffgrasp.hand.assets import load_contact_candidates, load_surface_points
from diffgrasp.hand.names import COUPLED_FINGERS, JOINT_NAMES
from diffgrasp.io import atomic_write

__all__ = ["JOINT_PRESETS", "View", "DEFAULT_VIEWS", "render_hand", "save_hand_png"]

# Named hand shapes (rad, canonical joint names; missing joints are 0).
JOINT_PRESETS: dict[str, dict[str, float]] = {
    "open": {},
    "grasp": {
        **{f"rh_{f}J3": 0.75 for f in COUPLED_FINGERS}, **{f"rh_{f}J2": 0.65 for f in COUPLED_FINGERS},
        **{f"rh_{f}J1": 0.55 for f in COUPLED_FINGERS}, "rh_LFJ5": 0.35,
        "rh_THJ5": 0.3, "rh_THJ4": 1.0, "rh_THJ3": -0.2, "rh_THJ2": 0.0, "rh_THJ1": 0.2,
    },
}


@dataclass(frozen=True)
class View:
    """A free camera around the hand: azimuth/elevation (deg, MuJoCo convention), distance (m; None: fit the hand)."""

    caption: str
    azimuth: float
    elevation: float
    distance: float | None = None


DEFAULT_VIEWS: tuple[View, ...] = (
    View("palmar side", 90.0, 0.0),
    View("thumb side", 180.0, 0.0),
    View("oblique, little-finger side", 45.0, -20.0),
    View("oblique, thumb side", 135.0, -20.0),
)

_POINT_RGBA = np.array([0.95, 0.35, 0.05, 1.0], dtype=np.float32)
_TIP_RGBA = np.array([0.85, 0.05, 0.35, 1.0], dtype=np.float32)
_ARROW_RGBA = np.array([0.05, 0.45, 0.85, 1.0], dtype=np.float32)


def _model() -> mujoco.MjModel:
    spec = mujoco.MjSpec.from_file(str(shadow_hand_mjcf()))
    forearm = spec.body("rh_forearm")
    for geom in list(forearm.geoms):
        spec.delete(geom)
    forearm.quat = [np.sqrt(0.5), 0.0, 0.0, -np.sqrt(0.5)]  # palm frame = world at q = 0
    spec.add_texture(name="diffgrasp_sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, rgb1=[1.0, 1.0, 1.0], rgb2=[0.82, 0.86, 0.92],
                     width=256, height=1536)
    spec.visual.headlight.ambient = [0.45, 0.45, 0.45]
    spec.visual.headlight.diffuse = [0.55, 0.55, 0.55]
    spec.visual.headlight.specular = [0.1, 0.1, 0.1]
    spec.worldbody.add_light(pos=[0.3, -0.6, 0.8], dir=[-0.3, 0.6, -0.8], diffuse=[0.35, 0.35, 0.35])
    spec.material("black").rgba = [0.22, 0.22, 0.24, 1.0]
    spec.visual.global_.offwidth = 2048
    spec.visual.global_.offheight = 2048
    return spec.compile()


def _gl_context(width: int, height: int):
    """An offscreen OpenGL context for ``MUJOCO_GL`` (default egl), independent of when mujoco was imported."""
    backend = os.environ.setdefault("MUJOCO_GL", "egl").lower()
    # optional: each backend's module loads its native GL library (libEGL, libOSMesa, glfw), present or not
    if backend == "egl":
        from mujoco.egl import GLContext
    elif backend == "osmesa":
        from mujoco.osmesa import GLContext
    else:
        from mujoco.glfw import GLContext
    return GLContext(width, height)


def _joint_vector(joints: str | dict[str, float]) -> np.ndarray:
    if isinstance(joints, str):
        if joints not in JOINT_PRESETS:
            raise ValueError(f"joints: unknown preset {joints!r}; valid: {', '.join(JOINT_PRESETS)}")
        joints = JOINT_PRESETS[joints]
    unknown = sorted(set(joints) - set(JOINT_NAMES))
    if unknown:
        raise ValueError(f"joints: unknown joint name(s) {unknown}")
    return np.array([float(joints.get(n, 0.0)) for n in JOINT_NAMES])


def render_hand(joints: str | dict[str, float] = "open", views: tuple[View, ...] = DEFAULT_VIEWS,
                size: int = 640, normal_length: float = 0.016, point_radius: float = 0.0024) -> np.ndarray:
    """Render the hand with contact candidates and normals from each view → (rows·size, cols·size, 3) uint8 RGB."""
    model = _model()
    data = mujoco.MjData(model)
    qpos = _joint_vector(joints)
    for i, name in enumerate(JOINT_NAMES):
        data.qpos[model.jnt_qposadr[model.joint(name).id]] = qpos[i]
    mujoco.mj_forward(model, data)
    cc = load_contact_candidates()
    body_ids = [model.body(link).id for link in cc.links]
    rot = data.xmat[body_ids].reshape(-1, 3, 3)
    points = np.einsum("nij,nj->ni", rot, cc.positions) + data.xpos[body_ids]
    normals = np.einsum("nij,nj->ni", rot, cc.normals)
    # Frame the hand: centre and radius of its surface samples and the wrist (fovy 45°; the bounding sphere leaves a
    # margin).
    sp = load_surface_points()
    sp_ids = np.array([model.body(link).id for link in sp.links])[sp.link_index]
    cloud = np.einsum("nij,nj->ni", data.xmat[sp_ids].reshape(-1, 3, 3), sp.points) + data.xpos[sp_ids]
    cloud = np.concatenate([cloud, data.xpos[[model.body("rh_wrist").id]] - [0.0, 0.0, 0.03]])
    lookat = 0.5 * (cloud.min(axis=0) + cloud.max(axis=0))
    fit_distance = 0.97 * np.linalg.norm(cloud - lookat, axis=1).max() / np.sin(np.radians(22.5))

    option = mujoco.MjvOption()
    option.geomgroup[:] = 0
    option.geomgroup[2] = 1  # visual meshes only
    font = ImageFont.load_default(size=max(12, size // 28))
    tiles = []
    context = _gl_context(size, size)
    try:
        context.make_current()
        mjr = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, mjr)
        scene = mujoco.MjvScene(model, maxgeom=2000)
        viewport = mujoco.MjrRect(0, 0, size, size)
        for view in views:
            cam = mujoco.MjvCamera()
            cam.type = mujoco.mjtCamera.mjCAMERA_FREE
            cam.lookat[:] = lookat
            cam.azimuth, cam.elevation = view.azimuth, view.elevation
            cam.distance = view.distance if view.distance is not None else fit_distance
            mujoco.mjv_updateScene(model, data, option, None, cam, mujoco.mjtCatBit.mjCAT_ALL, scene)
            for name, p, n in zip(cc.names, points, normals, strict=True):
                if scene.ngeom + 2 > scene.maxgeom:
                    raise RuntimeError("render_hand: scene geom buffer full")
                rgba = _TIP_RGBA if "distal" in name else _POINT_RGBA
                g = scene.geoms[scene.ngeom]
                mujoco.mjv_initGeom(g, mujoco.mjtGeom.mjGEOM_SPHERE, np.full(3, point_radius), p, np.eye(3).ravel(),
                                    rgba)
                scene.ngeom += 1
                g = scene.geoms[scene.ngeom]
                mujoco.mjv_initGeom(g, mujoco.mjtGeom.mjGEOM_ARROW, np.zeros(3), np.zeros(3), np.eye(3).ravel(),
                                    _ARROW_RGBA)
                mujoco.mjv_connector(g, mujoco.mjtGeom.mjGEOM_ARROW, 0.0014, p, p + normal_length * n)
                scene.ngeom += 1
            mujoco.mjr_render(viewport, scene, mjr)
            rgb = np.empty((size, size, 3), dtype=np.uint8)
            mujoco.mjr_readPixels(rgb, None, viewport, mjr)
            tile = Image.fromarray(np.flipud(rgb).copy())
            draw = ImageDraw.Draw(tile)
            box = draw.textbbox((14, 10), view.caption, font=font)
            draw.rectangle((box[0] - 6, box[1] - 4, box[2] + 6, box[3] + 4), fill=(255, 255, 255))
            draw.text((14, 10), view.caption, fill=(40, 40, 40), font=font)
            tiles.append(np.asarray(tile))
        mjr.free()
    finally:
        context.free()
    cols = 2 if len(tiles) > 1 else 1
    rows = (len(tiles) + cols - 1) // cols
    canvas = np.full((rows * size, cols * size, 3), 255, dtype=np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        canvas[r * size:(r + 1) * size, c * size:(c + 1) * size] = tile
    return canvas


def save_hand_png(path: str | os.PathLike, joints: str | dict[str, float] = "open", size: int = 640) -> Path:
    """Render (``render_hand``) and write a PNG atomically; returns the path."""
    image = Image.fromarray(render_hand(joints, size=size))

    def write(tmp: Path) -> None:
        image.save(tmp, format="PNG")
        os.chmod(tmp, 0o644)  # the temp file is created 0600

    return atomic_write(path, write)
