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


def dockerfile_stage(dockerfile: str, stage: str) -> str:
    """The instructions of one stage (from its FROM line to the next FROM), with line continuations joined."""
    match = re.search(rf"^FROM \S+ AS {stage}$(.*?)(?=^FROM |\Z)", dockerfile, flags=re.M | re.S)
    assert match, f"no stage {stage}"
    return match.group(1).replace("\\\n", " ")


def test_docker_test_stage_converts_the_gazebo_cell_with_gz_sdf(repo):
    """The test stage expands the cell as sim.launch.py does, runs `gz sdf -p` on it and fails when the table, a
    camera link or its sensor is missing (docker/check_gz_sdf.py); the image installs gz and its sdf command."""
    from catkin_pkg.package import parse_package

    dockerfile = (repo / "docker" / "Dockerfile").read_text()
    runs = [line for line in dockerfile_stage(dockerfile, "test").splitlines() if line.startswith("RUN ")]
    check = next((run for run in runs if "gz sdf -p" in run), None)
    assert check, "the Dockerfile's test stage does not run `gz sdf -p`"
    assert "/opt/ros/${ROS_DISTRO}/setup.bash" in check and "install/setup.bash" in check  # gz on PATH, our share
    assert re.search(r"\bxacro\s+\S*robot_cell\.urdf\.xacro", check)
    for mapping in ("cameras:=true", "sim_cameras:=true", "ros2_control_hardware:=gazebo", "controllers_file:="):
        assert mapping in check and mapping in (repo / "launch" / "sim.launch.py").read_text(), mapping
    urdf, sdf = re.search(r"gz sdf -p (\S+) > (\S+)", check).groups()
    assert re.search(rf"-o {re.escape(urdf)}\b", check), "gz sdf -p must read the xacro output"
    assert f"docker/check_gz_sdf.py {urdf} {sdf}" in check
    assert (repo / "docker" / "check_gz_sdf.py").is_file()
    assert ";" not in check, "a failing conversion or check must fail the build (&& only)"
    bringup = parse_package(str(repo / "src" / "diffgrasp_bringup" / "package.xml"))
    installed = {d.name for d in bringup.test_depends + bringup.exec_depends}
    assert {"gz_tools_vendor", "sdformat_vendor", "xacro"} <= installed  # rosdep installs them in the deps stage
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "ros.yml").read_text())
    test_steps = [step for job in workflow["jobs"].values() for step in job["steps"]
                  if isinstance(step.get("with"), dict) and step["with"].get("target") == "test"]
    assert any("sdf" in step.get("name", "").lower() and "colcon test" in step.get("name", "")
               for step in test_steps), "the ROS workflow must build the test stage (gz sdf check + colcon test)"
