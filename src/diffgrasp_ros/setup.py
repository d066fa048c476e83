"""ament_python package: thin nodes; ``ros2 run diffgrasp_ros <executable>`` finds the console scripts because
setup.cfg installs them to lib/diffgrasp_ros."""

from setuptools import find_packages, setup

PACKAGE = "diffgrasp_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="diffgrasp developers",
    maintainer_email="diffgrasp@example.com",
    description="Thin rclpy nodes and ROS-free message conversions of diffgrasp",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "capture_node = diffgrasp_ros.capture_node:main",
            "fusion_node = diffgrasp_ros.fusion_node:main",
            "inference_node = diffgrasp_ros.inference_node:main",
            "refinement_node = diffgrasp_ros.refinement_node:main",
            "execution_node = diffgrasp_ros.execution_node:main",
            "orchestrator_node = diffgrasp_ros.orchestrator_node:main",
            "sim_camera_node = diffgrasp_ros.sim_camera_node:main",
            "grasp_client = diffgrasp_ros.client:main",
        ],
    },
)
