"""Generation on a local Ray: a worker killed mid-task is retried and leaves no half shard, every object is stored
exactly once, re-runs and --resume skip what is done, and the shards equal an in-process run's for the same seeds."""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from pathlib import Path

import pytest
from test_training_pipeline import NET, synthetic_grasps

from diffgrasp_training.cli import main as cli_main
from diffgrasp_training.generate import RaySettings, generate_dataset
from diffgrasp_training.train_config import DatasetConfig

pytest.importorskip("ray")

TINY = DatasetConfig(procedural_shapes=4, procedural_val_fraction=0.25, grasps_per_object=4,
                     size_range_m=(0.015, 0.03), table_samples=False, seed=3)


@dataclasses.dataclass(frozen=True)
class DiesOnce:
    """Reference grasps that log every call to ``log_dir`` and end the worker process (``os._exit``) the first time
    they plan the object of seed ``victim``: the test's stand-in for a killed machine."""

    log_dir: str
    victim: int

    def __call__(self, mesh_path: Path, k: int, seed: int, support_plane=None):
        log = Path(self.log_dir)
        (log / f"call-{seed}-{uuid.uuid4().hex}").touch()
        if seed == self.victim and not (log / "killed").exists():
            (log / "killed").touch()
            os._exit(1)
        return synthetic_grasps(mesh_path, k, seed)


def _calls(log: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in log.glob("call-*"))


def _shards(index_path: Path) -> dict[str, str]:
    return {e["name"]: e["shard"] for e in json.loads(index_path.read_text())["objects"]}


@pytest.mark.slow
def test_ray_generation_survives_a_killed_worker_and_resumes(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    fn = DiesOnce(str(log), victim=TINY.seed + 1)
    out = tmp_path / "ray"
    index_path = generate_dataset(out, TINY, NET, grasp_fn=fn, progress=False,
                                  ray=RaySettings(workers=2, max_retries=2))
    assert (log / "killed").exists()
    assert _calls(log) == sorted([TINY.seed + i for i in range(4)] + [fn.victim])  # the victim ran twice
    index = json.loads(index_path.read_text())
    assert [e["status"] for e in index["objects"]] == ["done"] * 4 and all(e["num_grasps"] == 4
                                                                          for e in index["objects"])
    stored = sorted(p.name for p in (out / "shards").iterdir())
    assert stored == sorted(_shards(index_path).values())  # each object exactly once, no temporary folder left
    for digest in stored:
        assert sorted(p.name for p in (out / "shards" / digest).iterdir()) == ["grasps.json", "mesh.obj",
                                                                                "views.npy"]

    # The same seeds in this process: the same shards, byte for byte (the digest is the content's).
    serial = generate_dataset(tmp_path / "serial", TINY, NET, grasp_fn=synthetic_grasps, progress=False)
    assert _shards(serial) == _shards(index_path)

    # A re-run plans nothing; a lost shard is planned again, to the same digest.
    generate_dataset(out, TINY, NET, grasp_fn=fn, progress=False, ray=RaySettings(workers=2))
    assert len(_calls(log)) == 5
    lost = index["objects"][2]
    for p in (out / "shards" / lost["shard"]).iterdir():
        p.unlink()
    (out / "shards" / lost["shard"]).rmdir()
    generate_dataset(out, TINY, NET, grasp_fn=fn, progress=False, ray=RaySettings(workers=2))
    assert len(_calls(log)) == 6 and _shards(index_path) == _shards(serial)


def test_a_task_that_raises_marks_its_object_failed_and_the_run_goes_on(tmp_path):
    out = tmp_path / "d"
    index_path = generate_dataset(out, dataclasses.replace(TINY, procedural_shapes=2), NET,
                                  grasp_fn=_raises_on_seed_3, progress=False, ray=RaySettings(workers=1))
    entries = json.loads(index_path.read_text())["objects"]
    assert [e["status"] for e in entries] == ["failed", "done"]
    assert entries[0]["error"].startswith("RayTaskError(ZeroDivisionError)") and "\x1b" not in entries[0]["error"]
    assert not any(p.name.startswith(".") for p in (out / "shards").iterdir())


def test_a_redone_failed_object_leaves_no_stale_shard(tmp_path):
    out = tmp_path / "d"
    cfg = dataclasses.replace(TINY, procedural_shapes=2)
    generate_dataset(out, cfg, NET, grasp_fn=_planner_fails_on_seed_3, progress=False)  # in process
    first = _shards(out / "index.json")
    assert json.loads((out / "index.json").read_text())["objects"][0]["status"] == "failed"
    generate_dataset(out, cfg, NET, grasp_fn=synthetic_grasps, progress=False)
    again = _shards(out / "index.json")
    assert again[next(iter(again))] != first[next(iter(first))]  # the failed object's shard was replaced ...
    assert sorted(p.name for p in (out / "shards").iterdir()) == sorted(again.values())  # ... and removed


def _planner_fails_on_seed_3(mesh_path: Path, k: int, seed: int, support_plane=None):
    if seed == 3:
        raise RuntimeError("no valid candidate")  # a planner failure: the object is stored as failed
    return synthetic_grasps(mesh_path, k, seed)


def _raises_on_seed_3(mesh_path: Path, k: int, seed: int, support_plane=None):
    if seed == 3:
        return 1 / 0  # a bug, not a planner failure: the task fails
    return synthetic_grasps(mesh_path, k, seed)


def test_resume_uses_the_folders_settings_and_other_settings_are_refused(tmp_path, capsys):
    out = tmp_path / "d"
    base = ["generate", str(out), "--procedural", "2", "--grasps-per-object", "0", "--seed", "5", "--no-progress"]
    assert cli_main(base) == 0
    first = _shards(out / "index.json")
    assert cli_main(["generate", str(out), "--resume", "--no-progress"]) == 0
    assert _shards(out / "index.json") == first
    capsys.readouterr()
    assert cli_main(["generate", str(out), "--procedural", "3", "--grasps-per-object", "0", "--seed", "5",
                     "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "generated with other settings (dataset.procedural_shapes)" in err and "--resume" in err
    assert cli_main(["generate", str(out), "--resume", "--procedural", "3", "--no-progress"]) == 2
    assert "drop --procedural" in capsys.readouterr().err
    assert cli_main(["generate", str(tmp_path / "new"), "--resume", "--no-progress"]) == 2
    assert "no index to resume" in capsys.readouterr().err
