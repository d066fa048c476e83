"""The ROS domain of a test process (conftest.py sets ROS_DOMAIN_ID from it; a module of its own, because test files
cannot import from conftest: several conftest modules share that name)."""

from __future__ import annotations

import os


def worker_domain_id() -> int:
    """A ROS domain (1..100) for this test process that no other worker of the same pytest-xdist run shares: the
    workers take consecutive ids from a base their controller's pid (their parent) chooses; without xdist the base
    comes from this process's pid. (1 + pid % 100 alone could give two workers one domain, where each would see the
    other's action servers of the same names.)"""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    index = int(worker[2:]) if worker[:2] == "gw" and worker[2:].isdigit() else 0
    anchor = os.getppid() if worker else os.getpid()
    slots = max(1, 100 // count)
    return 1 + (anchor % slots) * count + index % count
