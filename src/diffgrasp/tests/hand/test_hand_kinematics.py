"""ShadowHand forward kinematics: against MuJoCo's mj_kinematics (slow reference), frames, gradients, devices."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

from diffgrasp.geometry.rotations import matrix_to_rotation6d, rotation6d_to_matrix
from diffgrasp.hand import FINGER_JOINT_NAMES, ShadowHand
from diffgrasp.hand.assets import hand_model
from diffgrasp.hand.kinematics import KinematicTree


@pytest.fixture(scope="module")
def hand64() -> ShadowHand:
    return ShadowHand(dtype=torch.float64)


def _mujoco_in_root(model: mujoco.MjModel, qpos: np.ndarray, root: str, links: tuple[str, ...]) -> np.ndarray:
    """(N, nq) → (N, L, 4, 4) poses of ``links`` relative to ``root`` from mj_kinematics."""
    data = mujoco.MjData(model)
    ids = [model.body(n).id for n in links]
    rid = model.body(root).id
    out = np.zeros((len(qpos), len(ids), 4, 4))
    for k, q in enumerate(qpos):
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        rr, rp = data.xmat[rid].reshape(3, 3), data.xpos[rid]
        out[k, :, :3, :3] = np.einsum("ji,njk->nik", rr, data.xmat[ids].reshape(-1, 3, 3))
        out[k, :, :3, 3] = (data.xpos[ids] - rp) @ rr
        out[k, :, 3, 3] = 1.0
    return out


def _configs(lower: np.ndarray, upper: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n uniform configurations, then all-lower, all-upper, and random lower/upper corners."""
    q = rng.uniform(lower, upper, size=(n, len(lower)))
    corners = np.where(rng.random((64, len(lower))) < 0.5, lower, upper)
    return np.concatenate([q, lower[None], upper[None], corners])


def _rotation_angle_error(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    rel = np.einsum("...ji,...jk->...ik", r1, r2)
    cos = np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1, 1)
    # arccos is ill-conditioned near 1: use the skew part for small angles
    skew = 0.5 * np.stack([rel[..., 2, 1] - rel[..., 1, 2], rel[..., 0, 2] - rel[..., 2, 0],
                           rel[..., 1, 0] - rel[..., 0, 1]], -1)
    return np.arctan2(np.linalg.norm(skew, axis=-1), cos)


def test_fk_matches_mujoco_1000_configs_with_limits(hand64: ShadowHand) -> None:
    model = hand_model()
    rng = np.random.default_rng(0)
    lower, upper = hand64.lower.numpy(), hand64.upper.numpy()
    qpos = _configs(lower, upper, 1000, rng)
    assert len(qpos) >= 1000
    fk = hand64.forward_kinematics(torch.from_numpy(qpos))
    ours = np.stack([fk[n].numpy() for n in hand64.link_names], axis=1)
    ref = _mujoco_in_root(model, qpos, "rh_forearm", hand64.link_names)
    assert np.abs(ours[..., :3, 3] - ref[..., :3, 3]).max() < 1e-6  # metres
    assert _rotation_angle_error(ours[..., :3, :3], ref[..., :3, :3]).max() < 1e-6  # rad
    assert np.abs(ours[..., 3, :] - ref[..., 3, :]).max() == 0.0


def test_links_in_palm_match_mujoco(hand64: ShadowHand) -> None:
    model = hand_model()
    qpos = _configs(hand64.lower.numpy(), hand64.upper.numpy(), 200, np.random.default_rng(1))
    ours = hand64.links_in_palm(torch.from_numpy(qpos[:, 2:])).numpy()
    ref = _mujoco_in_root(model, qpos, "rh_palm", hand64.palm_link_names)
    assert np.abs(ours - ref).max() < 1e-9


def test_palm_frame_at_zero(hand64: ShadowHand) -> None:
    palm = hand64.forward_kinematics(torch.zeros(1, 24, dtype=torch.float64))["rh_palm"][0]
    np.testing.assert_allclose(palm[:3, 3].numpy(), [0.010, 0.0, 0.24701], atol=1e-9)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, palm[:3, :3].numpy().ravel())
    np.testing.assert_allclose(quat, [0.707107, 0.0, 0.0, 0.707107], atol=1e-6)  # wxyz


