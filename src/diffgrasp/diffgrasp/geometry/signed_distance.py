"""Exact, differentiable signed distance from query points to a watertight triangle mesh.

Convention: d < 0 inside the object (trimesh's ``proximity.signed_distance`` is the opposite: positive inside).
The normal returned is the outward unit normal at the closest surface point, equal to ∇d.

How it works (two stages, so that the result is exact in the query dtype and differentiable):
1. ``_ClosestFace`` (a ``torch.autograd.Function`` with non-differentiable outputs) runs a warp-lang BVH query
   (``wp.Mesh`` + ``mesh_query_point_sign_winding_number``, float32) that returns, per point, the index of the closest
   triangle and the inside/outside sign by the generalised winding number (robust on fused scans and meshes with small
   self-intersections; ``sign_method="parity"`` uses ray parity, ``"normal"`` the closest feature's angle-weighted
   normal: both 1.3–1.7x faster on CPU, and exact on validated watertight, consistently wound meshes away from
   self-intersections). The face index and the sign are piecewise
   constant in the point, so they carry no gradient.
2. The closest point on that triangle is recomputed analytically in torch in the query dtype (Ericson's region test),
   so gradients flow by autograd: ∂d/∂x = n, and the normal's own gradient is exact too — zero in a face interior
   (n = face normal), n = ±(x − c)/|x − c| on edges and vertices, whose derivative is (I − n nᵀ)/|x − c|.

Precision: the face is chosen in float32. Within ~1e-8 m of a tie between two faces (a point almost equidistant to an
edge and a neighbouring face's vertex) the runner-up may be taken: d stays exact to ~1e-8 m, the normal may tilt by
up to ~1e-3 rad there. Away from ties the result equals a float64 brute-force reference to ~1e-15 m.
"""

from __future__ import annotations

import numpy as np
import torch

_LEN_EPS = 1e-12  # m: below this |x − c| the face normal is used (the direction (x − c)/|x − c| is noise)


def _warp():
    import warp as wp  # heavy (~0.3 s): `diffgrasp --help` imports this module (through diffgrasp.geometry)

    if not getattr(_warp, "_initialised", False):
        # Warp prints a banner and per-module load lines at INFO level; keep library users' logs quiet.
        wp.config.log_level = max(wp.config.log_level, wp.LOG_ERROR)
        wp.init()
        _warp._initialised = True
    return wp


_KERNELS: dict[str, object] = {}
SIGN_METHODS = ("winding", "parity", "normal")


def _kernel(sign_method: str):
    """The closest-face kernel of ``sign_method`` (built and compiled once per method): per point, the index of the
    closest face (−1 if none within ``max_dist``) and the inside/outside sign (< 0 inside; 1 when no face). The
    methods differ only in warp's point query, chosen when the kernel is generated (``wp.static``)."""
    if sign_method in _KERNELS:
        return _KERNELS[sign_method]
    if sign_method not in SIGN_METHODS:
        raise ValueError(f"sign_method: expected one of 'winding', 'parity', 'normal', got {sign_method!r}")
    wp = _warp()
    method = SIGN_METHODS.index(sign_method)

    @wp.kernel(module="unique")
    def closest(mesh: wp.uint64, points: wp.array(dtype=wp.vec3), max_dist: float,
                face: wp.array(dtype=wp.int32), sign: wp.array(dtype=wp.float32)):
        tid = wp.tid()
        if wp.static(method == 0):
            q = wp.mesh_query_point_sign_winding_number(mesh, points[tid], max_dist)
        elif wp.static(method == 1):
            q = wp.mesh_query_point_sign_parity(mesh, points[tid], max_dist)
        else:
            q = wp.mesh_query_point_sign_normal(mesh, points[tid], max_dist)
        if q.result:
            face[tid] = q.face
            sign[tid] = q.sign
        else:
            face[tid] = -1
            sign[tid] = 1.0

    _KERNELS[sign_method] = closest
    return closest


