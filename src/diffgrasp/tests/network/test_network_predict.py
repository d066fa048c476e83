"""predict_grasps: valid grasps (limits, unit quaternions, file format), object frame (translation equivariance)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from diffgrasp.grasps import GraspSet, grasp_set_from_dict
from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_LIMITS
from diffgrasp.network import GraspNet, GraspPredictor, NetworkConfig, predict_grasps, save_checkpoint

CFG = NetworkConfig(num_grasps=6)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("net") / "net.pt", GraspNet(CFG))


def _check_valid(grasps, n):
    assert len(grasps) == n
    for g in grasps:
        assert set(g.joints) == set(FINGER_JOINT_NAMES)
        for name, value in g.joints.items():
            lo, hi = JOINT_LIMITS[name]
            assert lo <= value <= hi, name
        assert np.linalg.norm(g.palm_quaternion_xyzw) == pytest.approx(1.0, abs=1e-9)
    # The grasp file reader (strict validation) accepts them.
    doc = GraspSet(object_name="x", mesh="x.obj", grasps=grasps).to_dict()
    assert len(grasp_set_from_dict(doc).grasps) == n


def test_mesh_file_gives_valid_grasps(tmp_path, checkpoint):
    mesh = trimesh.creation.cylinder(radius=0.03, height=0.12, sections=32)
    path = tmp_path / "can.obj"
    mesh.export(path)
    _check_valid(predict_grasps(path, checkpoint=checkpoint), 6)
    _check_valid(predict_grasps(path, checkpoint=checkpoint, num_grasps=2), 2)


def test_translating_the_mesh_translates_the_grasps(checkpoint):
    mesh = trimesh.creation.box(extents=[0.05, 0.08, 0.12])
    shift = np.array([0.25, -0.1, 0.04])
    moved = mesh.copy()
    moved.apply_translation(shift)
    predictor = GraspPredictor(checkpoint)
    a, b = predictor.predict(mesh), predictor.predict(moved)
    for ga, gb in zip(a, b, strict=True):
        np.testing.assert_allclose(gb.palm_position, ga.palm_position + shift, atol=1e-4)
        np.testing.assert_allclose(gb.palm_quaternion_xyzw, ga.palm_quaternion_xyzw, atol=1e-4)
        np.testing.assert_allclose(list(gb.joints.values()), list(ga.joints.values()), atol=1e-4)


def test_precomputed_views_and_point_clouds(checkpoint):
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.04)
    mesh.apply_translation([0.1, 0.0, 0.0])
    predictor = GraspPredictor(checkpoint)
    views, centre = predictor.views(mesh)
    from_views = predict_grasps(views, checkpoint=checkpoint, centre=centre)
    from_mesh = predictor.predict(mesh)
    for gv, gm in zip(from_views, from_mesh, strict=True):
        np.testing.assert_allclose(gv.palm_position, gm.palm_position, atol=1e-6)
    points, _ = trimesh.sample.sample_surface_even(mesh, 20000, seed=0)
    _check_valid(predictor.predict(points), 6)


def test_fusion_result_gives_grasps_in_its_object_frame(checkpoint):
    from scipy.spatial.transform import Rotation

    from diffgrasp.perception.fusion import FusionResult

    mesh = trimesh.creation.box(extents=[0.05, 0.07, 0.1])
    mesh.apply_translation([0.0, 0.0, 0.05])  # resting on the table plane z = 0 of its object frame
    object_to_world = np.eye(4)
    object_to_world[:3, :3] = Rotation.from_euler("xyz", [0.3, -0.2, 1.0]).as_matrix()
    object_to_world[:3, 3] = [0.6, -0.1, 0.8]
    fused = FusionResult(mesh=mesh.copy().apply_transform(object_to_world), points=np.zeros((0, 3)),
                         object_to_world=object_to_world, table_plane=np.array([0.0, 0.0, 1.0, 0.0]))
    predictor = GraspPredictor(checkpoint)
    for a, b in zip(predictor.predict(fused), predictor.predict(mesh), strict=True):
        np.testing.assert_allclose(a.palm_position, b.palm_position, atol=1e-4)


def test_bad_inputs_are_clear_errors(tmp_path, checkpoint):
    with pytest.raises(ValueError, match="num_grasps: must be between 1 and 6"):
        predict_grasps(trimesh.creation.box(), checkpoint=checkpoint, num_grasps=7)
    with pytest.raises(ValueError, match="no pixel sees the object"):
        predict_grasps(np.zeros((5, 64, 64), dtype=np.float32), checkpoint=checkpoint)
    with pytest.raises(FileNotFoundError, match="mesh file not found"):
        predict_grasps(tmp_path / "missing.obj", checkpoint=checkpoint)


def test_ycb_object_in_its_own_frame(shared_objects, checkpoint):
    path = shared_objects / "009_gelatin_box.obj"
    mesh = trimesh.load(path, force="mesh")
    grasps = predict_grasps(path, checkpoint=checkpoint)
    _check_valid(grasps, 6)
    centre = mesh.bounds.mean(axis=0)
    # Object-centred outputs are mapped back: palms lie around the (off-origin) object, not around the file origin.
    dist = np.linalg.norm(np.array([g.palm_position for g in grasps]) - centre, axis=1)
    assert (dist < 0.5).all()
