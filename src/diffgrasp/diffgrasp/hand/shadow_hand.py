"""``ShadowHand``: batched differentiable kinematics of the Shadow right hand plus its contact/surface/capsule points.

Frames: ``forward_kinematics`` returns poses in ``rh_forearm`` (the hand base, = the UR10e flange); everything taking
``(palm_pos, palm_rot, q22)`` works in the object frame, where ``palm_pos`` (B, 3) m and ``palm_rot`` (B, 3, 3) are the
pose of ``rh_palm`` (design notes §3–4: fingers along +z, palmar side −y, thumb on +x). Joint angles in rad, in the
canonical order of ``diffgrasp.hand.names`` (24 = 2 wrist + 22 finger joints; ``q22`` = the 22 finger joints).
Device and dtype: the constants live on ``hand.device`` / ``hand.dtype`` (``hand.to``); floating inputs must match.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from diffgrasp._checks import check_finite, check_shape
from diffgrasp.geometry.rotations import quaternion_xyzw_to_matrix
from diffgrasp.hand.assets import (
    forearm_collision_points,
    hand_model,
    load_collision_capsules,
    load_contact_candidates,
    load_surface_points,
)
from diffgrasp.hand.kinematics import KinematicTree
from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_LIMITS, JOINT_NAMES

__all__ = ["ShadowHand"]

BASE_LINK = "rh_forearm"
PALM_LINK = "rh_palm"
UNIT_QUATERNION_TOLERANCE = 1e-3
ROTATION_TOLERANCE = 1e-3


class LinkPoints:
    """Points attached to links, grouped by link so that a transform is one GEMM per link (no per-point gather)."""

    def __init__(self, link_index: np.ndarray, points: np.ndarray) -> None:
        self.link_index = np.asarray(link_index, dtype=np.int64)
        self.points = np.asarray(points, dtype=np.float64)
        self.groups = [int(i) for i in np.unique(self.link_index)]
        order = np.concatenate([np.flatnonzero(self.link_index == g) for g in self.groups])
        self._inverse = np.argsort(order)
        self._identity = bool(np.array_equal(order, np.arange(len(order))))

    def chunks(self, values: np.ndarray, device: torch.device, dtype: torch.dtype, homogeneous: bool) -> list:
        """Per link group: (n, 4) homogeneous points (or (n, 3) directions) as tensors."""
        vals = np.asarray(values, dtype=np.float64)
        if homogeneous:
            vals = np.concatenate([vals, np.ones((len(vals), 1))], axis=1)
        return [torch.as_tensor(vals[self.link_index == g], device=device, dtype=dtype) for g in self.groups]

    def tensors(self, device: torch.device, dtype: torch.dtype) -> dict:
        homo = np.concatenate([self.points, np.ones((len(self.points), 1))], axis=1)
        return {"chunks": self.chunks(self.points, device, dtype, homogeneous=True),
                "inverse": None if self._identity else torch.as_tensor(self._inverse, device=device),
                "link_index": torch.as_tensor(self.link_index, device=device),
                "points": torch.as_tensor(homo, device=device, dtype=dtype)}

    def gather_transform(self, poses: torch.Tensor, cache: dict, values: torch.Tensor | None = None) -> torch.Tensor:
        """Same as ``transform`` by gathering each point's pose: faster for few points (contacts, capsules)."""
        pts = values if values is not None else cache["points"]  # (N, 4) homogeneous or (N, 3) directions
        mat = poses.index_select(1, cache["link_index"])[:, :, :3, :pts.shape[1]]  # (B, N, 3, k)
        return (mat * pts[None, :, None, :]).sum(-1)

    def transform(self, poses: torch.Tensor, cache: dict, values: list[torch.Tensor] | None = None) -> torch.Tensor:
        """poses (B, L, 4, 4) → (B, N, 3): the cached homogeneous points (or ``values``: (n, 3) directions, rotated
        only) in the poses' frame."""
        chunks = values if values is not None else cache["chunks"]
        out = []
        for g, pts in zip(self.groups, chunks, strict=True):
            mat = poses[:, g, :3, :pts.shape[1]]  # (B, 3, 4) or (B, 3, 3)
            out.append(torch.einsum("bij,nj->bni", mat, pts))  # (B, n, 3): one GEMM per link
        res = torch.cat(out, dim=1)
        return res if cache["inverse"] is None else res.index_select(1, cache["inverse"])


