"""Where generation tasks run: in this process, or as Ray tasks on a local Ray started here or on a cluster.

Both yield ``(job, result)`` pairs as tasks finish; the Ray runner yields ``(job, exception)`` for a task that raised or
whose worker died more than ``max_retries`` times, so one bad object does not end a long run.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from diffgrasp_training.shards import ObjectJob, ObjectResult, build_object

Outcome = ObjectResult | BaseException


@dataclasses.dataclass(frozen=True)
class RaySettings:
    """address: None starts a local Ray in this process for the run (nothing is left running afterwards); "auto" or
    "ray://host:10001" joins a running cluster. workers: tasks at once on the local Ray (it gets ``workers *
    cpus_per_task`` CPUs). cpus_per_task: each task's ``num_cpus`` and its torch / MuJoCo thread cap. max_retries:
    re-runs of a task whose worker process died (killed, out of memory)."""

    address: str | None = None
    workers: int = 1
    cpus_per_task: int = 1
    max_retries: int = 3

    def __post_init__(self) -> None:
        for key in ("workers", "cpus_per_task"):
            if getattr(self, key) < 1:
                raise ValueError(f"RaySettings.{key}: must be >= 1, got {getattr(self, key)}")
        if self.max_retries < 0:
            raise ValueError(f"RaySettings.max_retries: must be >= 0, got {self.max_retries}")


def run_in_process(jobs: Sequence[ObjectJob], work: Callable[[ObjectJob], ObjectResult]) -> Iterator[
        tuple[ObjectJob, Outcome]]:
    """Each job in turn, here (exceptions propagate: in-process use shows the traceback)."""
    for job in jobs:
        yield job, work(job)


def run_on_ray(jobs: Sequence[ObjectJob], settings: RaySettings, *task_args: Any) -> Iterator[
        tuple[ObjectJob, Outcome]]:
    """``build_object(job, *task_args, threads=cpus_per_task)`` as one Ray task per job, in completion order."""
    import ray  # only generation on Ray needs it

    owned = not ray.is_initialized()
    if owned:
        if settings.address is None:
            # workers of a local Ray import what this process can (a checkout on sys.path, test modules)
            path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
            ray.init(num_cpus=settings.workers * settings.cpus_per_task, include_dashboard=False,
                     configure_logging=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
        else:
            ray.init(address=settings.address, configure_logging=False, log_to_driver=False)
    pending: dict[Any, ObjectJob] = {}
    try:
        task = ray.remote(build_object).options(num_cpus=settings.cpus_per_task, max_retries=settings.max_retries,
                                                retry_exceptions=False)
        shared = [ray.put(a) for a in task_args]  # configs and the grasp function travel once, not once per task
        pending = {task.remote(job, *shared, threads=settings.cpus_per_task): job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    yield job, ray.get(ref)
                except ray.exceptions.RayError as err:
                    yield job, err
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if owned:
            ray.shutdown()


__all__ = ["RaySettings", "run_in_process", "run_on_ray"]
