"""Batched, differentiable forward kinematics of a tree of hinge joints, read from a compiled MuJoCo model.

Our own implementation (no pytorch_kinematics): the kinematic tree comes from ``mujoco.MjModel`` (``body_parentid``,
``body_pos``, ``body_quat`` wxyz, ``jnt_axis``, ``jnt_pos``, ``jnt_bodyid``, ``qpos0``) and reproduces
``mj_kinematics``: a body's pose is its parent's pose times the constant offset (``body_pos``, ``body_quat``) times a
rotation by ``q - qpos0`` about the joint axis through the joint position (Rodrigues). Poses are expressed in the frame
of the chosen root body (e.g. ``rh_forearm`` or ``rh_palm``); the root's own joints are ignored (the root is the frame).

Speed: all joint rotations are built in one vectorised step; the chain is then composed level by level (all bodies at
the same depth in one batched matmul), so a call costs ~depth matmuls, independent of the batch size in Python terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
import torch

__all__ = ["KinematicTree", "quat_wxyz_to_matrix_np"]


def quat_wxyz_to_matrix_np(q: np.ndarray) -> np.ndarray:
    """(4,) unit quaternion wxyz (MuJoCo order) → (3, 3) rotation matrix (float64)."""
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(q, dtype=np.float64) / np.linalg.norm(q))
    return mat.reshape(3, 3)


def _skew(v: np.ndarray) -> np.ndarray:
    x, y, z = v
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])


@dataclass(frozen=True)
class _Level:
    """Bodies at one depth below the root: their positions in the output order and their parents' positions."""

    bodies: torch.Tensor  # (n,) long: index into the non-root body list (local transforms)
    parents: torch.Tensor  # (n,) long: index into the previous level's pose tensor


