#!/usr/bin/env bash
# Source ROS 2 and the diffgrasp workspace, then run the command (default: bash).
set -e
source "/opt/ros/${ROS_DISTRO:-jazzy}/setup.bash"
source /ws/install/setup.bash
export PATH=/opt/venv/bin:$PATH
exec "$@"
