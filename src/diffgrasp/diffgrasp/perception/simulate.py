"""Simulated camera rig: noiseless depth by ray casting (open3d RaycastingScene) of an object resting on a table, plus
a D4xx-style noise model (see noise.py). Writes the same :class:`Capture` a real rig produces.

World: table top at z = 0 (a 1.0 × 0.8 × 0.05 m box centred under the origin), z up. The object is placed from its
file frame by ``object_pose_world`` (4, 4) (object-file coordinates → world).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import trimesh

from diffgrasp.errors import ConfigError, DiffgraspError
from diffgrasp.geometry.mesh_validation import MeshValidationError, load_object_mesh
from diffgrasp.perception.capture import Capture, pose_to_json
from diffgrasp.perception.depth import affine, pixel_rays
from diffgrasp.perception.noise import DepthNoiseConfig, apply_depth_noise
from diffgrasp.perception.rig import CameraConfig, RigConfig, Transform, pose_matrix

TABLE_SIZE = (1.0, 0.8, 0.05)
OBJECT_ID, TABLE_ID = 0, 1
NOISE_MODELS = ("realsense", "none")

__all__ = ["TABLE_SIZE", "NOISE_MODELS", "load_mesh", "resting_pose", "look_at", "ring_rig", "SimScene",
           "check_simulated_rig", "simulate_capture"]


def load_mesh(mesh: str | os.PathLike | trimesh.Trimesh) -> trimesh.Trimesh:
    """A triangle mesh from a path (metres) or a Trimesh.

    A path is loaded and validated exactly as ``diffgrasp plan`` does (:func:`load_object_mesh`: NaN vertices,
    open, inverted or implausibly scaled meshes are refused with a one-line MeshValidationError; disconnected parts
    warn), so a simulated capture never shows an object the planner would refuse. FileNotFoundError for no file.
    """
    if isinstance(mesh, trimesh.Trimesh):
        if len(mesh.faces) == 0:
            raise MeshValidationError("object mesh: mesh is empty (no triangles)")
        return mesh
    path = Path(mesh)
    if not path.exists():
        raise FileNotFoundError(f"object mesh not found: {path}")
    return load_object_mesh(path)


def resting_pose(mesh: trimesh.Trimesh, method: str = "file", xy: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """(4, 4) object → world pose resting on the table (z = 0) with the centre of mass over ``xy``.

    method ``"file"``: keep the file's own orientation (YCB meshes are z-up) and only translate; ``"stable"``: the most
    probable stable pose from ``trimesh.poses.compute_stable_poses``.
    """
    if method == "file":
        R = np.eye(3)
    elif method == "stable":
        transforms, probs = mesh.compute_stable_poses(n_samples=1)
        R = transforms[int(np.argmax(probs))][:3, :3]
    else:
        raise ValueError(f"resting pose method must be 'file' or 'stable', got {method!r}")
    com = mesh.center_mass if mesh.is_watertight else mesh.centroid
    v = mesh.vertices @ R.T
    c = R @ com
    return pose_matrix([xy[0] - c[0], xy[1] - c[1], -v[:, 2].min()], R)


def look_at(eye: np.ndarray, target: np.ndarray, up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """(4, 4) optical-frame pose (z forward, x right, y down) at ``eye`` looking at ``target`` (world, m)."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: viewing direction parallel to up")
    x /= np.linalg.norm(x)
    return pose_matrix(eye, np.stack([x, np.cross(z, x), z], axis=1))


