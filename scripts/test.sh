#!/usr/bin/env bash
# The whole test suite: set up .venv (idempotent), then pytest over every package's tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export MUJOCO_GL=${MUJOCO_GL:-egl}
exec .venv/bin/python -m pytest "$@"
