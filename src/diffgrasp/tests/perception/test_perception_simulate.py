"""Simulated rig: noiseless depth back-projects onto the mesh; the D4xx noise model behaves like one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open3d as o3d
import pytest
import trimesh

from diffgrasp.perception.capture import pose_from_json, read_capture, write_capture
from diffgrasp.perception.depth import depth_to_points
from diffgrasp.perception.noise import DepthNoiseConfig, disparity_noise
from diffgrasp.perception.simulate import OBJECT_ID, SimScene, resting_pose, ring_rig, simulate_capture


def _distance_to(mesh: trimesh.Trimesh, pts: np.ndarray) -> np.ndarray:
    scene = o3d.t.geometry.RaycastingScene()
    t = o3d.t.geometry.TriangleMesh()
    t.vertex.positions = o3d.core.Tensor(np.asarray(mesh.vertices, dtype=np.float32))
    t.triangle.indices = o3d.core.Tensor(np.asarray(mesh.faces, dtype=np.int32))
    scene.add_triangles(t)
    return scene.compute_distance(o3d.core.Tensor(pts.astype(np.float32))).numpy()


@pytest.mark.parametrize("fmt, tol", [("png", 1e-3), ("npy", 2e-5)])
def test_rendered_depth_backprojects_onto_the_mesh(shared_objects, tmp_path, fmt, tol):
    path = shared_objects / "038_padlock.obj"
    rig = ring_rig(4)
    cap = simulate_capture(path, rig, noise="none")
    write_capture(tmp_path / "c", cap, depth_format=fmt)
    back = read_capture(tmp_path / "c")
    true = trimesh.load(path, force="mesh")
    T = pose_from_json(back.metadata["object_pose_world"])
    world = true.copy()
    world.apply_transform(T)
    scene = SimScene(true, T)
    for i in range(4):
        ids = scene.render(back.intrinsics[i], back.camera_to_world[i], *back.shape)["geometry_ids"]
        d = np.where(ids == OBJECT_ID, back.depth[i], np.nan)
        pts = depth_to_points(d, back.intrinsics[i], back.camera_to_world[i])
        assert len(pts) > 500
        dist = _distance_to(world, pts)
        assert dist.max() <= tol, (i, dist.max())


def test_resting_pose_on_table(shared_objects):
    mesh = trimesh.load(shared_objects / "057_racquetball.obj", force="mesh")
    T = resting_pose(mesh)
    m = mesh.copy()
    m.apply_transform(T)
    assert abs(m.bounds[0, 2]) < 1e-9
    np.testing.assert_allclose(m.center_mass[:2], 0.0, atol=1e-9)
    box = trimesh.creation.box(extents=(0.02, 0.05, 0.1))   # standing on end: the stable pose lies it down
    ms = box.copy()
    ms.apply_transform(resting_pose(box, "stable"))
    assert abs(ms.bounds[0, 2]) < 1e-9 and ms.extents[2] == pytest.approx(0.02)


def test_noise_sigma_grows_with_depth_squared():
    cfg = DepthNoiseConfig(disparity_step_px=0.0)
    rng = np.random.default_rng(0)
    sig = []
    for z in (0.5, 1.0):
        d = disparity_noise(np.full((200, 200), z, np.float32), 383.0, cfg, rng)
        sig.append(float(np.std(d - z)))
    expected = 0.5 ** 2 * cfg.disparity_sigma_px / (383.0 * cfg.baseline_m)
    assert sig[0] == pytest.approx(expected, rel=0.15)
    assert sig[1] / sig[0] == pytest.approx(4.0, rel=0.15)


def test_disparity_quantisation_levels():
    cfg = DepthNoiseConfig(disparity_sigma_px=0.0)
    d = disparity_noise(np.linspace(0.5, 0.52, 1000, dtype=np.float32)[None], 383.0, cfg, np.random.default_rng(0))
    disp = 383.0 * 0.05 / d.astype(np.float64)
    np.testing.assert_allclose(disp * 32, np.round(disp * 32), atol=1e-3)
    span = 383.0 * 0.05 * (1 / 0.5 - 1 / 0.52) * 32          # quantisation levels in the range
    assert abs(len(np.unique(d)) - span) <= 2


def test_noise_is_seeded_and_drops_edges(shared_objects):
    path = shared_objects / "070-b_colored_wood_blocks.obj"
    rig = ring_rig(2)
    a = simulate_capture(path, rig, noise="realsense", seed=3)
    b = simulate_capture(path, rig, noise="realsense", seed=3)
    c = simulate_capture(path, rig, noise="realsense", seed=4)
    clean = simulate_capture(path, rig, noise="none")
    assert np.array_equal(a.depth, b.depth, equal_nan=True)
    assert not np.array_equal(a.depth, c.depth, equal_nan=True)
    lost = np.isfinite(clean.depth) & ~np.isfinite(a.depth)
    assert 0.001 < lost.mean() < 0.1
    # lost pixels concentrate at depth edges (object silhouette) and behind the object (stereo shadow)
    err = (a.depth - clean.depth)[np.isfinite(a.depth)]
    assert 0.0003 < np.std(err) < 0.005
    assert a.metadata["noise"] == "realsense" and a.metadata["seed"] == 3


def test_bad_simulation_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="object mesh not found"):
        simulate_capture(tmp_path / "nope.obj", ring_rig(1))
    with pytest.raises(ValueError, match="noise must be one of"):
        simulate_capture(trimesh.creation.box(), ring_rig(1), noise="kinect")


def test_simulated_rig_without_intrinsics_says_which_and_how(tmp_path):
    """cameras.yaml (real rig, intrinsics from_device) cannot be simulated: name the cameras and the fix."""
    from diffgrasp.errors import ConfigError
    from diffgrasp.perception.rig import load_rig

    rig = load_rig(Path(__file__).resolve().parents[4] / "config" / "cameras.yaml")
    with pytest.raises(ConfigError, match=r"intrinsics missing for cameras cam_front_left, .*: .*intrinsics: "
                                          r"\{fx: \.\.\., fy: \.\.\., cx: \.\.\., cy: \.\.\.\} in pixels"):
        simulate_capture(trimesh.creation.box(extents=(0.05, 0.05, 0.05)), rig)


@pytest.mark.parametrize(("case", "message"), [("nan", "NaN or inf"), ("inverted", "non-positive volume"),
                                               ("open", "not watertight"), ("mm", "probably millimetres")])
def test_simulate_refuses_what_plan_refuses(tmp_path, case, message):
    """capture --simulate validates its mesh exactly like plan (geometry.mesh_validation.load_object_mesh)."""
    from diffgrasp.geometry import MeshValidationError

    box = trimesh.creation.box(extents=(0.05, 0.06, 0.04))
    path = tmp_path / f"{case}.obj"
    if case == "nan":
        lines = box.export(file_type="obj").splitlines()
        first = next(i for i, ln in enumerate(lines) if ln.startswith("v "))
        lines[first] = "v nan 0 0"
        path.write_text("\n".join(lines) + "\n")
    elif case == "inverted":
        trimesh.Trimesh(box.vertices, box.faces[:, ::-1]).export(path)
    elif case == "open":
        trimesh.Trimesh(box.vertices, box.faces[:-2]).export(path)
    else:
        box.apply_scale(1000.0).export(path)
    with pytest.raises(MeshValidationError, match=message) as info:
        simulate_capture(path, ring_rig(1, width=64, height=48, fx=40.0))
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    if case in ("open", "inverted"):
        assert "--repair" in str(info.value) and "repair=True" in str(info.value)


def test_simulate_warns_about_disconnected_parts(tmp_path):
    from diffgrasp.errors import DiffgraspWarning

    box = trimesh.creation.box(extents=(0.04, 0.04, 0.04))
    two = trimesh.util.concatenate([box, box.copy().apply_translation([0.1, 0.0, 0.0])])
    path = tmp_path / "two.obj"
    two.export(path)
    with pytest.warns(DiffgraspWarning, match=r"two\.obj: mesh has 2 disconnected parts"):
        cap = simulate_capture(path, ring_rig(2, width=64, height=48, fx=40.0), noise="none")
    assert np.isfinite(cap.depth).any()


def test_capture_simulate_repair_uses_and_keeps_the_repaired_mesh(tmp_path, capsys):
    """The hint's --repair exists on capture too: an inverted box is refused without it, captured with it, and the
    capture's true-mesh copy is the repaired (outward-wound, watertight) mesh the cameras saw."""
    from diffgrasp.cli import main

    box = trimesh.creation.box(extents=(0.05, 0.06, 0.04))
    path = tmp_path / "inverted.obj"
    trimesh.Trimesh(box.vertices, box.faces[:, ::-1]).export(path)
    assert main(["capture", "--simulate", str(path), "-o", str(tmp_path / "no")]) == 2
    assert "--repair" in capsys.readouterr().err and not (tmp_path / "no").exists()
    assert main(["capture", "--simulate", str(path), "--repair", "--noise", "none", "-o", str(tmp_path / "cap")]) == 0
    truth = trimesh.load(tmp_path / "cap" / "object_truth.obj", force="mesh")
    assert truth.is_watertight and truth.volume > 0
    assert read_capture(tmp_path / "cap").metadata["object_mesh"] == "object_truth.obj"
