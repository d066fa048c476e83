"""Multi-view depth fusion → watertight object mesh (world frame), object-centred frame and point cloud.

Pipeline (:func:`fuse`):
1. back-project every view to world points; RANSAC table plane (open3d ``segment_plane``), normal towards the
   cameras;
2. object = largest DBSCAN cluster (plus clusters within ``merge_distance`` of it) of the points more than
   ``object_min_height`` above the plane (none → "object absent");
3. table pixels (within ``table_band`` of the plane, outside the object's footprint) are snapped onto the plane (their
   measured noise would otherwise leave speckle just above the cut);
4. projective TSDF on a dense grid over the object's region in the plane frame (:mod:`tsdf`), with space carving: a
   voxel no view sees in the truncation band counts as inside iff ``min_behind_views`` views see it behind a surface
   (one is not enough: pixels lost to stereo shadow or edges would leave a skirt around the object's foot);
   everything below the plane is outside, so the object's unseen bottom closes on the table;
5. marching cubes (scikit-image) → one shell (largest component, enclosed bubbles filled) → watertight check.

open3d 0.20 catch: its legacy ScalableTSDFVolume integrates nothing, and a VoxelBlockGrid stores only the truncation
band (it cannot tell unseen from free space, so it cannot close the unseen bottom); hence the dense carved grid here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from diffgrasp.perception.capture import Capture
from diffgrasp.perception.depth import affine, pixel_rays
from diffgrasp.perception.rig import pose_matrix
from diffgrasp.perception.tsdf import integrate_tsdf, marching_cubes_closed

__all__ = ["FusionConfig", "FusionResult", "fuse", "table_plane", "world_points"]


@dataclass(frozen=True)
class FusionConfig:
    """Fusion parameters (metres). Mirrored by ``config/fusion.yaml``."""

    voxel_size: float = 0.002            # TSDF voxel edge
    truncation_voxels: float = 4.0       # TSDF truncation band = this × voxel_size
    depth_max: float = 2.0               # ignore depth beyond this (m)
    plane_stride: int = 4                # pixel stride for the plane / cluster point sets
    plane_distance: float = 0.004        # RANSAC inlier distance to the table plane
    plane_iterations: int = 300
    object_min_height: float = 0.006     # cluster candidates lie this far above the plane
    object_max_height: float = 0.6       # ... and at most this far
    cluster_voxel: float = 0.004         # down-sampling before DBSCAN
    cluster_eps: float = 0.015           # DBSCAN neighbourhood radius
    cluster_min_points: int = 5          # DBSCAN core-point count (low: thin, flat objects are sparse)
    merge_distance: float = 0.03         # clusters this close to the largest one belong to the object
    min_object_points: int = 15          # fewer (down-sampled) object points → "object absent"
    table_band: float = 0.006            # table pixels within this of the plane are snapped onto it
    footprint_margin: float = 0.006      # object footprint dilation that keeps its bottom rim measured
    roi_margin: float = 0.012            # grid margin around the object cluster
    min_behind_views: int = 2            # an unseen voxel is inside iff this many views see it behind a surface
    cut_height: float = 0.001            # the mesh is closed at this height above the plane
    smoothing_iterations: int = 0        # Taubin smoothing of the extracted mesh (0 = off)
    seed: int = 0                        # RANSAC seed


@dataclass
class FusionResult:
    """mesh: watertight trimesh in the **world** frame (m); points (N, 3) world: the object's measured points;
    object_to_world (4, 4): object-centred frame (origin = centre of the fused mesh's bounding box in the plane frame,
    z = table normal, x = world x projected on the table);
    table_plane (4,) (a, b, c, d) with a x + b y + c z + d = 0, unit normal towards the cameras; timings s."""

    mesh: trimesh.Trimesh
    points: np.ndarray
    object_to_world: np.ndarray
    table_plane: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)

    def mesh_in_object_frame(self) -> trimesh.Trimesh:
        """The fused mesh expressed in the object-centred frame."""
        m = self.mesh.copy()
        m.apply_transform(np.linalg.inv(self.object_to_world))
        return m


def world_points(capture: Capture, stride: int = 1, depth_max: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """All valid depth pixels (every ``stride``-th row/column) → (N, 3) world points and (N,) view index."""
    pts, idx = [], []
    for i in range(len(capture.names)):
        d = capture.depth[i, ::stride, ::stride]
        K = capture.intrinsics[i].copy()
        K[:2] /= stride
        K[:2, 2] = capture.intrinsics[i][:2, 2] / stride
        rays = pixel_rays(K, *d.shape)
        ok = np.isfinite(d) & (d > 0) & (d < depth_max)
        p = rays[ok] * d[ok, None]
        T = capture.camera_to_world[i]
        pts.append(affine(p, T[:3, :3], T[:3, 3]))
        idx.append(np.full(len(p), i))
    return np.concatenate(pts), np.concatenate(idx)


def voxel_means(points: np.ndarray, voxel: float) -> np.ndarray:
    """(M, 3) mean of the points (N, 3) in each occupied voxel of edge ``voxel``, in sorted voxel order."""
    keys = np.floor(points / voxel).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    sums = np.zeros((len(counts), 3))
    np.add.at(sums, inverse.reshape(-1), points)
    return sums / counts[:, None]


def ransac_plane(points: np.ndarray, distance: float, iterations: int, seed: int,
                 chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Plane (4,) (unit normal, any sign) with the most points (N, 3) within ``distance``, then refined by least
    squares over those inliers; and the inlier mask (N,). ``iterations`` three-point hypotheses drawn from
    ``np.random.default_rng(seed)``, scored in batches; ties go to the first drawn."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(points), size=(iterations, 3))
    a, b, c = points[idx[:, 0]], points[idx[:, 1]], points[idx[:, 2]]
    normals = np.cross(b - a, c - a)
    lengths = np.linalg.norm(normals, axis=1)
    valid = lengths > 1e-12
    normals = normals / np.where(valid, lengths, 1.0)[:, None]
    offsets = -(normals * a).sum(axis=1)
    counts = np.full(iterations, -1, dtype=np.int64)
    for start in range(0, iterations, chunk):
        sl = slice(start, start + chunk)
        counts[sl] = (np.abs(points @ normals[sl].T + offsets[sl]) < distance).sum(axis=0)
    counts[~valid] = -1
    best = int(np.argmax(counts))
    inliers = np.abs(points @ normals[best] + offsets[best]) < distance
    centroid = points[inliers].mean(axis=0)
    normal = np.linalg.svd(points[inliers] - centroid, full_matrices=False)[2][-1]
    return np.array([*normal, -normal @ centroid]), inliers


def table_plane(points: np.ndarray, camera_centres: np.ndarray, cfg: FusionConfig) -> np.ndarray:
    """RANSAC plane (4,) through ``points`` (N, 3) world; unit normal oriented towards the mean camera centre.

    Our own voxel averaging and RANSAC (numpy, seeded) instead of open3d's: open3d 0.20 runs both on TBB threads and
    its ``segment_plane`` picked its plane by thread timing despite the seed (the demo's capture fused to 53,426
    instead of 53,466 faces in 1 of 4 processes, which decided whether the demo lifted); OMP_NUM_THREADS has no
    effect on TBB. Same inputs, same plane, in every process."""
    if len(points) < 100:
        raise ValueError(f"too few valid depth points ({len(points)}) to find the table plane")
    down = voxel_means(points, cfg.cluster_voxel)
    plane, inliers = ransac_plane(down, cfg.plane_distance, cfg.plane_iterations, cfg.seed)
    if inliers.sum() < 0.05 * len(down):
        raise ValueError("no table plane found (fewer than 5% of the points lie on one plane)")
    if (camera_centres @ plane[:3] + plane[3]).mean() < 0:
        plane = -plane
    return plane


def _plane_frame(plane: np.ndarray, origin_hint: np.ndarray) -> np.ndarray:
    """(4, 4) plane frame in world: z = plane normal, x = world x projected on the plane, origin on the plane."""
    n = plane[:3]
    ref = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = ref - (ref @ n) * n
    x /= np.linalg.norm(x)
    origin = origin_hint - (origin_hint @ n + plane[3]) * n
    return pose_matrix(origin, np.stack([x, np.cross(n, x), n], axis=1))


def _object_cluster(points: np.ndarray, heights: np.ndarray, cfg: FusionConfig) -> np.ndarray:
    # heavy (~0.5 s): every ROS node imports this module (sensor_conversions -> diffgrasp.demo), most never fuse
    import open3d as o3d

    cand = points[(heights > cfg.object_min_height) & (heights < cfg.object_max_height)]
    if len(cand) < cfg.min_object_points:
        raise ValueError(f"object absent: only {len(cand)} depth points lie above the table plane")
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cand)).voxel_down_sample(cfg.cluster_voxel)
    labels = np.asarray(pc.cluster_dbscan(cfg.cluster_eps, cfg.cluster_min_points, print_progress=False))
    if labels.size == 0 or labels.max() < 0:
        raise ValueError("object absent: no cluster of points above the table plane")
    counts = np.bincount(labels[labels >= 0])
    best = int(np.argmax(counts))
    if counts[best] < cfg.min_object_points:
        raise ValueError(f"object absent: largest cluster above the table has only {counts[best]} points")
    pts = np.asarray(pc.points)
    keep = {best}
    rest = set(range(len(counts))) - keep
    while rest:  # merge clusters near the object (a chain, a handle seen in pieces); few clusters, so a short loop
        tree = cKDTree(pts[np.isin(labels, list(keep))])
        near = {c for c in rest if tree.query(pts[labels == c], distance_upper_bound=cfg.merge_distance)[0].min()
                <= cfg.merge_distance}
        if not near:
            break
        keep |= near
        rest -= near
    return pts[np.isin(labels, list(keep))]


def fuse(capture: Capture, config: FusionConfig | None = None) -> FusionResult:
    """Fuse a calibrated multi-view depth :class:`Capture` into a watertight object mesh (world frame).

    Raises ValueError with a clear reason for unusable depth (all NaN/zero), no table plane, or no object on it.
    """
    cfg = config or FusionConfig()
    t0 = time.perf_counter()
    capture.validate()
    centres = capture.camera_to_world[:, :3, 3]
    pts, _ = world_points(capture, cfg.plane_stride, cfg.depth_max)
    plane = table_plane(pts, centres, cfg)
    heights = pts[:, 0] * plane[0] + pts[:, 1] * plane[1] + pts[:, 2] * plane[2] + plane[3]
    cluster = _object_cluster(pts, heights, cfg)
    t_seg = time.perf_counter()
    frame = _plane_frame(plane, cluster.mean(axis=0))
    world_to_plane = np.linalg.inv(frame)
    cl = affine(cluster, world_to_plane[:3, :3], world_to_plane[:3, 3])
    lo = np.array([cl[:, 0].min(), cl[:, 1].min(), 0.0]) - cfg.roi_margin
    hi = cl.max(axis=0) + cfg.roi_margin
    lo[2] = cfg.cut_height - 2 * cfg.voxel_size
    grid = integrate_tsdf(capture, frame, lo, hi, cfg, cluster_plane=cl)
    t_tsdf = time.perf_counter()
    mesh_plane = marching_cubes_closed(grid, cfg)
    mesh = mesh_plane.copy()
    mesh.apply_transform(frame)
    object_to_world = frame.copy()
    object_to_world[:3, 3] = affine(mesh_plane.bounds.mean(axis=0), frame[:3, :3], frame[:3, 3])
    points = _roi_points(capture, frame, lo, hi, cfg)
    t1 = time.perf_counter()
    timings = {"segment": t_seg - t0, "tsdf": t_tsdf - t_seg, "mesh": t1 - t_tsdf, "total": t1 - t0}
    return FusionResult(mesh, points, object_to_world, plane, timings)


def _roi_points(capture: Capture, frame: np.ndarray, lo: np.ndarray, hi: np.ndarray, cfg: FusionConfig) -> np.ndarray:
    """(N, 3) world: measured points inside the plane-frame box [lo, hi] above the cut, all views, full resolution."""
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    corners_w = corners @ frame[:3, :3].T + frame[:3, 3]
    world_to_plane = np.linalg.inv(frame)
    out = []
    for i in range(len(capture.names)):
        K, T = capture.intrinsics[i], capture.camera_to_world[i]
        c = (corners_w - T[:3, 3]) @ T[:3, :3]
        if (c[:, 2] <= 0).any():
            u0, v0, u1, v1 = 0, 0, capture.shape[1], capture.shape[0]
        else:
            uv = c[:, :2] / c[:, 2:3] * K[[0, 1], [0, 1]] + K[:2, 2]
            u0, v0 = np.maximum(np.floor(uv.min(0)).astype(int), 0)
            u1, v1 = np.minimum(np.ceil(uv.max(0)).astype(int) + 1, capture.shape[::-1])
        if u1 <= u0 or v1 <= v0:
            continue
        d = capture.depth[i, v0:v1, u0:u1]
        Kc = K.copy()
        Kc[0, 2] -= u0
        Kc[1, 2] -= v0
        ok = np.isfinite(d) & (d < cfg.depth_max)
        p = pixel_rays(Kc, *d.shape)[ok] * d[ok, None]
        pw = affine(p, T[:3, :3], T[:3, 3])
        q = affine(pw, world_to_plane[:3, :3], world_to_plane[:3, 3])
        keep = np.all((q >= lo) & (q <= hi), axis=1) & (q[:, 2] > cfg.cut_height + cfg.plane_distance)
        out.append(pw[keep])
    return np.concatenate(out) if out else np.zeros((0, 3))
