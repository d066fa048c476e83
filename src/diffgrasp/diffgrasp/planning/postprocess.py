"""Post-processing of refined candidates: close fingers onto the surface, derive pregrasp/squeeze, measure,
reject, de-duplicate and rank.

Closing is a batched sweep: every flexion joint of a finger moves together by s ∈ [close_min, close_max] rad; since
fingers are independent chains, one FK pass over the sweep values serves all fingers, and each finger keeps the
last s before any of its skin samples comes within ``contact_distance_m`` of the surface (coarse, then fine).
With ``close_order: proximal_first`` (a wrap) the proximal flexion joint sweeps first, then the distal ones from
there until the links they move touch.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from diffgrasp.geometry import ObjectModel
from diffgrasp.grasp_phases import backed_off_position, pregrasp_joints, squeeze_joints
from diffgrasp.hand import ShadowHand
from diffgrasp.hand.names import FINGER_JOINT_NAMES, FLEXION_JOINT_NAMES, PROXIMAL_FLEXION_JOINT_NAMES
from diffgrasp.losses.self_collision import segment_segment_distance
from diffgrasp.planning.fast_object import GridObject
from diffgrasp.planning.planner_config import PostprocessConfig

FINGERS = ("ff", "mf", "rf", "lf", "th")
GROUPS = FINGERS + ("palm",)
# links moved by the distal flexion joints (J2 + J1 of a finger, THJ1 of the thumb)
DISTAL_FLEXION_LINKS = frozenset([f"rh_{f}{link}" for f in FINGERS[:4] for link in ("middle", "distal")]
                                 + ["rh_thdistal"])


def finger_of_link(link: str) -> str:
    """'rh_ffmiddle' → 'ff'; 'rh_lfmetacarpal' → 'lf'; 'rh_palm' → 'palm'."""
    short = link.removeprefix("rh_")
    return short[:2] if short[:2] in FINGERS else "palm"


@dataclasses.dataclass
class ClosedGrasps:
    """Candidates after closing (object frame): q22 (B, 22) rad and which groups touch (B, 6) bool."""

    position: torch.Tensor
    rotation: torch.Tensor
    q22: torch.Tensor
    touching: torch.Tensor


class GraspPostprocessor:
    """Closing, measurement and selection for one hand and object (all batched over candidates)."""

    def __init__(self, hand: ShadowHand, obj: ObjectModel, config: PostprocessConfig, fast_object=None,
                 closing_hand=None, support_plane: np.ndarray | None = None) -> None:
        """``fast_object`` (GridObject) and ``closing_hand`` (e.g. a SurfaceSubsetHand) speed up the closing sweep;
        every reported metric uses the exact ``obj`` and the full ``hand``. ``support_plane`` (4,) in the object
        frame (normal into free space): fingers also stop at it, and ``measure`` reports the depth below it."""
        self.hand, self.obj, self.cfg = hand, obj, config
        self.plane = None if support_plane is None else torch.as_tensor(support_plane, dtype=hand.dtype,
                                                                           device=hand.device)
        self.fast_object = fast_object or GridObject(obj)
        closing_hand = closing_hand or hand
        kw = {"device": hand.device, "dtype": hand.dtype}
        self.flexion = torch.tensor([n in FLEXION_JOINT_NAMES for n in FINGER_JOINT_NAMES], **kw)
        self.proximal = torch.tensor([n in PROXIMAL_FLEXION_JOINT_NAMES for n in FINGER_JOINT_NAMES], **kw)
        self.distal = self.flexion - self.proximal
        joint_group = [finger_of_link("rh_" + n[3:5].lower() + "x") for n in FINGER_JOINT_NAMES]
        self.joint_group = np.array([GROUPS.index(g) for g in joint_group])
        contact_group = [GROUPS.index(finger_of_link(link)) for link in hand.contact_links]
        self.contact_group = torch.as_tensor(contact_group, device=hand.device)
        self.group_mask = torch.stack([self.contact_group == g for g in range(len(GROUPS))])  # (6, C)
        surface_group = torch.as_tensor([GROUPS.index(finger_of_link(hand.palm_link_names[int(i)]))
                                         for i in closing_hand.surface_link_index.cpu()], device=hand.device)
        self.surface_group_mask = torch.stack([surface_group == g for g in range(len(GROUPS))])  # (6, P)
        surface_links = [hand.palm_link_names[int(i)] for i in closing_hand.surface_link_index.cpu()]
        self.distal_surface = torch.as_tensor([link in DISTAL_FLEXION_LINKS for link in surface_links],
                                              device=hand.device)  # (P,) samples the distal flexion joints move
        self.closing_hand = closing_hand
        self.capsule_group = torch.as_tensor([GROUPS.index(finger_of_link(hand.palm_link_names[int(i)]))
                                              for i in hand.capsule_link_index.cpu()], device=hand.device)
        pairs = hand.self_collision_pairs
        self.cross_pairs = pairs[self.capsule_group[pairs[:, 0]] != self.capsule_group[pairs[:, 1]]]
        self.lower = hand.lower[2:]
        self.upper = hand.upper[2:]

    # ------------------------------------------------------------------ closing
    @torch.no_grad()
    def close(self, position: torch.Tensor, rotation: torch.Tensor, q22: torch.Tensor) -> ClosedGrasps:
        """Close each finger until its skin is within ``contact_distance_m`` of the surface (never into it).

        A coarse sweep over [close_min, close_max] brackets each finger's first contact; a fine sweep inside the
        bracket places it. Fingers touching even when fully opened and fingers that never touch stay as
        refined (curling them would collide with the palm and the other fingers); finally all closings shrink together
        until no two fingers touch.
        """
        if self.cfg.close_order == "proximal_first":
            s1, touching1, never1 = self._sweep_to_contact(position, rotation, q22, self.proximal)
            # a finger the proximal joint alone does not bring to the object closes it fully, then the distal joints
            # close until the links they move touch (the proximal phalanx may touch already); a finger that touches
            # in neither stage stays as refined
            s1 = torch.where(never1, torch.full_like(s1, self.cfg.close_max_rad), s1)
            s2, touching2, _ = self._sweep_to_contact(position, rotation, self._apply(q22, s1, self.proximal),
                                                      self.distal, self.distal_surface)
            s1 = torch.where(never1 & ~touching2, torch.zeros_like(s1), s1)
            s = self._back_off_self_contact(position, rotation, q22, torch.stack([s1, s2]),
                                            (self.proximal, self.distal))
            closed = self._apply(self._apply(q22, s[0], self.proximal), s[1], self.distal)
            touching = touching1 | touching2
        else:
            s, touching, _ = self._sweep_to_contact(position, rotation, q22, self.flexion)
            s = self._back_off_self_contact(position, rotation, q22, s[None], (self.flexion,))
            closed = self._apply(q22, s[0], self.flexion)
        if self.plane is not None:  # a finger stopped by the table touches the table, not the object
            to_object, to_plane = self._group_distances(position, rotation, closed)
            touching &= to_object <= to_plane
        return ClosedGrasps(position, rotation, closed, touching)

    def _group_distances(self, position: torch.Tensor, rotation: torch.Tensor, q22: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 6) each group's smallest skin distance (m) to the object and to the support plane, at q22 (B, 22)."""
        pts = self.closing_hand.surface_points(position, rotation, q22)  # (B, P, 3)
        big = torch.finfo(pts.dtype).max

        def per_group(d: torch.Tensor) -> torch.Tensor:
            return torch.where(self.surface_group_mask[None], d[:, None, :], big).amin(-1)
        return per_group(self.fast_object.grid(pts)), per_group(pts @ self.plane[:3] + self.plane[3])

    def _sweep_to_contact(self, position: torch.Tensor, rotation: torch.Tensor, q22: torch.Tensor,
                          joints: torch.Tensor, surface: torch.Tensor | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Close the ``joints`` (22,) 1/0 of every group from q22 (B, 22) until it touches (with its skin samples
        where ``surface`` (P,) bool, default all) → (B, 6) the closing s (rad; 0 for a group touching even opened
        and for one that never touches: it stays as it was), (B, 6) whether it touches and (B, 6) whether it never
        touches within the sweep."""
        cfg = self.cfg
        coarse = torch.linspace(cfg.close_min_rad, cfg.close_max_rad, cfg.close_steps, device=q22.device,
                                dtype=q22.dtype)
        step = float(coarse[1] - coarse[0]) if coarse.numel() > 1 else 0.0
        first = self._first_contact(position, rotation, q22, coarse[None, None, :].expand(q22.shape[0], 6, -1),
                                    joints, surface)
        never = first < 0
        start = coarse[(first - 1).clamp_min(0)]  # (B, 6): last free sweep value before contact
        fine = start[..., None] + torch.linspace(0, step, cfg.close_fine_steps, device=q22.device,
                                                 dtype=q22.dtype)
        first_fine = self._first_contact(position, rotation, q22, fine, joints, surface)
        s = torch.gather(fine, 2, (first_fine - 1).clamp_min(0)[..., None])[..., 0]  # free, just before contact
        s = torch.where((first == 0) | never, torch.zeros_like(s), s)  # touching even opened / never: as refined
        return s, ~never & (first > 0), never

    def _apply(self, q22: torch.Tensor, s: torch.Tensor, joints: torch.Tensor | None = None) -> torch.Tensor:
        """q22 (..., 22) + per-group closing s (..., 6) on ``joints`` (22,) 1/0 (default: the flexion joints),
        clamped to the limits."""
        per_joint = s[..., torch.as_tensor(self.joint_group, device=q22.device)] * (
            self.flexion if joints is None else joints)
        return torch.maximum(torch.minimum(q22 + per_joint, self.upper), self.lower)

    def _first_contact(self, position: torch.Tensor, rotation: torch.Tensor, q22: torch.Tensor,
                       sweep: torch.Tensor, joints: torch.Tensor, surface: torch.Tensor | None = None
                       ) -> torch.Tensor:
        """sweep (B, 6, T) closing values per group on ``joints`` (22,) → (B, 6) index of the first contact of the
        skin samples where ``surface`` (P,) bool (default all), −1 if none."""
        b, _, t = sweep.shape
        q = self._apply(q22[:, None], sweep.transpose(1, 2), joints)  # (B, T, 22)
        pts = self.closing_hand.surface_points(position.repeat_interleave(t, 0), rotation.repeat_interleave(t, 0),
                                       q.reshape(b * t, 22))
        d = self.fast_object.grid(pts)
        if self.plane is not None:  # the table is an obstacle like the object
            d = torch.minimum(d, pts @ self.plane[:3] + self.plane[3])
        d = d.reshape(b, t, -1)
        big = torch.finfo(d.dtype).max
        mask = self.surface_group_mask if surface is None else self.surface_group_mask & surface
        dmin = torch.where(mask[None, None], d[:, :, None, :], big).amin(-1)  # (B, T, 6)
        hit = dmin <= self.cfg.contact_distance_m  # (B, T, 6)
        hit = (hit | self._self_contact(position, rotation, q, b, t)).transpose(1, 2)  # (B, 6, T)
        return torch.where(hit.any(2), hit.float().argmax(2), torch.full_like(hit[..., 0], -1, dtype=torch.long))

    def _back_off_self_contact(self, position: torch.Tensor, rotation: torch.Tensor, q22: torch.Tensor,
                               s: torch.Tensor, joints: tuple[torch.Tensor, ...], levels: int = 11) -> torch.Tensor:
        """Scale every finger's closings s (S, B, 6), stage i on ``joints[i]`` (22,), by the largest λ ∈ [0, 1]
        that leaves no finger-on-finger contact (fingers closed to different amounts than in the shared sweep can
        still meet)."""
        b = s.shape[1]
        lam = torch.linspace(1.0, 0.0, levels, device=s.device, dtype=s.dtype)
        q = q22[:, None].expand(b, levels, 22)
        for stage, stage_joints in zip(s, joints, strict=True):
            q = self._apply(q, stage[:, None, :] * lam[None, :, None], stage_joints)  # (B, levels, 22)
        contact = self._self_contact(position, rotation, q, b, levels).any(-1)  # (B, levels)
        free = ~contact
        first_free = torch.where(free.any(1), free.float().argmax(1), torch.full_like(free[:, 0], levels - 1,
                                                                                   dtype=torch.long))
        return s * lam[first_free][None, :, None]

    def _self_contact(self, position: torch.Tensor, rotation: torch.Tensor, q: torch.Tensor, b: int, t: int
                      ) -> torch.Tensor:
        """(B, T, 6): the group's capsules touch a capsule of another group (fingers stop on each other too)."""
        a, e, r = self.hand.collision_capsules(position.repeat_interleave(t, 0), rotation.repeat_interleave(t, 0),
                                               q.reshape(b * t, 22))
        i, j = self.cross_pairs[:, 0], self.cross_pairs[:, 1]
        touching = (r[i] + r[j] - segment_segment_distance(a[:, i], e[:, i], a[:, j], e[:, j])) > 0  # (B·T, M)
        gi = torch.nn.functional.one_hot(self.capsule_group[i], len(GROUPS)).to(torch.float32)  # (M, 6)
        gj = torch.nn.functional.one_hot(self.capsule_group[j], len(GROUPS)).to(torch.float32)
        per_group = touching.to(torch.float32) @ (gi + gj)  # (B·T, 6) count of touching pairs per group
        return (per_group > 0).reshape(b, t, len(GROUPS))

    # ------------------------------------------------------------------ phases
    def phases(self, closed: ClosedGrasps, squeeze_rad: float | None = None,
               pregrasp_open_rad: float | None = None) -> dict[str, torch.Tensor]:
        """Pregrasp joints/palm and squeeze joints (motor targets) for the closed grasps; the touching fingers'
        flexion joints squeeze ``squeeze_rad`` (default ``config.squeeze_rad``) beyond the grasp, and every flexion
        joint opens ``pregrasp_open_rad`` (default ``config.pregrasp_open_rad``) for the pregrasp."""
        cfg = self.cfg
        q = closed.q22
        opening = cfg.pregrasp_open_rad if pregrasp_open_rad is None else pregrasp_open_rad
        pre = pregrasp_joints(q, self.flexion, self.lower, opening)
        touching_joint = closed.touching[:, torch.as_tensor(self.joint_group, device=q.device)]
        amount = cfg.squeeze_rad if squeeze_rad is None else squeeze_rad
        squeeze = squeeze_joints(q, self.flexion, amount, touching_joint.to(q.dtype))
        pre_pos = backed_off_position(closed.position, closed.rotation, cfg.pregrasp_backoff_m)
        return {"pregrasp_joints": pre, "squeeze_joints": squeeze, "pregrasp_position": pre_pos}

    # ------------------------------------------------------------------ metrics
    @torch.no_grad()
    def measure(self, closed: ClosedGrasps, self_penetration) -> dict[str, torch.Tensor]:
        """Penetration (max depth of hand surface samples, m), self-penetration (m), touching groups, contacts."""
        surf = self.hand.surface_points(closed.position, closed.rotation, closed.q22)
        d, _ = self.obj.signed_distance(surf)
        penetration = (-d).clamp_min(0).amax(1)
        below = torch.zeros_like(penetration)
        if self.plane is not None:  # the skin and the forearm housing below the support plane
            hull = self.hand.forearm_hull_points(closed.position, closed.rotation)
            below = (-(torch.cat([surf, hull], dim=1) @ self.plane[:3] + self.plane[3])).clamp_min(0).amax(1)
        a, b, r = self.hand.collision_capsules(closed.position, closed.rotation, closed.q22)
        self_pen = self_penetration(a, b, r)
        pts, _ = self.hand.contact_candidates(closed.position, closed.rotation, closed.q22)
        dc, n = self.obj.signed_distance(pts)
        return {"penetration": penetration, "self_penetration": self_pen, "below_support": below,
                "contact_distance": dc,
                "contact_points": pts - dc[..., None] * n, "contact_normals": -n,
                "touching_groups": closed.touching.sum(1)}


def select_diverse(order: np.ndarray, position: np.ndarray, rotation: np.ndarray, joints: np.ndarray, k: int,
                   config: PostprocessConfig) -> list[int]:
    """Greedy pick in ``order`` (best first), skipping near-duplicates of an already picked grasp.

    Near-duplicate: palm positions within ``dedupe_position_m`` AND palm rotations within ``dedupe_rotation_rad`` AND
    joint vectors (L∞) within ``dedupe_joint_rad``. Each pick is one vectorised comparison against all candidates.
    """
    alive = np.ones(len(order), dtype=bool)
    picked: list[int] = []
    for rank, idx in enumerate(order):
        if not alive[rank]:
            continue
        picked.append(int(idx))
        if len(picked) == k:
            break
        rest = order[rank + 1:]
        dp = np.linalg.norm(position[rest] - position[idx], axis=1)
        cos = (np.einsum("nij,ij->n", rotation[rest], rotation[idx]) - 1) / 2
        dr = np.arccos(np.clip(cos, -1, 1))
        dj = np.abs(joints[rest] - joints[idx]).max(1)
        dup = (dp < config.dedupe_position_m) & (dr < config.dedupe_rotation_rad) & (dj < config.dedupe_joint_rad)
        alive[rank + 1:] &= ~dup
    return picked
