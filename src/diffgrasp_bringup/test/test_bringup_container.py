"""Docker, compose and CI files are consistent: stages the workflow builds exist, compose services reach DDS and the
cameras, the entrypoint sources the workspace. (Building the image needs Docker: CI does it.)"""

from __future__ import annotations

import re

import yaml


def test_dockerfile_stages_and_workflow_targets(repo):
    dockerfile = (repo / "docker" / "Dockerfile").read_text()
    stages = set(re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, flags=re.M))
    assert {"deps", "venv", "build", "runtime", "test"} <= stages
    assert re.search(r"^FROM ros:\$\{ROS_DISTRO\}-ros-base AS deps$", dockerfile, flags=re.M)
    assert "ARG ROS_DISTRO=jazzy" in dockerfile
    assert "rosdep install --from-paths src --ignore-src" in dockerfile
    assert "torch==2.13.0" in dockerfile and "--system-site-packages" in dockerfile
    assert "colcon test" in dockerfile and "colcon test-result --verbose" in dockerfile
    assert re.search(r"^USER \$\{USERNAME\}$", dockerfile, flags=re.M)  # non-root runtime
    for path in re.findall(r"^COPY (src/\S+/package.xml)", dockerfile, flags=re.M):
        assert (repo / path).is_file(), path
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "ros.yml").read_text())
    targets = [step["with"]["target"] for job in workflow["jobs"].values() for step in job["steps"]
               if isinstance(step.get("with"), dict) and "target" in step["with"]]
    assert targets and set(targets) <= stages and "test" in targets


def test_compose_services(repo):
    compose = yaml.safe_load((repo / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"robot", "sim", "train"} <= set(services)
    for name, service in services.items():
        assert service["network_mode"] == "host" and service["ipc"] == "host", name
    assert {"c 81:* rmw", "c 189:* rmw"} <= set(services["robot"]["device_cgroup_rules"])
    assert "/dev:/dev" in services["robot"]["volumes"]
    gpu = services["robot-gpu"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    launched = [s.get("command", []) for s in services.values()]
    for command in launched:
        if command[:2] == ["ros2", "launch"]:
            assert (repo / "launch" / command[3]).is_file(), command
    entrypoint = (repo / "docker" / "entrypoint.sh").read_text()
    assert "source /ws/install/setup.bash" in entrypoint and 'exec "$@"' in entrypoint