def test_tree_with_anchors_jointless_bodies_and_qpos0() -> None:
    """Features the Shadow MJCF does not use (joint anchors, reference angles, bodies without a joint)."""
    xml = """
    <mujoco><worldbody><body name="base" quat="0.9 0.1 0.3 0.2">
      <body name="a" pos="0.1 0.02 0.03" quat="0.7 0.2 0.1 0.6">
        <joint name="j1" axis="0.3 1 0.2" pos="0.01 0.02 -0.03" ref="0.4"/>
        <geom size="0.01"/>
        <body name="fixed" pos="0 0.05 0" quat="0.5 0.5 -0.5 0.5"><geom size="0.01"/>
          <body name="b" pos="0.03 0 0.01"><joint name="j2" axis="1 0 0" pos="0 0.04 0"/><geom size="0.01"/></body>
        </body>
      </body>
      <body name="c" pos="-0.1 0 0"><joint name="j3" axis="0 0 1"/><geom size="0.01"/></body>
    </body></worldbody></mujoco>"""
    model = mujoco.MjModel.from_xml_string(xml)
    tree = KinematicTree(model, "base", ("j3", "j1", "j2"), dtype=torch.float64)
    rng = np.random.default_rng(2)
    q = rng.uniform(-2, 2, size=(50, 3))  # columns j3, j1, j2
    qpos = q[:, [1, 2, 0]]  # MuJoCo order j1, j2, j3
    ref = _mujoco_in_root(model, qpos, "base", tree.link_names)
    assert np.abs(tree.forward(torch.from_numpy(q)).numpy() - ref).max() < 1e-12


def test_tree_rejects_missing_joint() -> None:
    with pytest.raises(ValueError, match="missing from joint_names"):
        KinematicTree(hand_model(), "rh_palm", FINGER_JOINT_NAMES[:-1])


def test_fk_float32_smoke_and_shapes() -> None:
    hand = ShadowHand()
    q = hand.lower + torch.rand(7, 24) * (hand.upper - hand.lower)
    fk = hand.forward_kinematics(q)
    assert set(fk) == set(hand.link_names) and len(fk) == 25
    assert all(t.shape == (7, 4, 4) and t.dtype == torch.float32 for t in fk.values())
    ref = ShadowHand(dtype=torch.float64).forward_kinematics(q.double())
    assert max((fk[n].double() - ref[n]).abs().max().item() for n in fk) < 1e-5
    assert len(hand.palm_link_names) == 23 and hand.palm_link_names[0] == "rh_palm"
    assert hand.links_in_palm(q[:, 2:]).shape == (7, 23, 4, 4)


def test_fk_gradcheck(hand64: ShadowHand) -> None:
    q = (hand64.lower + torch.rand(3, 24, dtype=torch.float64) * (hand64.upper - hand64.lower)).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: torch.stack(list(hand64.forward_kinematics(x).values()), 1), (q,))


def test_object_frame_gradcheck(hand64: ShadowHand) -> None:
    """Gradients of contact points/normals, surface points and capsules w.r.t. palm pose (6D) and joints."""
    torch.manual_seed(0)
    b = 2
    q22 = (hand64.lower[2:] + torch.rand(b, 22, dtype=torch.float64) * (hand64.upper - hand64.lower)[2:])
    pos = torch.randn(b, 3, dtype=torch.float64) * 0.1
    r6 = matrix_to_rotation6d(torch.linalg.qr(torch.randn(b, 3, 3, dtype=torch.float64))[0])
    inputs = tuple(t.clone().requires_grad_() for t in (pos, r6, q22))

    def contacts(p, r, q):
        pts, nrm = hand64.contact_candidates(p, rotation6d_to_matrix(r), q)
        return pts, nrm

    def capsules(p, r, q):
        a, c, _ = hand64.collision_capsules(p, rotation6d_to_matrix(r), q)
        return a, c

    # fast_mode checks random projections of the Jacobian (u·J·v) against finite differences: all entries take part
    assert torch.autograd.gradcheck(contacts, inputs, fast_mode=True)
    assert torch.autograd.gradcheck(capsules, inputs, fast_mode=True)
    sub = torch.arange(0, hand64.num_surface_points, 97)

    def surface(p, r, q):
        return hand64.surface_points(p, rotation6d_to_matrix(r), q)[:, sub]

    assert torch.autograd.gradcheck(surface, inputs, fast_mode=True)
    # the full (slow-mode) Jacobian on a few contact points
    few = torch.tensor([0, 12, 30, 44])

    def some_contacts(p, r, q):
        pts, nrm = hand64.contact_candidates(p, rotation6d_to_matrix(r), q)
        return pts[:, few], nrm[:, few]

    assert torch.autograd.gradcheck(some_contacts, tuple(t[:1].detach().clone().requires_grad_() for t in inputs))


