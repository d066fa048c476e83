"""ament_python package (also pip-installable): ``ros2 run diffgrasp_training train`` and ``diffgrasp-train``.

setup.cfg installs scripts to lib/diffgrasp_training, where ``ros2 run`` looks; a plain ``pip install`` of this
directory puts the same scripts on PATH.
"""

from setuptools import find_packages, setup

PACKAGE = "diffgrasp_training"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["tests", "tests.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools", "diffgrasp", "torch==2.13.0", "tensorboard", "ray==2.60.0", "matplotlib", "tqdm",
                      "pyyaml"],
    zip_safe=True,
    maintainer="diffgrasp developers",
    maintainer_email="diffgrasp@example.com",
    description="Training of the diffgrasp grasp network",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "train = diffgrasp_training.cli:main",
            "diffgrasp-train = diffgrasp_training.cli:main",
        ],
    },
)
