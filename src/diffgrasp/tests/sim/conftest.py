"""Fixtures of the physics-test tests: a cylinder (primitive mesh, metres) and grasps built on it deterministically."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from sim_fixtures import HEIGHT, PALM_POS, PALM_QUAT_WXYZ, RADIUS, q_open


@pytest.fixture(scope="session")
def cylinder_mesh() -> trimesh.Trimesh:
    return trimesh.creation.cylinder(radius=RADIUS, height=HEIGHT, sections=48)


@pytest.fixture(scope="session")
def cylinder_path(tmp_path_factory, cylinder_mesh) -> str:
    path = tmp_path_factory.mktemp("objects") / "cylinder.obj"
    cylinder_mesh.export(path)
    return str(path)


@pytest.fixture(scope="session")
def cylinder_tester(cylinder_mesh):
    from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
    from diffgrasp.sim.physics_test.hand_scene import build_scene, object_inertia
    from diffgrasp.sim.physics_test.trial import GraspTester

    config = EvaluateConfig()
    com, inertia = object_inertia(cylinder_mesh.vertices, cylinder_mesh.faces, config.object_mass)
    model, index = build_scene([(cylinder_mesh.vertices, cylinder_mesh.faces)], com, inertia, config.scene_params())
    return GraspTester(model, index, config, torque_scale=float(np.hypot(RADIUS, HEIGHT / 2)))


@pytest.fixture(scope="session")
def power_grasp(cylinder_tester):
    """Power grasp: palm on the cylinder, four fingers and thumb closed until contact, squeeze +0.15 rad."""
    from diffgrasp.sim.physics_test.autoclose import autoclose_grasp
    return autoclose_grasp(cylinder_tester, PALM_POS, PALM_QUAT_WXYZ, q_open(), squeeze=0.15)
