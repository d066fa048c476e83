"""ObjectModel loading/validation: bad inputs give one clear error naming file and problem; repair; frame kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from diffgrasp.geometry import MeshValidationError, ObjectModel


def _box(extents=(0.06, 0.1, 0.04), offset=(0.1, -0.05, 0.02)) -> trimesh.Trimesh:
    box = trimesh.creation.box(extents=extents)
    box.apply_translation(offset)
    return box


def _write(mesh: trimesh.Trimesh, path) -> str:
    mesh.export(path)
    return str(path)


def test_loads_shared_object_in_file_frame(shared_objects):
    path = shared_objects / "009_gelatin_box.obj"
    obj = ObjectModel.from_file(path)
    raw = trimesh.load(path, force="mesh")
    assert obj.name == "009_gelatin_box"
    assert obj.mesh.is_watertight and obj.mesh.volume > 0
    np.testing.assert_allclose(obj.mesh.bounds, raw.bounds, atol=1e-12)      # never recentred
    np.testing.assert_allclose(obj.center_of_mass, raw.center_mass, atol=1e-9)
    radius = np.linalg.norm(raw.vertices - raw.center_mass, axis=1).max()
    assert obj.characteristic_length == pytest.approx(radius)


def test_box_properties_and_samples(tmp_path):
    obj = ObjectModel.from_file(_write(_box(), tmp_path / "box.stl"))
    np.testing.assert_allclose(obj.center_of_mass, [0.1, -0.05, 0.02], atol=1e-12)
    assert obj.characteristic_length == pytest.approx(0.5 * np.linalg.norm([0.06, 0.1, 0.04]))
    s1, s2 = obj.surface_samples(500, seed=3), obj.surface_samples(500, seed=3)
    assert s1.shape == (500, 3) and np.array_equal(s1, s2)
    d, _ = obj.signed_distance(torch.as_tensor(s1)[None])
    assert d.abs().max() < 1e-9                                              # samples lie on the surface
    with pytest.raises(ValueError, match="positive number"):
        obj.surface_samples(0)


def test_scale_argument(tmp_path):
    mm = _box(extents=(60.0, 100.0, 40.0), offset=(0, 0, 0))
    path = _write(mm, tmp_path / "box_mm.ply")
    with pytest.raises(MeshValidationError, match=r"box_mm\.ply.*probably millimetres"):
        ObjectModel.from_file(path)
    obj = ObjectModel.from_file(path, scale=0.001)
    np.testing.assert_allclose(obj.mesh.extents, [0.06, 0.1, 0.04], atol=1e-12)


@pytest.mark.parametrize("case, pattern", [
    ("empty", r"empty"),
    ("nan", r"NaN or inf"),
    ("open", r"not watertight"),
    ("inverted", r"non-positive volume"),
    ("inconsistent", r"inconsistent face winding|not watertight"),
    ("tiny", r"implausible scale.*wrong units"),
    ("huge", r"implausible scale.*millimetres"),
])
def test_bad_meshes_raise_clear_errors(tmp_path, case, pattern):
    path = tmp_path / f"{case}.obj"
    box = _box()
    if case == "empty":
        path.write_text("# nothing here\n")
    elif case == "nan":
        lines = [f"v {x} {y} {z}" for x, y, z in box.vertices]
        lines[0] = "v nan 0.0 0.0"
        lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in box.faces]
        path.write_text("\n".join(lines) + "\n")
    elif case == "open":
        _write(trimesh.Trimesh(box.vertices, box.faces[:-2]), path)
    elif case == "inverted":
        _write(trimesh.Trimesh(box.vertices, box.faces[:, ::-1]), path)
    elif case == "inconsistent":
        faces = box.faces.copy()
        faces[0] = faces[0, ::-1]
        _write(trimesh.Trimesh(box.vertices, faces, process=False), path)
    elif case == "tiny":
        _write(_box(extents=(0.002, 0.003, 0.001)), path)
    elif case == "huge":
        _write(_box(extents=(60.0, 100.0, 40.0)), path)
    with pytest.raises(MeshValidationError, match=pattern) as info:
        ObjectModel.from_file(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="mesh file not found"):
        ObjectModel.from_file("/nonexistent/object.obj")


def test_repair_closes_holes_and_fixes_inversion(tmp_path):
    box = _box()
    open_path = _write(trimesh.Trimesh(box.vertices, box.faces[:-1]), tmp_path / "open.obj")
    obj = ObjectModel.from_file(open_path, repair=True)
    assert obj.mesh.is_watertight and obj.mesh.volume == pytest.approx(box.volume)
    np.testing.assert_allclose(obj.mesh.bounds, box.bounds, atol=1e-12)   # frame kept
    inv_path = _write(trimesh.Trimesh(box.vertices, box.faces[:, ::-1]), tmp_path / "inverted.obj")
    obj = ObjectModel.from_file(inv_path, repair=True)
    assert obj.mesh.volume == pytest.approx(box.volume)
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.05)
    keep = sphere.triangles_center[:, 2] < 0.03                              # a large hole: cannot be filled
    hole_path = _write(trimesh.Trimesh(sphere.vertices, sphere.faces[keep]), tmp_path / "hole.obj")
    with pytest.raises(MeshValidationError, match="repair failed"):
        ObjectModel.from_file(hole_path, repair=True)
