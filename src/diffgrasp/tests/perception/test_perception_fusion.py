"""Fusion: watertight, accurate meshes from simulated views; clear errors on unusable captures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from diffgrasp.cli import main
from diffgrasp.perception.capture import Capture
from diffgrasp.perception.evaluate import chamfer, fused_mesh_in_object_frame, simulate_and_fuse
from diffgrasp.perception.fusion import FusionConfig, fuse
from diffgrasp.perception.rig import pose_matrix
from diffgrasp.perception.simulate import ring_rig, simulate_capture


@pytest.mark.parametrize("name", ["070-b_colored_wood_blocks", "057_racquetball"])
def test_four_noiseless_views_give_a_watertight_mesh_within_1mm(shared_objects, name):
    out = simulate_and_fuse(shared_objects / f"{name}.obj", ring_rig(4), noise="none")
    mesh = out.result.mesh
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert out.chamfer["mean"] <= 0.001, out.chamfer
    true = trimesh.load(shared_objects / f"{name}.obj", force="mesh")
    assert abs(out.mesh_object_frame.volume / true.volume - 1) < 0.15
    # the object frame: origin at the fused bounding-box centre, z = table normal (world z here)
    T = out.result.object_to_world
    np.testing.assert_allclose(T[:3, 3], mesh.bounds.mean(0), atol=1e-6)
    np.testing.assert_allclose(T[:3, 2], [0, 0, 1], atol=1e-3)
    np.testing.assert_allclose(out.result.table_plane[:3], [0, 0, 1], atol=1e-3)
    assert abs(out.result.table_plane[3]) < 1e-3
    pts = out.result.points
    assert len(pts) > 1000 and np.isfinite(pts).all()
    np.testing.assert_allclose(out.result.mesh_in_object_frame().bounds.mean(0), 0.0, atol=1e-6)


@pytest.mark.slow
def test_noisy_views_within_2mm(shared_objects):
    out = simulate_and_fuse(shared_objects / "038_padlock.obj", ring_rig(4), noise="realsense", seed=1)
    assert out.result.mesh.is_watertight
    assert out.chamfer["mean"] <= 0.002, out.chamfer


def test_fused_mesh_maps_into_the_object_frame(shared_objects):
    path = shared_objects / "070-b_colored_wood_blocks.obj"
    true = trimesh.load(path, force="mesh")
    placement = pose_matrix([0.03, -0.02, 0.0], np.eye(3))
    placement[:3, 3] -= [*true.center_mass[:2], true.bounds[0, 2]]
    cap = simulate_capture(true, ring_rig(4), noise="none", object_to_world=placement)
    res = fuse(cap)
    fused = fused_mesh_in_object_frame(res, cap.metadata["object_pose_world"])
    assert chamfer(fused, true)["mean"] < 0.001


def _blank(cap: Capture, fill: float) -> Capture:
    depth = cap.depth.copy()
    depth[:] = fill
    return Capture(cap.names, depth, cap.intrinsics, cap.camera_to_world, cap.stamps)


@pytest.fixture(scope="module")
def padlock_capture(shared_objects):
    return simulate_capture(shared_objects / "038_padlock.obj", ring_rig(4), noise="none")


def test_nan_and_zero_depth_are_rejected(padlock_capture):
    with pytest.raises(ValueError, match="camera sim_cam0: depth image has no valid pixel"):
        fuse(_blank(padlock_capture, np.nan))
    with pytest.raises(ValueError, match="camera sim_cam0: depth image has no valid pixel"):
        fuse(_blank(padlock_capture, 0.0))


def test_object_absent(shared_objects):
    hidden = pose_matrix([0.0, 0.0, -0.3], np.eye(3))        # under the table: the cameras see an empty table
    cap = simulate_capture(shared_objects / "038_padlock.obj", ring_rig(4), noise="realsense", object_to_world=hidden)
    with pytest.raises(ValueError, match="object absent"):
        fuse(cap)


def test_no_table_plane(padlock_capture):
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.3, 1.5, padlock_capture.depth.shape).astype(np.float32)
    cap = Capture(padlock_capture.names, depth, padlock_capture.intrinsics, padlock_capture.camera_to_world,
                  padlock_capture.stamps)
    with pytest.raises(ValueError, match="no table plane|object absent"):
        fuse(cap, FusionConfig(plane_iterations=50))


def test_capture_and_fuse_cli(shared_objects, tmp_path, capsys):
    obj = shared_objects / "057_racquetball.obj"
    cap_dir = tmp_path / "cap"
    assert main(["capture", "--simulate", str(obj), "--noise", "none", "-o", str(cap_dir), "--frames", "2"]) == 0
    assert (cap_dir / "depth" / "sim_cam0.png").is_file()
    assert (cap_dir / "frames" / "0001" / "capture.json").is_file()
    assert main(["fuse", str(cap_dir), "-o", str(tmp_path / "object.obj"), "--voxel", "0.002"]) == 0
    mesh = trimesh.load(tmp_path / "object.obj", force="mesh")
    assert mesh.is_watertight
    info = json.loads((tmp_path / "object_fusion.json").read_text())
    assert info["watertight"] and info["frame"] == "world" and info["chamfer_vs_true_m"]["mean"] < 0.001
    assert set(info["object_to_world"]) == {"position", "quaternion_xyzw"}
    assert len(trimesh.load(tmp_path / "object_points.ply").vertices) == info["num_points"]
    assert "chamfer vs true mesh" in capsys.readouterr().out
    assert main(["fuse", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.obj")]) == 2
    assert "no capture.json" in capsys.readouterr().err
    assert main(["fuse", str(cap_dir), "-o", str(tmp_path / "x.glb")]) == 2


def test_fuse_reads_the_true_mesh_only_inside_the_capture(shared_objects, tmp_path, capsys):
    """capture --simulate copies the true mesh into the capture; a capture.json naming a mesh outside its folder is
    not followed (a warning; --truth on the command line is)."""
    obj = shared_objects / "057_racquetball.obj"
    cap_dir = tmp_path / "cap"
    assert main(["capture", "--simulate", str(obj), "--noise", "none", "-o", str(cap_dir)]) == 0
    doc = json.loads((cap_dir / "capture.json").read_text())
    assert doc["object_mesh"] == "object_truth.obj"
    assert (cap_dir / "object_truth.obj").read_bytes() == obj.read_bytes()
    doc["object_mesh"] = str(obj)                                  # absolute: outside the capture folder
    (cap_dir / "capture.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["fuse", str(cap_dir), "-o", str(tmp_path / "a.obj")]) == 0
    err = capsys.readouterr().err
    assert "absolute path" in err and "--truth" in err and len(err.strip().splitlines()) == 1
    assert "chamfer_vs_true_m" not in json.loads((tmp_path / "a_fusion.json").read_text())
    assert main(["fuse", str(cap_dir), "-o", str(tmp_path / "b.obj"), "--truth", str(obj)]) == 0
    assert json.loads((tmp_path / "b_fusion.json").read_text())["chamfer_vs_true_m"]["mean"] < 0.001


def test_dense_tsdf_matches_open3d_voxel_block_grid(padlock_capture, shared_objects):
    """Reference check: on the observed surface the carved dense TSDF agrees with open3d's VoxelBlockGrid and is at
    least as close to the true mesh."""
    import open3d as o3d

    from diffgrasp.perception.capture import pose_from_json
    from diffgrasp.perception.tsdf import open3d_tsdf_surface

    res = fuse(padlock_capture)
    lo, hi = res.mesh.bounds[0] - 0.004, res.mesh.bounds[1] + 0.004
    lo[2] = 0.004                                             # above the table: the surface both methods observe
    ref = open3d_tsdf_surface(padlock_capture, box=(lo, hi))
    keep = np.all((ref.triangles_center > lo) & (ref.triangles_center < hi), axis=1)
    ref = ref.submesh([np.flatnonzero(keep)], append=True)
    true = trimesh.load(shared_objects / "038_padlock.obj", force="mesh")
    true.apply_transform(pose_from_json(padlock_capture.metadata["object_pose_world"]))

    def dist(mesh: trimesh.Trimesh, pts: np.ndarray) -> np.ndarray:
        scene = o3d.t.geometry.RaycastingScene()
        t = o3d.t.geometry.TriangleMesh()
        t.vertex.positions = o3d.core.Tensor(mesh.vertices.astype(np.float32))
        t.triangle.indices = o3d.core.Tensor(mesh.faces.astype(np.int32))
        scene.add_triangles(t)
        return scene.compute_distance(o3d.core.Tensor(pts.astype(np.float32))).numpy()

    ref_pts = trimesh.sample.sample_surface(ref, 20000, seed=0)[0]
    ours = trimesh.sample.sample_surface(res.mesh, 20000, seed=1)[0]
    ours = ours[ours[:, 2] > lo[2]]
    assert np.median(dist(res.mesh, ref_pts)) < 0.001          # the two TSDFs put the surface in the same place
    assert dist(true, ours).mean() <= dist(true, ref_pts).mean() + 1e-4
