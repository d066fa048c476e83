"""Fixtures for the diffgrasp_ros tests: the Jazzy typestore with our interfaces and the vendored definitions.

Outside a colcon workspace the package is not installed: put its source folder on sys.path (inside one, colcon's
environment already provides it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from ros_test_domain import worker_domain_id

PACKAGE_DIR = Path(__file__).resolve().parents[1]
SRC_DIR = PACKAGE_DIR.parent
REPO_ROOT = SRC_DIR.parent
VENDORED = PACKAGE_DIR / "test" / "vendored_msgs"
VENDORED_PACKAGES = ("control_msgs", "moveit_msgs", "object_recognition_msgs")

# DDS traffic of this test process stays on this machine and in its own domain: concurrent test processes (pytest-xdist
# workers, other checkouts) would otherwise answer each other's actions of the same names.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ["ROS_DOMAIN_ID"] = str(worker_domain_id())

try:
    import diffgrasp_ros  # noqa: F401
except ImportError:
    sys.path.insert(0, str(PACKAGE_DIR))


def interface_dirs() -> list[Path]:
    return [SRC_DIR / "diffgrasp_interfaces", *(VENDORED / p for p in VENDORED_PACKAGES)]


@pytest.fixture(scope="session")
def typestore():
    from diffgrasp_ros.typestore import build_typestore

    return build_typestore(interface_dirs())


@pytest.fixture(scope="session")
def factory(typestore):
    from diffgrasp_ros.message_factory import RosbagsFactory

    return RosbagsFactory(typestore)


@pytest.fixture()
def cdr(typestore):
    """Serialise a rosbags message to CDR bytes and read it back (the wire round trip)."""
    def roundtrip(msg):
        raw = typestore.serialize_cdr(msg, msg.__msgtype__)
        return typestore.deserialize_cdr(raw, msg.__msgtype__)
    return roundtrip


@pytest.fixture()
def ros_context():
    """rclpy initialised for one test (its own context on this process's domain), shut down afterwards."""
    import rclpy

    rclpy.init()
    yield
    rclpy.shutdown()