class KinematicTree:
    """Forward kinematics of ``root`` and all its descendants in a MuJoCo model (hinge joints only).

    Args:
        model: compiled ``mujoco.MjModel``.
        root: name of the root body; poses are expressed in its frame.
        joint_names: names of the columns of ``q`` (any order; must contain every joint below the root).
        device, dtype: where the constant tensors live (``to`` moves them).

    Attributes:
        link_names: (L,) the root first, then its descendants in MuJoCo body order.
    """

    def __init__(self, model: mujoco.MjModel, root: str, joint_names: tuple[str, ...],
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        root_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, root)
        if root_id < 0:
            raise ValueError(f"KinematicTree: unknown root body {root!r}")
        self.root = root
        self.joint_names = tuple(joint_names)
        # Root and descendants in body order (MuJoCo orders parents before children).
        members = [root_id]
        for b in range(root_id + 1, model.nbody):
            if int(model.body_parentid[b]) in members:
                members.append(b)
        self.link_names: tuple[str, ...] = tuple(model.body(b).name for b in members)
        self._body_ids = members
        column = {name: i for i, name in enumerate(self.joint_names)}

        n = len(members) - 1  # non-root bodies, each with a local transform
        rot_c = np.zeros((n, 3, 3))
        trans_c = np.zeros((n, 3))
        axis_k = np.zeros((n, 3, 3))
        anchor = np.zeros((n, 3))
        qpos0 = np.zeros(n)
        q_column = np.zeros(n, dtype=np.int64)  # jointless bodies read column 0 with a zero axis (R = I)
        depth = {root_id: 0}
        for i, b in enumerate(members[1:]):
            depth[b] = depth[int(model.body_parentid[b])] + 1
            rot_c[i] = quat_wxyz_to_matrix_np(model.body_quat[b])
            trans_c[i] = model.body_pos[b]
            nj = int(model.body_jntnum[b])
            if nj > 1:
                raise ValueError(f"KinematicTree: body {model.body(b).name!r} has {nj} joints; only one is supported")
            if nj == 1:
                j = int(model.body_jntadr[b])
                if int(model.jnt_type[j]) != int(mujoco.mjtJoint.mjJNT_HINGE):
                    raise ValueError(f"KinematicTree: joint {model.joint(j).name!r} is not a hinge")
                name = model.joint(j).name
                if name not in column:
                    raise ValueError(f"KinematicTree: joint {name!r} below {root!r} missing from joint_names")
                axis = np.asarray(model.jnt_axis[j], dtype=np.float64)
                axis_k[i] = _skew(axis / np.linalg.norm(axis))
                anchor[i] = model.jnt_pos[j]
                qpos0[i] = model.qpos0[model.jnt_qposadr[j]]
                q_column[i] = column[name]
        # Local transform, linear in (sin, 1 - cos) of the joint angle (Rodrigues about the anchor p):
        #   R = Rc (I + s K + c1 K^2),  t = tc + Rc p - R p  =>  T = C + s A + c1 B with constant 4x4 C, A, B.
        rk, rk2 = rot_c @ axis_k, rot_c @ axis_k @ axis_k
        c4 = np.zeros((n, 4, 4))
        c4[:, :3, :3], c4[:, :3, 3], c4[:, 3, 3] = rot_c, trans_c, 1.0
        a4, b4 = np.zeros((n, 4, 4)), np.zeros((n, 4, 4))
        a4[:, :3, :3], a4[:, :3, 3] = rk, -(rk @ anchor[..., None])[..., 0]
        b4[:, :3, :3], b4[:, :3, 3] = rk2, -(rk2 @ anchor[..., None])[..., 0]
        self._np = {"c4": c4, "a4": a4, "b4": b4, "qpos0": qpos0}
        self._q_column_np = q_column

        # Levels: output order = root, then level 1 bodies, level 2 bodies, ...; remember the permutation back.
        local_index = {b: i for i, b in enumerate(members[1:])}
        max_depth = max(depth.values())
        prev_pos = {root_id: 0}
        levels, order = [], [root_id]
        for d in range(1, max_depth + 1):
            at = [b for b in members[1:] if depth[b] == d]
            levels.append((np.array([local_index[b] for b in at]),
                           np.array([prev_pos[int(model.body_parentid[b])] for b in at])))
            prev_pos = {b: k for k, b in enumerate(at)}
            order.extend(at)
        self._levels_np = levels
        self._perm_np = np.array([order.index(b) for b in members])  # output (body order) ← level order
        self.device = torch.device(device)
        self.dtype = dtype
        self._make_tensors()

    def _make_tensors(self) -> None:
        kw = {"device": self.device, "dtype": self.dtype}
        self._t = {k: torch.as_tensor(v, **kw) for k, v in self._np.items()}
        self._q_column = torch.as_tensor(self._q_column_np, device=self.device)
        self._levels = [_Level(torch.as_tensor(b, device=self.device), torch.as_tensor(p, device=self.device))
                        for b, p in self._levels_np]
        self._perm = torch.as_tensor(self._perm_np, device=self.device)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> KinematicTree:
        """Move the constant tensors (in place); returns self."""
        self.device = torch.device(device) if device is not None else self.device
        self.dtype = dtype if dtype is not None else self.dtype
        self._make_tensors()
        return self

    def local_transforms(self, q: torch.Tensor) -> torch.Tensor:
        """q: (B, J) rad in ``joint_names`` order → (B, L-1, 4, 4) parent-to-child transforms of the non-root bodies."""
        t = self._t
        angle = q.index_select(1, self._q_column) - t["qpos0"]  # (B, N)
        s = torch.sin(angle)[..., None, None]
        c1 = (1.0 - torch.cos(angle))[..., None, None]
        return t["c4"] + s * t["a4"] + c1 * t["b4"]

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        """q: (B, J) rad → (B, L, 4, 4) poses of ``link_names`` in the root frame (the root's pose is the identity).

        No argument checks here (see ``ShadowHand``); ``q`` must already be on this tree's device and dtype.
        """
        local = self.local_transforms(q)
        batch = q.shape[0]
        eye = torch.eye(4, dtype=q.dtype, device=q.device).expand(batch, 1, 4, 4)
        poses, prev = [eye], eye
        for level in self._levels:
            prev = prev.index_select(1, level.parents) @ local.index_select(1, level.bodies)
            poses.append(prev)
        return torch.cat(poses, dim=1).index_select(1, self._perm)