def ring_rig(num_cameras: int = 4, distance: float | tuple[float, ...] = 0.6, elevation_deg: float = 40.0,
             target: tuple[float, float, float] = (0.0, 0.0, 0.05), width: int = 640, height: int = 480,
             fx: float = 383.0, azimuth0_deg: float = 45.0, name_prefix: str = "sim_cam") -> RigConfig:
    """A simulated rig of ``num_cameras`` D435-like cameras evenly spaced on a ring around ``target``.

    Each looks at ``target`` from ``distance`` m (one value, or one per camera) at ``elevation_deg`` above the
    horizontal. Intrinsics: fx = fy = ``fx`` px, principal point at the image centre.
    """
    if num_cameras < 1:
        raise ValueError("ring_rig: need at least one camera")
    link_to_optical = Transform(rotation_xyzw=(-0.5, 0.5, -0.5, 0.5))
    L = link_to_optical.matrix()
    cams = []
    for i in range(num_cameras):
        az = np.deg2rad(azimuth0_deg + 360.0 * i / num_cameras)
        el = np.deg2rad(elevation_deg)
        dist = distance if np.isscalar(distance) else distance[i % len(distance)]
        eye = np.asarray(target) + dist * np.array([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)])
        T_link = look_at(eye, target) @ np.linalg.inv(L)
        cams.append(CameraConfig(name=f"{name_prefix}{i}", serial=f"sim{i:04d}", model="D435-sim", width=width,
                                 height=height, fps=30, intrinsics=(fx, fx, (width - 1) / 2, (height - 1) / 2),
                                 parent_to_link=Transform.from_matrix(T_link), link_to_optical=link_to_optical,
                                 calibration="simulated (exact)"))
    return RigConfig(cameras=tuple(cams))


class SimScene:
    """Object (placed by ``object_to_world``) on the table, ready for ray casting; geometry ids: 0 object, 1 table."""

    def __init__(self, mesh: trimesh.Trimesh, object_to_world: np.ndarray, table: bool = True) -> None:
        import open3d as o3d  # heavy (~0.5 s): `diffgrasp --help` imports this module (cli.capture)

        self.mesh_world = mesh.copy()
        self.mesh_world.apply_transform(object_to_world)
        self.object_to_world = np.asarray(object_to_world, dtype=float)
        self._scene = o3d.t.geometry.RaycastingScene()
        self._o3d = o3d
        self._add(self.mesh_world)
        if table:
            box = trimesh.creation.box(extents=TABLE_SIZE)
            box.apply_translation([0.0, 0.0, -TABLE_SIZE[2] / 2])
            self._add(box)

    def _add(self, mesh: trimesh.Trimesh) -> int:
        t = self._o3d.t.geometry.TriangleMesh()
        t.vertex.positions = self._o3d.core.Tensor(np.asarray(mesh.vertices, dtype=np.float32))
        t.triangle.indices = self._o3d.core.Tensor(np.asarray(mesh.faces, dtype=np.int32))
        return self._scene.add_triangles(t)

    def cast(self, origins: np.ndarray, directions: np.ndarray) -> dict[str, np.ndarray]:
        """Rays (..., 3) world → ``t_hit`` (...,) in units of |direction| (inf on miss), ``geometry_ids`` (...,),
        ``normals`` (..., 3) world face normals."""
        shape = origins.shape[:-1]
        rays = np.concatenate([origins.reshape(-1, 3), directions.reshape(-1, 3)], axis=1).astype(np.float32)
        ans = self._scene.cast_rays(self._o3d.core.Tensor(rays))
        return {"t_hit": ans["t_hit"].numpy().reshape(shape),
                "geometry_ids": ans["geometry_ids"].numpy().astype(np.int64).reshape(shape),
                "normals": ans["primitive_normals"].numpy().reshape(shape + (3,))}

    def render(self, K: np.ndarray, camera_to_world: np.ndarray, height: int, width: int) -> dict[str, np.ndarray]:
        """Noiseless depth (H, W) float32 m along the optical z axis (NaN where nothing is hit), ``geometry_ids``
        (H, W) (−1 none), ``normals`` (H, W, 3) world, ``rays`` (H, W, 3) world directions with z_cam = 1."""
        rays_cam = pixel_rays(K, height, width)
        R, t = camera_to_world[:3, :3], camera_to_world[:3, 3]
        dirs = affine(rays_cam, R)
        hit = self.cast(np.broadcast_to(t, dirs.shape), dirs)
        miss = ~np.isfinite(hit["t_hit"])
        depth = hit["t_hit"].astype(np.float32)
        depth[miss] = np.nan
        ids = np.where(miss, -1, hit["geometry_ids"])
        return {"depth": depth, "geometry_ids": ids, "normals": hit["normals"], "rays": dirs}