class WarpMeshIndex:
    """The warp-lang BVH of one mesh, built lazily per device (float32 vertices)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, sign_method: str = "winding") -> None:
        self.vertices = np.ascontiguousarray(vertices, dtype=np.float32)
        self.faces = np.ascontiguousarray(faces, dtype=np.int32).reshape(-1)
        self.sign_method = sign_method
        _kernel(sign_method)  # validate early
        self._meshes: dict[str, object] = {}

    def _mesh(self, device: str):
        if device not in self._meshes:
            wp = _warp()
            pts = wp.array(self.vertices, dtype=wp.vec3, device=device)
            idx = wp.array(self.faces, dtype=wp.int32, device=device)
            self._meshes[device] = wp.Mesh(points=pts, indices=idx,
                                           support_winding_number=self.sign_method == "winding")
        return self._meshes[device]

    def query(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points (M, 3) → (face (M,) long, sign (M,) ±1 in the points' dtype; −1 inside)."""
        wp = _warp()
        device = "cpu" if points.device.type == "cpu" else f"cuda:{points.device.index or 0}"
        mesh = self._mesh(device)
        pts = points.detach().to(torch.float32).contiguous()
        face = torch.empty(len(pts), dtype=torch.int32, device=points.device)
        sign = torch.empty(len(pts), dtype=torch.float32, device=points.device)
        if len(pts):
            # on CUDA, launch on torch's current stream so that the torch ops before/after are ordered with it
            stream = wp.stream_from_torch(points.device) if points.device.type == "cuda" else None
            wp.launch(_kernel(self.sign_method), dim=len(pts), device=device, stream=stream,
                      inputs=[mesh.id, wp.from_torch(pts, dtype=wp.vec3), 1.0e6],
                      outputs=[wp.from_torch(face, dtype=wp.int32), wp.from_torch(sign, dtype=wp.float32)])
        if bool((face < 0).any()):
            raise RuntimeError("signed_distance: BVH query found no face (points > 1e6 m away or mesh degenerate)")
        return face.long(), torch.where(sign < 0, -1.0, 1.0).to(points.dtype)


class _ClosestFace(torch.autograd.Function):
    """Non-differentiable BVH stage: points (M, 3) → closest face index (M,) and inside sign (M,)."""

    @staticmethod
    def forward(ctx, points: torch.Tensor, index: WarpMeshIndex):  # type: ignore[override]
        face, sign = index.query(points)
        ctx.mark_non_differentiable(face, sign)
        return face, sign

    @staticmethod
    def backward(ctx, grad_face, grad_sign):  # type: ignore[override]
        return None, None