def test_object_frame_consistent_with_fk(hand64: ShadowHand) -> None:
    """Points in the object frame = palm pose ∘ FK-in-palm ∘ local point (checked with a plain loop)."""
    b = 4
    q22 = hand64.lower[2:] + torch.rand(b, 22, dtype=torch.float64) * (hand64.upper - hand64.lower)[2:]
    pos = torch.randn(b, 3, dtype=torch.float64)
    rot = torch.linalg.qr(torch.randn(b, 3, 3, dtype=torch.float64))[0]
    rot = rot * torch.det(rot)[:, None, None]  # proper rotations
    poses = hand64.links_in_object(pos, rot, q22)
    pts, nrm = hand64.contact_candidates(pos, rot, q22)
    surf = hand64.surface_points(pos, rot, q22)
    from diffgrasp.hand.assets import load_contact_candidates, load_surface_points
    cc, sp = load_contact_candidates(), load_surface_points()
    for i in range(b):
        for c in range(len(cc.names)):
            t = poses[i, hand64.palm_link_names.index(cc.links[c])].numpy()
            np.testing.assert_allclose(pts[i, c].numpy(), t[:3, :3] @ cc.positions[c] + t[:3, 3], atol=1e-12)
            np.testing.assert_allclose(nrm[i, c].numpy(), t[:3, :3] @ cc.normals[c], atol=1e-12)
        for k in range(0, len(sp.points), 211):
            t = poses[i, hand64.palm_link_names.index(sp.links[sp.link_index[k]])].numpy()
            np.testing.assert_allclose(surf[i, k].numpy(), t[:3, :3] @ sp.points[k] + t[:3, 3], atol=1e-12)


def test_quaternion_helper_matches_matrix(hand64: ShadowHand) -> None:
    quat = torch.tensor([[0.0, 0.0, np.sin(0.3), np.cos(0.3)]], dtype=torch.float64)  # xyzw, 0.6 rad about z
    rot = hand64.palm_rotation_from_quaternion(quat)
    c, s = np.cos(0.6), np.sin(0.6)
    np.testing.assert_allclose(rot[0].numpy(), [[c, -s, 0], [s, c, 0], [0, 0, 1]], atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.gpu
def test_fk_on_cuda_matches_cpu() -> None:
    cpu = ShadowHand(dtype=torch.float64)
    gpu = ShadowHand(device="cuda", dtype=torch.float64)
    q = cpu.lower + torch.rand(64, 24, dtype=torch.float64) * (cpu.upper - cpu.lower)
    a, b = cpu.forward_kinematics(q), gpu.forward_kinematics(q.cuda())
    assert max((a[n] - b[n].cpu()).abs().max().item() for n in a) < 1e-12
    pos, rot = torch.zeros(64, 3, dtype=torch.float64), torch.eye(3, dtype=torch.float64).expand(64, 3, 3)
    s1 = cpu.surface_points(pos, rot, q[:, 2:])
    s2 = gpu.surface_points(pos.cuda(), rot.cuda(), q[:, 2:].cuda())
    assert (s1 - s2.cpu()).abs().max().item() < 1e-12
