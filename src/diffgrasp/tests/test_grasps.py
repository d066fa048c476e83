"""Grasp file format: round trip, validation errors naming grasp and field, §7 defaults, DexGraspBench export."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from diffgrasp.grasps import (
    FORMAT,
    Grasp,
    GraspFormatError,
    GraspSet,
    default_pregrasp,
    default_squeeze,
    grasp_set_from_dict,
    load_grasps,
    save_grasps,
    to_dexgraspbench_qpos,
)
from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_LIMITS


def _grasp(rng: np.random.Generator) -> Grasp:
    joints = {n: float(rng.uniform(*JOINT_LIMITS[n])) for n in FINGER_JOINT_NAMES}
    return Grasp(palm_position=rng.normal(size=3) * 0.1, palm_quaternion_xyzw=Rotation.random(random_state=1).as_quat(),
                 joints=joints, metrics={"q1_exact": 0.1, "contact_count": 4})


def _doc() -> dict:
    rng = np.random.default_rng(0)
    return GraspSet("cube", "cube.obj", [_grasp(rng), _grasp(rng)]).to_dict()


def test_round_trip(tmp_path):
    doc = _doc()
    path = save_grasps(tmp_path / "g.json", grasp_set_from_dict(doc))
    loaded = load_grasps(path)
    assert json.loads(path.read_text()) == doc
    assert loaded.object_name == "cube" and len(loaded.grasps) == 2
    assert loaded.grasps[1].metrics["contact_count"] == 4
    assert not list(tmp_path.glob(".*tmp*")), "atomic write left a temporary file"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="other/1"), "unknown format"),
    (lambda d: d["grasps"][1]["joints"].pop("rh_THJ1"), "grasps[1].joints: missing joint(s) rh_THJ1"),
    (lambda d: d["grasps"][0]["joints"].update(rh_FFJ3=float("nan")), "grasps[0].joints.rh_FFJ3"),
    (lambda d: d["grasps"][1].update(palm_quaternion_xyzw=[0, 0, 0, 2]), "grasps[1].palm_quaternion_xyzw: not a unit"),
    (lambda d: d["grasps"][0].update(palm_position=[0, 1]), "grasps[0].palm_position"),
    (lambda d: d["grasps"][0]["joints"].update(rh_XXJ9=0.0), "unknown joint(s) rh_XXJ9"),
    (lambda d: d["grasps"][0]["joints"].update(rh_FFJ3=3.0), "outside the limits"),
    (lambda d: d.pop("object"), "object"),
])
def test_invalid_documents_name_the_field(mutate, message):
    doc = copy.deepcopy(_doc())
    mutate(doc)
    with pytest.raises(GraspFormatError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                       .replace(")", r"\)")):
        grasp_set_from_dict(doc)


def test_near_unit_quaternion_is_normalised():
    doc = _doc()
    doc["grasps"][0]["palm_quaternion_xyzw"] = [0.0, 0.0, 0.0, 1.0005]
    q = grasp_set_from_dict(doc).grasps[0].palm_quaternion_xyzw
    assert np.allclose(q, [0, 0, 0, 1])


def test_default_pregrasp_and_squeeze_follow_section_7():
    g = grasp_set_from_dict(_doc()).grasps[0]
    g.palm_quaternion_xyzw = Rotation.from_euler("z", 90, degrees=True).as_quat()
    pos, quat, pre = default_pregrasp(g)
    # palm +y after a 90° turn about z is world −x: backed off 3 mm along it
    assert np.allclose(pos - g.palm_position, [-0.003, 0, 0], atol=1e-12)
    assert np.allclose(quat, g.palm_quaternion_xyzw)
    assert pre["rh_FFJ3"] == pytest.approx(max(JOINT_LIMITS["rh_FFJ3"][0], g.joints["rh_FFJ3"] - 0.1))
    assert pre["rh_FFJ4"] == g.joints["rh_FFJ4"]  # abduction untouched
    sq = default_squeeze(g)
    assert sq["rh_THJ1"] == pytest.approx(g.joints["rh_THJ1"] + 0.1)
    assert sq["rh_THJ5"] == g.joints["rh_THJ5"]


def test_dexgraspbench_qpos_layout():
    g = grasp_set_from_dict(_doc()).grasps[0]
    qpos = to_dexgraspbench_qpos(g)
    assert qpos.shape == (29,)
    z_axis = Rotation.from_quat(g.palm_quaternion_xyzw).as_matrix()[:, 2]
    assert np.allclose(qpos[:3], g.palm_position - 0.034 * z_axis)
    xyzw = g.palm_quaternion_xyzw
    assert np.allclose(qpos[3:7], [xyzw[3], xyzw[0], xyzw[1], xyzw[2]])
    assert np.allclose(qpos[7:], [g.joints[n] for n in FINGER_JOINT_NAMES])
    assert FORMAT == "diffgrasp.grasps/1"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["grasps"][0].update(palm_position=[10**400, 0, 0]), "grasps[0].palm_position: contains NaN or inf"),
    (lambda d: d["grasps"][0].update(palm_position=[[1], [2], [3]]), "grasps[0].palm_position: expected 3 numbers"),
    (lambda d: d["grasps"][0].update(palm_position={"x": 1}), "grasps[0].palm_position: expected 3 numbers"),
    (lambda d: d["grasps"][0]["joints"].update(rh_FFJ3=10**400), "grasps[0].joints.rh_FFJ3: expected a finite"),
    (lambda d: d["grasps"][0]["joints"].update(rh_FFJ3=True), "grasps[0].joints.rh_FFJ3: expected a finite"),
    (lambda d: d["grasps"][1]["metrics"].update(method="planner"), "grasps[1].metrics.method: expected a number"),
    (lambda d: d["object"].update(scale=10**400), "object.scale: expected a positive number"),
    (lambda d: d["object"].update(mesh=["a"]), "object.mesh: expected a string"),
    (lambda d: d.update(grasps={"a": 1}), "grasps: expected a list"),
])
def test_odd_values_are_grasp_format_errors(tmp_path, mutate, message):
    doc = copy.deepcopy(_doc())
    mutate(doc)
    path = tmp_path / "g.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(GraspFormatError) as info:
        load_grasps(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("data, message", [(b"\xff\xfe\x00", "not UTF-8 text"), (b"[" * 100000, "nested too deeply"),
                                           (b"{", "not valid JSON (Expecting property name")])
def test_unreadable_files_are_grasp_format_errors(tmp_path, data, message):
    path = tmp_path / "g.json"
    path.write_bytes(data)
    with pytest.raises(GraspFormatError, match=message.replace("(", r"\(")):
        load_grasps(path)
    with pytest.raises(GraspFormatError, match="is a directory"):
        load_grasps(tmp_path)


def test_lenient_reader_keeps_the_valid_grasps_and_names_the_bad_ones(tmp_path):
    from diffgrasp.grasps import load_grasps_lenient

    doc = _doc()
    doc["grasps"].insert(1, {"palm_position": [0, 0, 0]})
    path = tmp_path / "g.json"
    path.write_text(json.dumps(doc))
    grasp_set, invalid = load_grasps_lenient(path)
    assert len(grasp_set.grasps) == 2 and list(invalid) == [1] and "grasps[1].palm_quaternion_xyzw" in invalid[1]
    path.write_text(json.dumps({**doc, "format": "other/1"}))
    with pytest.raises(GraspFormatError, match="unknown format 'other/1'"):
        load_grasps_lenient(path)


def test_save_grasps_writes_extra_top_level_keys_that_readers_ignore(tmp_path):
    grasp_set = grasp_set_from_dict(_doc())
    path = save_grasps(tmp_path / "g.json", grasp_set, extra={"planning": {"status": "interrupted"}})
    assert json.loads(path.read_text())["planning"] == {"status": "interrupted"}
    assert load_grasps(path).to_dict() == grasp_set.to_dict()
    with pytest.raises(ValueError, match="format"):
        save_grasps(tmp_path / "h.json", grasp_set, extra={"format": "x"})
