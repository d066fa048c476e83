"""config/fusion.yaml and config/depth_noise.yaml mirror the dataclass defaults; the package imports lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from diffgrasp.config import load_config, to_dict
from diffgrasp.perception.fusion import FusionConfig
from diffgrasp.perception.noise import DepthNoiseConfig

CONFIG = Path(__file__).resolve().parents[4] / "config"


def test_fusion_yaml_equals_defaults():
    assert to_dict(load_config(FusionConfig, CONFIG / "fusion.yaml")) == to_dict(FusionConfig())


def test_depth_noise_yaml_equals_defaults():
    assert to_dict(load_config(DepthNoiseConfig, CONFIG / "depth_noise.yaml")) == to_dict(DepthNoiseConfig())


def test_package_import_is_light():
    code = ("import sys, diffgrasp.perception as p; assert 'fuse' in p.__all__; "
            "print(sorted(m for m in ('open3d', 'pyrealsense2', 'cv2', 'rosbags') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