class ShadowHand:
    """The Shadow right hand (packaged MJCF + ``data/hand`` assets) as batched torch kinematics.

    Attributes (see the module docstring for frames and units):
        joint_names (24,), finger_joint_names (22,), lower / upper (24,) rad tensors,
        link_names: all 25 bodies from ``rh_forearm`` down; palm_link_names (L = 23,): ``rh_palm`` and descendants,
        contact_names / contact_link_index (C,), surface_link_index (P,), capsule_link_index / capsule_radius (K,),
        self_collision_pairs (M, 2) long: capsule index pairs on non-adjacent links.
    """

    def __init__(self, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        if not dtype.is_floating_point:
            raise ValueError(f"ShadowHand: dtype must be floating point, got {dtype}")
        model = hand_model()
        self.joint_names: tuple[str, ...] = JOINT_NAMES
        self.finger_joint_names: tuple[str, ...] = FINGER_JOINT_NAMES
        self._full = KinematicTree(model, BASE_LINK, JOINT_NAMES, device, dtype)
        self._palm = KinematicTree(model, PALM_LINK, FINGER_JOINT_NAMES, device, dtype)
        self.link_names: tuple[str, ...] = self._full.link_names
        self.palm_link_names: tuple[str, ...] = self._palm.link_names
        link_id = {n: i for i, n in enumerate(self.palm_link_names)}

        def index_of(links: tuple[str, ...], what: str) -> np.ndarray:
            unknown = sorted(set(links) - set(link_id))
            if unknown:
                raise ValueError(f"ShadowHand: {what} refer to links not below {PALM_LINK}: {unknown}")
            return np.array([link_id[n] for n in links], dtype=np.int64)

        cc = load_contact_candidates()
        self.contact_names: tuple[str, ...] = cc.names
        self.contact_links: tuple[str, ...] = cc.links
        self._contact = LinkPoints(index_of(cc.links, "contact candidates"), cc.positions)
        self._contact_normals = cc.normals
        sp = load_surface_points()
        self._surface = LinkPoints(index_of(sp.links, "surface points")[sp.link_index], sp.points)
        # The forearm hull in the palm frame with the wrist at 0 (the planner's hand is rooted at the palm).
        with torch.no_grad():
            palm_in_forearm = self._full.forward(torch.zeros(1, len(JOINT_NAMES), dtype=dtype, device=device))
            palm_in_forearm = palm_in_forearm[0, self.link_names.index(PALM_LINK)].double().cpu().numpy()
        forearm_in_palm = np.linalg.inv(palm_in_forearm)
        self._forearm_hull_np = forearm_collision_points() @ forearm_in_palm[:3, :3].T + forearm_in_palm[:3, 3]
        caps = load_collision_capsules()
        self.capsule_names: tuple[str, ...] = caps.names
        self._capsule_link = index_of(caps.links, "capsules")
        self._capsule_ends = LinkPoints(np.concatenate([self._capsule_link, self._capsule_link]),
                                         np.concatenate([caps.a, caps.b]))
        self._capsule_np = {"radius": caps.radius}
        self._pairs_np = caps.pairs
        self.self_collision_pair_rule = caps.pair_rule
        self.to(device, dtype)

    # ------------------------------------------------------------------ device / dtype
    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> ShadowHand:
        """Move every constant to ``device`` / ``dtype`` (in place); returns self."""
        # normalise e.g. "cuda" to "cuda:0" so that device checks on inputs compare equal
        self.device = torch.empty(0, device=device if device is not None else self._full.device).device
        self.dtype = dtype if dtype is not None else self._full.dtype
        kw = {"device": self.device, "dtype": self.dtype}
        self._full.to(self.device, self.dtype)
        self._palm.to(self.device, self.dtype)
        self.lower = torch.tensor([JOINT_LIMITS[n][0] for n in JOINT_NAMES], **kw)
        self.upper = torch.tensor([JOINT_LIMITS[n][1] for n in JOINT_NAMES], **kw)
        self.contact_link_index = torch.as_tensor(self._contact.link_index, device=self.device)
        self.surface_link_index = torch.as_tensor(self._surface.link_index, device=self.device)
        self.capsule_link_index = torch.as_tensor(self._capsule_link, device=self.device)
        self.capsule_radius = torch.as_tensor(self._capsule_np["radius"], **kw)
        self.self_collision_pairs = torch.as_tensor(self._pairs_np, device=self.device, dtype=torch.long)
        self._contact_cache = self._contact.tensors(self.device, self.dtype)
        self._contact_normals_t = torch.as_tensor(self._contact_normals, **kw)
        self._surface_cache = self._surface.tensors(self.device, self.dtype)
        self._capsule_cache = self._capsule_ends.tensors(self.device, self.dtype)
        self._forearm_hull_t = torch.as_tensor(self._forearm_hull_np, **kw)
        return self

    @property
    def num_contacts(self) -> int:
        """C, the number of contact candidates."""
        return len(self.contact_names)

    @property
    def num_surface_points(self) -> int:
        """P, the number of surface samples."""
        return len(self._surface.link_index)

    @property
    def num_capsules(self) -> int:
        """K, the number of collision capsules."""
        return len(self.capsule_names)

    # ------------------------------------------------------------------ input handling
    def _tensor(self, name: str, value: torch.Tensor) -> torch.Tensor:
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
        if not value.is_floating_point():
            value = value.to(self.dtype)
        if value.dtype != self.dtype or value.device != self.device:
            raise ValueError(f"{name}: {value.dtype} on {value.device} does not match the hand's {self.dtype} on "
                             f"{self.device}; call hand.to(device, dtype)")
        check_finite(name, value)
        return value

    def joints_from_dict(self, joints: Mapping[str, float | torch.Tensor], names: tuple[str, ...] | None = None
                         ) -> torch.Tensor:
        """Joint dict name → value (float or (B,) tensor, rad) → (B, len(names)) tensor in canonical order.

        ``names`` defaults to all 24 joints; the wrist joints may be left out (0). Unknown or missing names raise.
        """
        names = names or JOINT_NAMES
        unknown = sorted(set(joints) - set(JOINT_NAMES))
        if unknown:
            raise ValueError(f"joints: unknown joint name(s) {unknown}; expected rh_* Shadow names")
        missing = [n for n in names if n not in joints and n in FINGER_JOINT_NAMES]
        if missing:
            raise ValueError(f"joints: missing joint(s) {missing}")
        cols = [torch.as_tensor(joints.get(n, 0.0), device=self.device, dtype=self.dtype) for n in names]
        batch = max([c.numel() if c.ndim else 1 for c in cols])
        try:
            cols = [c.reshape(-1).expand(batch) for c in cols]
        except RuntimeError as err:
            raise ValueError(f"joints: values must be scalars or (B,) tensors of one length ({err})") from None
        return self._tensor("joints", torch.stack(cols, dim=1))

    def _q24(self, q: torch.Tensor | Mapping) -> torch.Tensor:
        if isinstance(q, Mapping):
            return self.joints_from_dict(q)
        q = self._tensor("q", q)
        if q.ndim == 2 and q.shape[1] == len(FINGER_JOINT_NAMES):
            return torch.cat([q.new_zeros(q.shape[0], 2), q], dim=1)
        check_shape("q", q, ("B", len(JOINT_NAMES)))
        return q

    def _q22(self, q22: torch.Tensor | Mapping) -> torch.Tensor:
        if isinstance(q22, Mapping):
            return self.joints_from_dict({k: v for k, v in q22.items() if k in FINGER_JOINT_NAMES
                                          or k not in JOINT_NAMES}, FINGER_JOINT_NAMES)
        q22 = self._tensor("q22", q22)
        check_shape("q22", q22, ("B", len(FINGER_JOINT_NAMES)))
        return q22

    def _palm_pose(self, palm_pos: torch.Tensor, palm_rot: torch.Tensor, batch: int) -> torch.Tensor:
        palm_pos = self._tensor("palm_pos", palm_pos)
        palm_rot = self._tensor("palm_rot", palm_rot)
        check_shape("palm_pos", palm_pos, (batch, 3))
        check_shape("palm_rot", palm_rot, (batch, 3, 3))
        eye = torch.eye(3, device=self.device, dtype=self.dtype)
        err = (palm_rot.transpose(1, 2) @ palm_rot - eye).abs().amax().item()
        if err > ROTATION_TOLERANCE:
            raise ValueError(f"palm_rot: not a rotation matrix (max |RᵀR − I| = {err:.3g})")
        top = torch.cat([palm_rot, palm_pos[:, :, None]], dim=2)
        bottom = torch.tensor([0.0, 0.0, 0.0, 1.0], device=self.device, dtype=self.dtype).expand(batch, 1, 4)
        return torch.cat([top, bottom], dim=1)

    def palm_rotation_from_quaternion(self, quat_xyzw: torch.Tensor) -> torch.Tensor:
        """(B, 4) quaternion xyzw (grasp-file order) → (B, 3, 3) rotation; a norm off 1 by > 1e-3 raises."""
        quat_xyzw = self._tensor("palm_quaternion_xyzw", quat_xyzw)
        check_shape("palm_quaternion_xyzw", quat_xyzw, ("B", 4))
        norm = quat_xyzw.norm(dim=-1)
        bad = (norm - 1.0).abs() > UNIT_QUATERNION_TOLERANCE
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise ValueError(f"palm_quaternion_xyzw[{i}]: not a unit quaternion (norm {float(norm[i]):.6f})")
        return quaternion_xyzw_to_matrix(quat_xyzw)

    # ------------------------------------------------------------------ kinematics
    def forward_kinematics(self, q: torch.Tensor | Mapping) -> dict[str, torch.Tensor]:
        """q (B, 24) rad (or (B, 22) finger joints with the wrist at 0, or a dict name → value) →
        {link name: (B, 4, 4) pose in the ``rh_forearm`` frame} for all 25 links."""
        poses = self._full.forward(self._q24(q))
        return {name: poses[:, i] for i, name in enumerate(self.link_names)}

    def links_in_palm(self, q22: torch.Tensor | Mapping) -> torch.Tensor:
        """q22 (B, 22) rad → (B, L, 4, 4) poses of ``palm_link_names`` in the ``rh_palm`` frame."""
        return self._palm.forward(self._q22(q22))

    def links_in_object(self, palm_pos: torch.Tensor, palm_rot: torch.Tensor, q22: torch.Tensor | Mapping
                        ) -> torch.Tensor:
        """palm_pos (B, 3) m, palm_rot (B, 3, 3), q22 (B, 22) rad → (B, L, 4, 4) link poses in the object frame."""
        in_palm = self.links_in_palm(q22)
        palm = self._palm_pose(palm_pos, palm_rot, in_palm.shape[0])
        return palm[:, None] @ in_palm

    def contact_candidates(self, palm_pos: torch.Tensor, palm_rot: torch.Tensor, q22: torch.Tensor | Mapping
                           ) -> tuple[torch.Tensor, torch.Tensor]:
        """→ points (B, C, 3) m and outward unit skin normals (B, C, 3), object frame (order: ``contact_names``)."""
        poses = self.links_in_object(palm_pos, palm_rot, q22)
        points = self._contact.gather_transform(poses, self._contact_cache)
        normals = self._contact.gather_transform(poses, self._contact_cache, values=self._contact_normals_t)
        return points, normals

    def forearm_hull_points(self, palm_pos: torch.Tensor, palm_rot: torch.Tensor) -> torch.Tensor:
        """→ (B, N, 3) m, object frame: vertices of the convex hull of the forearm's collision geometry (wrist at 0;
        the planner's links start at the palm, so its skin samples have no forearm), for clearance against a support
        plane."""
        palm = self._palm_pose(palm_pos, palm_rot, palm_pos.shape[0])
        return self._forearm_hull_t @ palm[:, :3, :3].transpose(1, 2) + palm[:, None, :3, 3]

    def surface_subset(self, index: np.ndarray) -> tuple[LinkPoints, dict]:
        """The surface samples ``index`` (n,) as their own point set and its tensors, for ``transform_points``."""
        index = np.asarray(index, dtype=np.int64)
        subset = LinkPoints(self._surface.link_index[index], self._surface.points[index])
        return subset, subset.tensors(self.device, self.dtype)

    def transform_points(self, points: tuple[LinkPoints, dict], palm_pos: torch.Tensor, palm_rot: torch.Tensor,
                         q22: torch.Tensor | Mapping) -> torch.Tensor:
        """A point set of ``surface_subset`` → (B, n, 3) m in the object frame."""
        point_set, cache = points
        return point_set.transform(self.links_in_object(palm_pos, palm_rot, q22), cache)

    def surface_points(self, palm_pos: torch.Tensor, palm_rot: torch.Tensor, q22: torch.Tensor | Mapping
                       ) -> torch.Tensor:
        """→ (B, P, 3) m area-weighted samples on the link meshes, object frame (link of each: surface_link_index)."""
        poses = self.links_in_object(palm_pos, palm_rot, q22)
        return self._surface.transform(poses, self._surface_cache)

    def collision_capsules(self, palm_pos: torch.Tensor, palm_rot: torch.Tensor, q22: torch.Tensor | Mapping
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """→ segment ends a, b (B, K, 3) m in the object frame and radius (K,) m (a sphere has a == b)."""
        poses = self.links_in_object(palm_pos, palm_rot, q22)
        ends = self._capsule_ends.gather_transform(poses, self._capsule_cache)
        k = self.num_capsules
        return ends[:, :k], ends[:, k:], self.capsule_radius
