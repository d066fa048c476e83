"""UR10e inverse kinematics: batched damped least squares on a serial chain read from the compiled MuJoCo model.

The chain (body offsets, joint axes, limits) is taken from ``MjModel`` so forward kinematics matches MuJoCo exactly;
FK, the geometric Jacobian and the DLS iterations run vectorised in numpy over all targets × seeds at once.
Poses are (…, 4, 4) homogeneous matrices in the ``world`` frame; joint angles in rad.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from diffgrasp.execution.execution_config import IKConfig


def _quat_to_mat(quat_wxyz: np.ndarray) -> np.ndarray:
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat_wxyz, dtype=float))
    return mat.reshape(3, 3)


def _axis_angle_matrices(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(3,) unit axis, (N,) angles → (N, 3, 3) rotations (Rodrigues)."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def rotation_log(rot: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations → (N, 3) rotation vectors (axis × angle, rad), robust near 0 and π (scipy)."""
    return Rotation.from_matrix(rot).as_rotvec()


@dataclasses.dataclass(frozen=True)
class SerialChain:
    """A serial chain of hinge joints: ``base`` (4, 4) world pose of the first joint's parent body, then per joint the
    body offset ``offsets`` (J, 4, 4) from the parent body, axis ``axes`` (J, 3) in the body frame, and ``tip`` (4, 4)
    from the last body to the end frame. ``lower``/``upper`` (J,) rad."""

    base: np.ndarray
    offsets: np.ndarray
    axes: np.ndarray
    tip: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @staticmethod
    def from_model(model: mujoco.MjModel, joint_names: tuple[str, ...], tip_site: str | None) -> SerialChain:
        """Chain of the named hinge joints (one per body, joint at the body origin) ending at site ``tip_site``
        (None: at the last body's frame)."""
        data = mujoco.MjData(model)
        mujoco.mj_kinematics(model, data)
        joints = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in joint_names]
        if min(joints) < 0:
            raise ValueError(f"joint_names: not all in the model: {joint_names}")
        bodies = [int(model.jnt_bodyid[j]) for j in joints]
        if any(np.abs(model.jnt_pos[j]).max() > 1e-12 for j in joints):
            raise ValueError("SerialChain: joints must sit at their body origins")
        first_parent = int(model.body_parentid[bodies[0]])
        base = np.eye(4)
        base[:3, :3] = data.xmat[first_parent].reshape(3, 3)
        base[:3, 3] = data.xpos[first_parent]
        offsets = np.tile(np.eye(4), (len(bodies), 1, 1))
        for i, b in enumerate(bodies):
            if i > 0 and int(model.body_parentid[b]) != bodies[i - 1]:
                raise ValueError(f"SerialChain: body {model.body(b).name} is not a child of the previous joint's body")
            offsets[i, :3, :3] = _quat_to_mat(model.body_quat[b])
            offsets[i, :3, 3] = model.body_pos[b]
        tip = np.eye(4)
        if tip_site is not None:
            site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, tip_site)
            if site < 0 or int(model.site_bodyid[site]) != bodies[-1]:
                raise ValueError(f"tip_site: {tip_site!r} is not a site on the last chain body")
            tip[:3, :3] = _quat_to_mat(model.site_quat[site])
            tip[:3, 3] = model.site_pos[site]
        return SerialChain(base=base, offsets=offsets, axes=np.array([model.jnt_axis[j] for j in joints]), tip=tip,
                           lower=np.array([model.jnt_range[j][0] for j in joints]),
                           upper=np.array([model.jnt_range[j][1] for j in joints]))

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """q (N, J) → end pose (N, 4, 4), joint origins (N, J, 3) and world joint axes (N, J, 3)."""
        n = q.shape[0]
        pose = np.broadcast_to(self.base, (n, 4, 4)).copy()
        origins = np.empty((n, len(self.axes), 3))
        axes = np.empty((n, len(self.axes), 3))
        for j in range(len(self.axes)):  # loop over the 6 joints, vectorised over N
            pose = pose @ self.offsets[j]
            origins[:, j] = pose[:, :3, 3]
            axes[:, j] = pose[:, :3, :3] @ self.axes[j]
            rot = np.tile(np.eye(4), (n, 1, 1))
            rot[:, :3, :3] = _axis_angle_matrices(self.axes[j], q[:, j])
            pose = pose @ rot
        return pose @ self.tip, origins, axes

    def jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """q (N, J) → (end pose (N, 4, 4), geometric Jacobian (N, 6, J): rows linear velocity, angular velocity)."""
        pose, origins, axes = self.forward(q)
        lin = np.cross(axes, pose[:, None, :3, 3] - origins)
        return pose, np.concatenate([lin.transpose(0, 2, 1), axes.transpose(0, 2, 1)], axis=1)


