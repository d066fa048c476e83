"""Initial grasp candidates around an object: palm facing its convex hull at a standoff, random roll, pre-shape.

Frames: everything in the object mesh frame; palm conventions of design notes §3 (fingers +z, palmar side −y).
"""

from __future__ import annotations

import numpy as np
import torch
import trimesh
from scipy.spatial.transform import Rotation

from diffgrasp.hand.coupling import JointCoupling
from diffgrasp.planning.planner_config import InitConfig
from diffgrasp.planning.power_starts import ThumbFit, power_shape

# Point of the palm's skin opposite which the object should sit (rh_palm frame, m): palm centre, palmar side.
PALM_SKIN_POINT = np.array([0.005, -0.012, 0.055])


def _hull_samples(mesh: trimesh.Trimesh, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n approach points (n, 3) on the convex hull with outward unit hull normals (n, 3).

    Points are area-sampled on the mesh itself (its face order moves with the mesh, so a moved copy gets the same
    samples) and projected to the closest point of the convex hull, so concavities still give outside approaches.
    """
    area = mesh.area_faces / mesh.area_faces.sum()
    faces = rng.choice(len(area), size=n, p=area)
    r = rng.random((n, 2))
    flip = r.sum(1) > 1
    r[flip] = 1 - r[flip]
    tri = mesh.triangles[faces]
    points = tri[:, 0] + r[:, :1] * (tri[:, 1] - tri[:, 0]) + r[:, 1:] * (tri[:, 2] - tri[:, 0])
    hull = mesh.convex_hull
    closest, _, hull_face = trimesh.proximity.closest_point(hull, points)
    return closest, hull.face_normals[hull_face]


def initial_candidates(mesh: trimesh.Trimesh, n: int, coupling: JointCoupling, config: InitConfig,
                       rng: np.random.Generator, dtype: torch.dtype = torch.float32,
                       device: torch.device | str = "cpu", thumb_fit: ThumbFit | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n candidates → palm position (n, 3) m, palm rotation (n, 3, 3), reduced joints u (n, 18) rad.

    The palm's −y axis points along the inward hull normal at an area-sampled hull point, its fingers (+z) get a
    uniformly random roll about that axis, and the palm skin point sits ``standoff`` outside the hull point.
    Pinch and power starts (``config``) replace some of them; ``thumb_fit`` places the power starts' thumbs
    (``planning.power_starts.fit_thumbs`` on the planner's hand and grid; None: the thumb lies in the palm's plane).
    """
    points, normals = _hull_samples(mesh, n, rng)
    y_axis = normals  # palmar side (−y) faces the object
    helper = np.where(np.abs(y_axis[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(y_axis, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(y_axis, e1)
    roll = rng.uniform(0, 2 * np.pi, size=(n, 1))
    z_axis = np.cos(roll) * e1 + np.sin(roll) * e2
    x_axis = np.cross(y_axis, z_axis)
    rot = np.stack([x_axis, y_axis, z_axis], axis=-1)  # columns = palm axes in the object frame
    standoff = config.standoff_m + rng.uniform(-1, 1, size=(n, 1)) * config.standoff_jitter_m
    # Pinch starts: the point between thumb and fingertips sits just inside the hull point instead of the palm
    # skin outside it, so a small object starts between the digits rather than under the palm. (No draws when off:
    # palm-only starts keep their random stream.)
    skin_point = np.broadcast_to(PALM_SKIN_POINT, (n, 3))
    pinch = np.zeros((n, 1), dtype=bool)
    power = None
    thickness = trimesh.bounds.oriented_bounds(mesh.convex_hull)[1].min()  # which kinds of start the object gets
    if config.pinch_fraction > 0 and thickness <= config.pinch_max_thickness_m:
        pinch = rng.random((n, 1)) < config.pinch_fraction
        standoff = np.where(pinch, -config.pinch_depth_m * rng.random((n, 1)), standoff)
        # ... and the hand pitches about the palm's x axis through that point (fingers towards or away from it).
        pitch = np.where(pinch[:, 0], rng.uniform(-1, 1, size=n) * config.pinch_pitch_rad, 0.0)
        rot = rot @ Rotation.from_rotvec(pitch[:, None] * np.array([[1.0, 0.0, 0.0]])).as_matrix()
        skin_point = np.where(pinch, np.asarray(config.pinch_point)[None], skin_point)
    lo, hi = coupling.limits(dtype=torch.float64)
    u = np.array([config.preshape.get(name, 0.0) for name in coupling.reduced_names])
    u = np.repeat(u[None], n, axis=0)
    if config.power_fraction > 0 and thickness >= config.power_min_thickness_m:
        power = (rng.random(n) < config.power_fraction) & ~pinch[:, 0]
        rot, u = power_shape(mesh.convex_hull.vertices, points, normals, rot, u, power, coupling, config, rng)
        standoff = np.where(power[:, None], config.power_standoff_m, standoff)
    position = points + normals * standoff - np.einsum("nij,nj->ni", rot, skin_point)
    u = u + rng.uniform(-1, 1, size=u.shape) * config.joint_noise_rad
    u = np.clip(u, lo.numpy(), hi.numpy())
    as_t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
    position, rot, u = as_t(position), as_t(rot), as_t(u)
    if power is not None and thumb_fit is not None and power.any():
        chosen = torch.as_tensor(np.flatnonzero(power), device=u.device)
        u[chosen] = thumb_fit(position[chosen], rot[chosen], u[chosen], rng)
    return position, rot, u


def jittered_copies(position: torch.Tensor, rotation: torch.Tensor, u: torch.Tensor, n: int, position_std_m: float,
                    rotation_std_rad: float, joints_std_rad: float, u_limits: tuple[torch.Tensor, torch.Tensor],
                    rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n perturbed copies of G seeds, cycling through them: position (G, 3) m, rotation (G, 3, 3), u (G, U) rad →
    (n, 3), (n, 3, 3), (n, U).

    Gaussian palm-position noise (std per axis), a rotation by a Gaussian angle about a uniformly random axis
    (applied on the left, in the seeds' frame) and Gaussian reduced-joint noise clipped to ``u_limits``.
    """
    index = torch.arange(n, device=position.device) % position.shape[0]
    dp = rng.normal(0.0, position_std_m, size=(n, 3))
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = rng.normal(0.0, rotation_std_rad, size=(n, 1))
    turn = Rotation.from_rotvec(axis * angle).as_matrix()
    du = rng.normal(0.0, joints_std_rad, size=(n, u.shape[1]))
    as_t = lambda a: torch.as_tensor(a, dtype=position.dtype, device=position.device)  # noqa: E731
    lo, hi = u_limits
    return (position[index] + as_t(dp), as_t(turn) @ rotation[index],
            torch.maximum(torch.minimum(u[index] + as_t(du), hi), lo))
