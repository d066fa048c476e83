"""The ROS tests' domain ids: the workers of one pytest-xdist run never share one (they would answer each other's
actions of the same names)."""

from __future__ import annotations

import itertools
import os

from ros_test_domain import worker_domain_id


def test_workers_of_one_run_get_distinct_domains_in_range(monkeypatch):
    for count, parent in itertools.product((1, 2, 3, 4, 8), (4242, 10**6 + 17, 99)):
        monkeypatch.setattr(os, "getppid", lambda parent=parent: parent)
        ids = []
        for index in range(count):
            monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{index}")
            monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(count))
            ids.append(worker_domain_id())
        assert len(set(ids)) == count and all(1 <= i <= 100 for i in ids), (count, parent, ids)


def test_without_xdist_the_domain_comes_from_the_pid(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    monkeypatch.setattr(os, "getpid", lambda: 1234)
    assert worker_domain_id() == 1 + 1234 % 100