def check_simulated_rig(rig: RigConfig) -> None:
    """ConfigError unless every camera of ``rig`` can be simulated: intrinsics given in pixels (``from_device`` or
    none needs a connected camera) and one resolution shared by all cameras."""
    missing = [c for c in rig.cameras if isinstance(c.intrinsics, str)]
    if missing:
        names = ", ".join(c.name for c in missing)
        c = missing[0]
        plural = "s" if len(missing) > 1 else ""
        raise ConfigError(f"intrinsics missing for camera{plural} {names}: a simulated camera needs them in the "
                          f"cameras YAML as intrinsics: {{fx: ..., fy: ..., cx: ..., cy: ...}} in pixels for its "
                          f"{c.width}x{c.height} image ('{c.intrinsics}' can only be read from a connected camera; "
                          f"see config/cameras_sim.yaml)")
    shapes = sorted({(c.width, c.height) for c in rig.cameras})
    if len(shapes) > 1:
        raise ConfigError("simulated cameras must share one resolution, got "
                          + ", ".join(f"{c.name} {c.width}x{c.height}" for c in rig.cameras))


def simulate_capture(mesh: str | os.PathLike | trimesh.Trimesh, rig: RigConfig, noise: str = "realsense",
                     seed: int = 0, object_to_world: np.ndarray | None = None,
                     noise_config: DepthNoiseConfig | None = None, pose_method: str = "file") -> Capture:
    """Render the rig's cameras looking at ``mesh`` resting on the table → :class:`Capture`.

    object_to_world (4, 4): placement of the object file frame in the world (default :func:`resting_pose`), recorded in
    ``capture.metadata["object_pose_world"]``. noise: ``"realsense"`` (D4xx model, seeded by ``seed``; camera i uses
    ``seed + i``) or ``"none"``. Intrinsics must be given in the rig (``from_device`` is not simulated).
    """
    if noise not in NOISE_MODELS:
        raise DiffgraspError(f"noise must be one of {', '.join(NOISE_MODELS)}, got {noise!r}")
    check_simulated_rig(rig)
    tm = load_mesh(mesh)
    if object_to_world is None:
        object_to_world = resting_pose(tm, pose_method)
    scene = SimScene(tm, object_to_world)
    ncfg = noise_config or DepthNoiseConfig()
    depths, Ks, Ts = [], [], []
    for i, cam in enumerate(rig.cameras):
        K, T = cam.intrinsics_matrix(), cam.camera_to_world()
        out = scene.render(K, T, cam.height, cam.width)
        d = out["depth"]
        if noise == "realsense":
            d = apply_depth_noise(scene, out, K, T, ncfg, np.random.default_rng(seed + i))
        depths.append(d)
        Ks.append(K)
        Ts.append(T)
    if not any(np.isfinite(d).any() for d in depths):
        raise DiffgraspError("simulated capture: no camera sees anything (check the rig's extrinsics and the object "
                             "placement)")
    meta = {"source": "simulated", "object_pose_world": pose_to_json(object_to_world), "noise": noise, "seed": seed,
            "object_mesh": str(mesh) if not isinstance(mesh, trimesh.Trimesh) else "",
            "noise_config": dataclasses.asdict(ncfg) if noise == "realsense" else None}
    return Capture(rig.names, np.stack(depths), np.stack(Ks), np.stack(Ts), np.zeros(len(depths)),
                   None, tuple(c.serial for c in rig.cameras), meta)
