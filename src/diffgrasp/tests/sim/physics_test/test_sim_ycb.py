"""The physics test on a development object (shared/objects, CoACD pieces): a constructed grasp passes, misses fail."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from sim_fixtures import moved, q_open

from diffgrasp.geometry.convex_decomposition import CoacdConfig
from diffgrasp.sim.physics_test.evaluate_config import EvaluateConfig
from diffgrasp.sim.physics_test.trial import GraspTester, Phases

FAST_COACD = CoacdConfig(threshold=0.1, preprocess_resolution=30, resolution=1000, mcts_iterations=30, mcts_nodes=10)
# 009_gelatin_box (89 × 101 × 30 mm): its thin axis and its longest axis in the mesh frame (principal axes, rounded).
THIN_AXIS = np.array([-0.0108, -0.0195, 0.9998])
LONG_AXIS = np.array([0.2771, -0.9607, -0.0157])


@pytest.fixture(scope="module")
def gelatin_box(shared_objects, tmp_path_factory):
    import os

    from diffgrasp.sim.physics_test.hand_scene import build_scene
    from diffgrasp.sim.physics_test.prepared_object import prepare_object

    old = os.environ.get("DIFFGRASP_CACHE")
    os.environ["DIFFGRASP_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        config = EvaluateConfig(coacd=FAST_COACD)
        obj = prepare_object(shared_objects / "009_gelatin_box.obj", 1.0, config, progress=False)
    finally:
        if old is None:
            os.environ.pop("DIFFGRASP_CACHE")
        else:
            os.environ["DIFFGRASP_CACHE"] = old
    model, index = build_scene(obj.pieces, obj.com, obj.inertia, config.scene_params())
    return obj, GraspTester(model, index, config)


def test_constructed_grasp_on_gelatin_box(gelatin_box):
    """Palm on the big face, fingers wrapping the 89 mm side, thumb closing from below: closed until contact."""
    from diffgrasp.sim.physics_test.autoclose import autoclose_grasp
    obj, tester = gelatin_box
    y = THIN_AXIS / np.linalg.norm(THIN_AXIS)                  # palm +y: away from the object
    x = LONG_AXIS - (LONG_AXIS @ y) * y
    x /= np.linalg.norm(x)
    z = np.cross(x, y)
    support = float(((obj.vertices - obj.com) @ y).max())
    palm = obj.com + y * (support + 0.013) - z * 0.08         # palmar surface 1 mm off the face
    quat = Rotation.from_matrix(np.stack([x, y, z], axis=1)).as_quat(scalar_first=True)
    grasp = autoclose_grasp(tester, palm, quat, q_open(), squeeze=0.15)

    result = tester.run(Phases.from_grasp(grasp))
    assert result.passed, result
    assert result.contact_count >= 8 and result.penetration_m < 0.002

    far = tester.run(Phases.from_grasp(_shift(grasp, y, 0.10)))
    assert not far.passed and far.contact_count == 0 and far.failed_direction == "-x"

    inside = tester.run(Phases.from_grasp(_shift(grasp, y, -0.023)))
    assert inside.failed_direction == "prefilter" and inside.pregrasp_penetration_m > 0.01


def _shift(grasp, direction: np.ndarray, distance: float):
    g = moved(grasp, 0.0)  # deep copy
    g.palm_position = g.palm_position + direction * distance
    return g
