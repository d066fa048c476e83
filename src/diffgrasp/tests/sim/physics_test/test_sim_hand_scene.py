"""The physics-test scene: hand without forearm on a welded free root, actuators, options, contacts, object inertial."""

from __future__ import annotations

import mujoco
import numpy as np
import trimesh

from diffgrasp.hand.names import FINGER_JOINT_NAMES
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
from diffgrasp.sim.physics_test.hand_scene import DESIGN_CONTACT_EXCLUDES, build_scene, object_inertia


def _scene(mesh=None, **overrides):
    mesh = mesh or trimesh.creation.box(extents=[0.04, 0.05, 0.06])
    config = EvaluateConfig(**overrides)
    com, inertia = object_inertia(mesh.vertices, mesh.faces, config.object_mass)
    return build_scene([(mesh.vertices, mesh.faces)], com, inertia, config.scene_params())


def test_scene_structure_and_options():
    model, index = _scene()
    names = [model.body(i).name for i in range(model.nbody)]
    assert "rh_forearm" not in names and "rh_wrist" not in names
    palm = model.body("rh_palm").id
    assert model.body_parentid[palm] == 0 and model.jnt_type[model.body_jntadr[palm]] == mujoco.mjtJoint.mjJNT_FREE
    assert model.neq == 1 and model.eq_type[0] == mujoco.mjtEq.mjEQ_WELD
    assert len(index.hand_bodies) == 23  # palm + 22 finger/thumb links
    assert model.opt.timestep == 0.004 and model.opt.impratio == 10
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    assert model.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC
    assert model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_GRAVITY
    colliding = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
    assert np.allclose(model.geom_friction[colliding, :2], [0.6, 0.02]) and (model.geom_condim[colliding] == 4).all()
    assert np.isclose(model.body_mass[index.object_body], 0.1)
    assert model.nexclude == 1 + len(DESIGN_CONTACT_EXCLUDES)


def test_actuators_kp_force_and_joint_to_ctrl_map():
    model, index = _scene()
    assert model.nu == 18
    assert np.allclose(model.actuator_gainprm[:, 0], 5) and np.allclose(model.actuator_biasprm[:, 1], -5)
    assert np.allclose(model.actuator_forcerange, [-3, 3]) and not model.actuator_ctrllimited.any()
    M = index.ctrl_matrix
    assert M.shape == (18, 22) and set(np.unique(M)) == {0.0, 1.0}
    names = list(FINGER_JOINT_NAMES)
    for f in ("FF", "MF", "RF", "LF"):  # tendon actuator: target = J1 + J2
        row = M[model.actuator(f"rh_A_{f}J0").id]
        assert row.sum() == 2 and row[names.index(f"rh_{f}J1")] == 1 and row[names.index(f"rh_{f}J2")] == 1
    assert (M.sum(axis=0) == 1).all()  # every finger joint is driven by exactly one actuator


def test_palm_follows_mocap_and_neutral_hand_has_no_self_contact():
    from diffgrasp.sim.physics_test.trial import GraspTester
    model, index = _scene()
    tester = GraspTester(model, index)
    pos, quat = np.array([0.3, 0.2, 0.1]), np.array([0.5, -0.5, -0.5, -0.5])
    tester.set_state(pos, quat, np.zeros(22))
    c = tester.contacts()
    assert not c["hh"].any() and not c["ho"].any()
    d = tester.data
    d.mocap_pos[index.mocap] = pos + [0.0, 0.0, 0.01]
    mujoco.mj_step(model, d, nstep=100)
    palm = model.body("rh_palm").id
    assert np.allclose(d.xpos[palm], pos + [0, 0, 0.01], atol=1e-3)
    assert abs(abs(float(d.xquat[palm] @ quat)) - 1) < 1e-5
    assert np.allclose(d.qpos[index.finger_qpos], 0, atol=2e-2)  # position control holds the open hand


def test_object_inertia_of_a_box():
    mesh = trimesh.creation.box(extents=[0.02, 0.04, 0.06])
    mesh.apply_translation([0.01, -0.02, 0.03])
    com, inertia = object_inertia(mesh.vertices, mesh.faces, 0.1)
    assert np.allclose(com, [0.01, -0.02, 0.03])
    expected = 0.1 / 12 * np.array([0.04**2 + 0.06**2, 0.02**2 + 0.06**2, 0.02**2 + 0.04**2])
    assert np.allclose(inertia[:3], expected) and np.allclose(inertia[3:], 0, atol=1e-12)