def _dot(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return (u * v).sum(-1)


def closest_point_on_triangle(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor
                              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Closest point on triangles (a, b, c) to p, all (M, 3); returns (closest (M, 3), in_face (M,) bool).

    Ericson's Voronoi-region test; ``in_face`` is True when the closest point lies in the triangle's interior.
    Denominators of unselected branches are made safe so that gradients never see NaN.
    """
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = p - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = p - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    vc = d1 * d4 - d3 * d2
    vb = d5 * d2 - d1 * d6
    va = d3 * d6 - d5 * d4

    in_a = (d1 <= 0) & (d2 <= 0)
    in_b = (d3 >= 0) & (d4 <= d3)
    in_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    in_c = (d6 >= 0) & (d5 <= d6)
    in_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    in_bc = (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0)

    one = torch.ones_like(d1)
    den_ab = torch.where(in_ab, d1 - d3, one)
    den_ac = torch.where(in_ac, d2 - d6, one)
    den_bc = torch.where(in_bc, (d4 - d3) + (d5 - d6), one)
    den_ab = torch.where(den_ab == 0, one, den_ab)
    den_ac = torch.where(den_ac == 0, one, den_ac)
    den_bc = torch.where(den_bc == 0, one, den_bc)
    on_ab = a + (d1 / den_ab)[:, None] * ab
    on_ac = a + (d2 / den_ac)[:, None] * ac
    on_bc = b + ((d4 - d3) / den_bc)[:, None] * (c - b)
    normal = torch.linalg.cross(ab, ac)
    nn = normal / normal.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    on_face = p - _dot(ap, nn)[:, None] * nn

    out = on_face
    in_face = torch.ones_like(in_a)
    # Apply in reverse priority so that the first matching region (Ericson's order) wins.
    for mask, point in ((in_bc, on_bc), (in_ac, on_ac), (in_c, c), (in_ab, on_ab), (in_b, b), (in_a, a)):
        out = torch.where(mask[:, None], point, out)
        in_face = in_face & ~mask
    return out, in_face


def mesh_signed_distance(points: torch.Tensor, vertices: torch.Tensor, faces: torch.Tensor,
                         index: WarpMeshIndex) -> tuple[torch.Tensor, torch.Tensor]:
    """Signed distance of points (..., 3) m to the mesh (vertices (V, 3), faces (F, 3) long, same device/dtype).

    Returns (d (...,) m, negative inside; normal (..., 3) outward unit normal at the closest point). Differentiable
    w.r.t. ``points`` through both outputs (see module docstring).
    """
    shape = points.shape[:-1]
    x = points.reshape(-1, 3)
    face, sign = _ClosestFace.apply(x, index)
    tri = vertices[faces[face]]                       # (M, 3, 3)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    closest, in_face = closest_point_on_triangle(x, a, b, c)
    fn = torch.linalg.cross(b - a, c - a)
    fn = fn / fn.norm(dim=-1, keepdim=True).clamp_min(1e-300)

    # Face interior: d = ± plane distance (exact, and the gradient is the face normal even at d = 0).
    plane = _dot(x - a, fn)
    d_face = torch.where(plane * sign < 0, -plane, plane)
    # Edges and vertices: d = sign · |x − c|, normal = sign · (x − c)/|x − c| (face normal when |x − c| ~ 0).
    diff = x - closest
    sq = _dot(diff, diff)
    far = sq > _LEN_EPS ** 2
    length = torch.sqrt(torch.where(far, sq, torch.ones_like(sq)))
    d_edge = torch.where(far, sign * length, torch.zeros_like(sq))
    n_edge = torch.where(far[:, None], sign[:, None] * diff / length[:, None], fn)

    d = torch.where(in_face, d_face, d_edge)
    normal = torch.where(in_face[:, None], fn, n_edge)
    return d.reshape(shape), normal.reshape(*shape, 3)


def naive_unsigned_distance(points: np.ndarray, triangles: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Slow float64 reference: distance from points (M, 3) to the nearest of triangles (F, 3, 3), by brute force.

    Independent of ``closest_point_on_triangle``: min over faces of the plane distance when the projection falls inside
    the triangle (barycentric test), else the distance to the nearest of its three edge segments. For tests.
    """
    points = np.asarray(points, dtype=float)
    tri = np.asarray(triangles, dtype=float)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    n = np.cross(b - a, c - a)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    v0, v1 = b - a, c - a
    d00, d01, d11 = (v0 * v0).sum(1), (v0 * v1).sum(1), (v1 * v1).sum(1)
    denom = d00 * d11 - d01 * d01
    out = np.empty(len(points))
    for start in range(0, len(points), chunk):
        p = points[start:start + chunk, None, :]                  # (m, 1, 3)
        ap = p - a
        plane = (ap * n).sum(-1)                                  # (m, F)
        proj = ap - plane[..., None] * n
        d20, d21 = (proj * v0).sum(-1), (proj * v1).sum(-1)
        v = (d11 * d20 - d01 * d21) / denom
        w = (d00 * d21 - d01 * d20) / denom
        inside = (v >= 0) & (w >= 0) & (v + w <= 1)
        best = np.where(inside, np.abs(plane), np.inf)
        for s, e in ((a, b), (b, c), (c, a)):
            seg = e - s
            t = np.clip(((p - s) * seg).sum(-1) / (seg * seg).sum(-1), 0.0, 1.0)
            dist = np.linalg.norm(p - (s + t[..., None] * seg), axis=-1)
            best = np.minimum(best, dist)
        out[start:start + chunk] = best.min(axis=1)
    return out