def pose_error(current: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4, 4) × 2 → position error (N,) m and rotation error (N,) rad."""
    pos = np.linalg.norm(target[:, :3, 3] - current[:, :3, 3], axis=1)
    rel = np.einsum("nij,nkj->nik", target[:, :3, :3], current[:, :3, :3])
    ang = np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0))
    return pos, ang


@dataclasses.dataclass
class IKResult:
    """q (N, J) rad; success (N,) bool; position_error (N,) m; rotation_error (N,) rad."""

    q: np.ndarray
    success: np.ndarray
    position_error: np.ndarray
    rotation_error: np.ndarray


def solve_dls(chain: SerialChain, targets: np.ndarray, seeds: np.ndarray, config: IKConfig = IKConfig()) -> IKResult:
    """Damped least squares from each seed: targets (N, 4, 4), seeds (N, J) → :class:`IKResult` per row.

    Joint angles are clamped to the chain limits after every step; success = within the config tolerances.
    """
    q = np.clip(np.asarray(seeds, dtype=float).copy(), chain.lower, chain.upper)
    targets = np.asarray(targets, dtype=float)
    eye = np.eye(6)
    for _ in range(config.max_iterations):
        pose, jac = chain.jacobian(q)
        err = np.concatenate([targets[:, :3, 3] - pose[:, :3, 3],
                              rotation_log(np.einsum("nij,nkj->nik", targets[:, :3, :3], pose[:, :3, :3]))], axis=1)
        pos_e, rot_e = np.linalg.norm(err[:, :3], axis=1), np.linalg.norm(err[:, 3:], axis=1)
        active = (pos_e > config.position_tolerance) | (rot_e > config.rotation_tolerance)
        if not active.any():
            break
        err[:, :3] = np.clip(err[:, :3], -config.max_step_m, config.max_step_m)
        jjt = jac @ jac.transpose(0, 2, 1) + (config.damping ** 2) * eye
        dq = np.einsum("nji,nj->ni", jac, np.linalg.solve(jjt, err[..., None])[..., 0])
        dq = np.clip(dq, -config.max_step_rad, config.max_step_rad)
        q = np.where(active[:, None], np.clip(q + dq, chain.lower, chain.upper), q)
    pose = chain.forward(q)[0]
    pos_e, rot_e = pose_error(pose, targets)
    ok = (pos_e <= config.position_tolerance) & (rot_e <= config.rotation_tolerance)
    return IKResult(q=q, success=ok, position_error=pos_e, rotation_error=rot_e)


def solve_ik(chain: SerialChain, targets: np.ndarray, reference: np.ndarray, config: IKConfig = IKConfig(),
             seed: int = 0) -> IKResult:
    """Multi-seed IK: targets (N, 4, 4); reference (J,) or (N, J) rad (first seed, and the solution nearest to it wins).

    Seeds: the reference plus ``config.num_seeds - 1`` uniform random seeds within ±π (deterministic for ``seed``);
    all N × S problems are solved in one batch.
    """
    targets = np.asarray(targets, dtype=float)
    n, dof = targets.shape[0], len(chain.axes)
    ref = np.broadcast_to(np.asarray(reference, dtype=float), (n, dof))
    rng = np.random.default_rng(seed)
    rand = rng.uniform(-np.pi, np.pi, size=(config.num_seeds - 1, dof))
    seeds = np.concatenate([ref[None], np.broadcast_to(rand[:, None], (config.num_seeds - 1, n, dof))], axis=0)
    res = solve_dls(chain, np.tile(targets, (config.num_seeds, 1, 1)), seeds.reshape(-1, dof), config)
    q = res.q.reshape(config.num_seeds, n, dof)
    ok = res.success.reshape(config.num_seeds, n)
    dist = np.linalg.norm(q - ref[None], axis=2) + np.where(ok, 0.0, 1e6)
    best = dist.argmin(axis=0)
    idx = np.arange(n)
    return IKResult(q=q[best, idx], success=ok[best, idx],
                    position_error=res.position_error.reshape(config.num_seeds, n)[best, idx],
                    rotation_error=res.rotation_error.reshape(config.num_seeds, n)[best, idx])


__all__ = ["IKResult", "SerialChain", "pose_error", "rotation_log", "solve_dls", "solve_ik"]
