"""Camera rig YAML: loading, validation, optical frames, easy_handeye2 conversion."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import yaml

from diffgrasp.errors import ConfigError
from diffgrasp.perception.handeye import calib_to_parent_to_link, update_rig_yaml
from diffgrasp.perception.rig import Transform, load_rig, rig_from_dict, rig_to_dict

REPO = Path(__file__).resolve().parents[4]
CONFIG = REPO / "config"


def _base() -> dict:
    return yaml.safe_load((CONFIG / "cameras.yaml").read_text())


def test_example_rigs_load():
    rig = load_rig(CONFIG / "cameras.yaml")
    assert len(rig.cameras) == 4 and all(c.serial.isdigit() for c in rig.cameras)
    assert {c.model for c in rig.cameras} == {"D435", "D415"}
    assert all((c.width, c.height, c.fps) == (848, 480, 30) and c.intrinsics == "from_device" for c in rig.cameras)
    sim = load_rig(CONFIG / "cameras_sim.yaml")
    assert len(sim.cameras) == 4
    for cam in sim.cameras:
        T = cam.camera_to_world()
        # optical z looks at the table centre target (0, 0, 0.05); optical y points down (world −z component)
        to_target = np.array([0.0, 0.0, 0.05]) - T[:3, 3]
        assert np.dot(T[:3, 2], to_target / np.linalg.norm(to_target)) > 0.9999
        assert T[2, 1] < 0 and abs(T[2, 0]) < 1e-6
        assert 0.5 <= np.linalg.norm(to_target) <= 0.7 + 1e-5
        assert cam.intrinsics_matrix().shape == (3, 3)
    assert rig_from_dict(rig_to_dict(sim)) == sim


def test_from_device_intrinsics_are_not_guessed():
    with pytest.raises(ConfigError, match="intrinsics missing for camera cam_front_left: .*'from_device'.*fx"):
        load_rig(CONFIG / "cameras.yaml").cameras[0].intrinsics_matrix()


def test_select_missing_camera():
    with pytest.raises(ValueError, match="missing calibration for cam_top"):
        load_rig(CONFIG / "cameras.yaml", ["cam_front_left", "cam_top"])


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["cameras"][0]["parent_to_link"].update(rotation_xyzw=[0.1, 0.2, 0.3, 0.4]), "not a unit quaternion"),
    (lambda d: d["cameras"][0]["parent_to_link"].pop("rotation_xyzw") and
     d["cameras"][0]["parent_to_link"].update(rotation_matrix=[[1, 0.1, 0], [0, 1, 0], [0, 0, 1]]), "not orthonormal"),
    (lambda d: d["cameras"][0].pop("parent_to_link"), "missing calibration for cam_front_left"),
    (lambda d: d["cameras"][0].update(intrinsics={"fx": 600, "fy": 600, "cx": 960, "cy": 540}), "outside"),
    (lambda d: d["cameras"][0].update(intrinsics={"fx": 600, "fy": 600, "cx": 320, "cy": 240, "width": 640,
                                                  "height": 480}), "resolution/intrinsics mismatch"),
    (lambda d: d["cameras"][0].update(width=800), "not a D435 depth resolution"),
    (lambda d: d["cameras"][1].update(serial=d["cameras"][0]["serial"]), "duplicate camera serial"),
    (lambda d: d["cameras"][1].update(name=d["cameras"][0]["name"]), "duplicate camera name"),
    (lambda d: d["cameras"][0].update(focal=1.0), "unknown key"),
    (lambda d: d.update(cameras=[]), "non-empty list"),
    (lambda d: d["capture"].update(sync="genlock"), "capture.sync"),
])
def test_validation_errors(mutate, message, tmp_path):
    data = _base()
    mutate(data)
    path = tmp_path / "cams.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=message):
        load_rig(path)


def test_integer_serial_is_kept_as_string():
    data = _base()
    data["cameras"][0]["serial"] = 817612070401
    assert rig_from_dict(data).cameras[0].serial == "817612070401"


def _calib(T_base_tracking: np.ndarray, tracking: str) -> dict:
    t = Transform.from_matrix(T_base_tracking)
    return {"parameters": {"calibration_type": "eye_on_base", "robot_base_frame": "base_link",
                           "robot_effector_frame": "tool0", "tracking_base_frame": tracking,
                           "tracking_marker_frame": "marker"},
            "transform": {"translation": dict(zip("xyz", t.translation, strict=True)),
                          "rotation": dict(zip("xyzw", t.rotation_xyzw, strict=True))}}


def test_handeye_optical_frame_is_not_reparented():
    cam = load_rig(CONFIG / "cameras.yaml").cameras[2]
    T_base_optical = cam.camera_to_world()
    parent, link = calib_to_parent_to_link(_calib(T_base_optical, "cam_back_left_depth_optical_frame"))
    assert parent == "base_link"
    np.testing.assert_allclose(link.matrix(), cam.parent_to_link.matrix(), atol=1e-9)
    _, same = calib_to_parent_to_link(_calib(cam.parent_to_link.matrix(), "cam_back_left_link"))
    np.testing.assert_allclose(same.matrix(), cam.parent_to_link.matrix(), atol=1e-9)


def _script():
    spec = importlib.util.spec_from_file_location("handeye_to_cameras", REPO / "scripts" / "handeye_to_cameras.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_handeye_script_updates_cameras_yaml(tmp_path, capsys):
    rig = load_rig(CONFIG / "cameras.yaml")
    cam = rig.cameras[1]
    calib = tmp_path / f"{cam.name}.calib"
    shifted = cam.camera_to_world()
    shifted[:3, 3] += [0.01, -0.02, 0.005]
    calib.write_text(yaml.safe_dump(_calib(shifted, f"{cam.name}_depth_optical_frame")))
    out = tmp_path / "cameras.yaml"
    script = _script()
    assert script.main([str(calib), "--cameras", str(CONFIG / "cameras.yaml"), "-o", str(out)]) == 0
    new = load_rig(out)
    np.testing.assert_allclose(new.camera(cam.name).camera_to_world(), shifted, atol=1e-6)
    assert "easy_handeye2" in new.camera(cam.name).calibration
    np.testing.assert_allclose(new.cameras[0].camera_to_world(), rig.cameras[0].camera_to_world())
    bad = tmp_path / "bad.calib"
    bad.write_text("transform: {}\n")
    assert script.main([str(bad)]) == 2
    assert "not an easy_handeye2 calibration" in capsys.readouterr().err
    assert update_rig_yaml({}, "cam_x", calib)["cameras"][0]["name"] == "cam_x"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["cameras"][0].update(width="848x"), "camera cam_front_left: width: expected an integer, got '848x'"),
    (lambda d: d["cameras"][0].update(depth_scale="1e-3"), None),  # PyYAML's string '1e-3' is coerced
    (lambda d: d["cameras"][0].update(depth_scale=[1]), "camera cam_front_left: depth_scale: expected a float"),
    (lambda d: d["cameras"][0].update(model=435), "camera cam_front_left: model: expected a string, got 435"),
    (lambda d: d["cameras"][0]["parent_to_link"].update(translation=[0, 0]),
     "parent_to_link.translation: expected a list of 3 floats"),
    (lambda d: d["cameras"][0].update(intrinsics={"fx": "a", "fy": 1, "cx": 1, "cy": 1}),
     "camera cam_front_left: intrinsics.fx: expected a float, got 'a'"),
    (lambda d: d["cameras"][0].update(name="../cam"), "cameras[0].name: expected a camera name"),
    (lambda d: d["capture"].update(decimation="two"), "capture.decimation: expected an integer, got 'two'"),
    (lambda d: d["capture"].update(color="yes"), "capture.color: expected true or false, got 'yes'"),
    (lambda d: d.update(world_frame=3), "world_frame: expected a string, got 3"),
])
def test_yaml_values_are_coerced_or_named(mutate, message, tmp_path):
    data = _base()
    mutate(data)
    path = tmp_path / "cams.yaml"
    path.write_text(yaml.safe_dump(data))
    if message is None:
        assert load_rig(path).cameras[0].depth_scale == 1e-3
        return
    with pytest.raises(ConfigError) as info:
        load_rig(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value) and "\n" not in str(info.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "cams.yaml"
    path.write_text("cameras:\n- name: a\n  width: [640\n")
    with pytest.raises(ConfigError, match=r"cams\.yaml: invalid YAML at line 4, column 1"):
        load_rig(path)
