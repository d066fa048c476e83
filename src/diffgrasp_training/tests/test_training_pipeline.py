"""Training machinery end to end on procedural shapes: data generation (resumable), a short run that lowers the
loss, exact resume, a SIGKILL'd run resumed, DDP with torchrun on CPU (gloo), the CLI and the configs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial.transform import Rotation

from diffgrasp.config import load_config, to_dict
from diffgrasp.grasps import Grasp
from diffgrasp.hand.names import FINGER_JOINT_NAMES, JOINT_LIMITS
from diffgrasp.network import GraspNet, NetworkConfig, load_checkpoint, min_of_n_loss
from diffgrasp_training.cli import main as cli_main
from diffgrasp_training.dataset import GraspDataset, batch_indices
from diffgrasp_training.generate import generate_dataset
from diffgrasp_training.shapes import make_shape
from diffgrasp_training.train_config import SHAPE_KINDS, DatasetConfig, TrainConfig
from diffgrasp_training.trainer import train

REPO = Path(__file__).resolve().parents[3]
NET = NetworkConfig(num_grasps=4, channels=(8, 8, 16, 16), feature_dim=32, hidden_dim=64)
DATA = DatasetConfig(procedural_shapes=3, procedural_val_fraction=0.34, grasps_per_object=4, table_samples=False,
                     seed=0)


def synthetic_grasps(mesh_path: Path, k: int, seed: int, support_plane=None) -> list[Grasp]:
    """k grasps around the object's bounding box: palm 3 cm outside a side face, palmar side (−y) facing the centre,
    fingers up (+z), flexion proportional to the object's size. Quick references for testing the machinery."""
    mesh = trimesh.load(mesh_path, force="mesh")
    lo, hi = mesh.bounds
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    grasps = []
    for i in range(k):
        az = 2 * np.pi * i / k
        out = np.array([np.cos(az), np.sin(az), 0.0])
        rot = np.stack([np.cross(out, [0, 0, 1.0]), out, [0, 0, 1.0]], axis=1)
        pos = centre + out * (np.abs(out[:2]) @ half[:2] + 0.03)
        flex = float(np.clip(1.2 - 8 * half[:2].mean(), 0.1, 1.2))
        joints = {}
        for name in FINGER_JOINT_NAMES:
            lo_j, hi_j = JOINT_LIMITS[name]
            joints[name] = float(np.clip(flex if name[-1] in "123" else 0.0, lo_j, hi_j))
        grasps.append(Grasp(palm_position=pos, palm_quaternion_xyzw=Rotation.from_matrix(rot).as_quat(),
                            joints=joints))
    return grasps


def run_config(**kw) -> TrainConfig:
    base = dict(mode="supervised", steps=8, batch_size=2, lr=3e-3, checkpoint_every=4,
                val_every=0, log_every=1, depth_noise_m=0.001, threads=1, dataset=DATA)
    base.update(kw)
    return TrainConfig(**base)


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src" / "diffgrasp_training"), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """The trainer sets torch's thread count (threads=1: fast on a shared CPU); put it back for other tests."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    generate_dataset(out, DATA, NET, grasp_fn=synthetic_grasps, progress=False)
    return out


def test_yaml_mirrors_dataclass_defaults():
    assert to_dict(load_config(TrainConfig, REPO / "config" / "training.yaml")) == to_dict(TrainConfig())
    with pytest.raises(ValueError, match="mode.*supervised, unsupervised, both"):
        TrainConfig(mode="semi")


@pytest.mark.parametrize("index", range(len(SHAPE_KINDS) * 2))
def test_procedural_shapes_are_watertight_and_placed(index):
    name, mesh = make_shape(index, SHAPE_KINDS, (0.015, 0.06), 0.1, seed=7)
    assert name.endswith(SHAPE_KINDS[index % len(SHAPE_KINDS)])
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert 0.02 < mesh.extents.max() < 0.4
    name2, mesh2 = make_shape(index, SHAPE_KINDS, (0.015, 0.06), 0.1, seed=7)
    np.testing.assert_array_equal(mesh.vertices, mesh2.vertices)


def test_batch_indices_cover_each_epoch_and_are_deterministic():
    steps = [batch_indices(7, 3, s, seed=1) for s in range(7)]  # 21 samples = 3 epochs of 7
    flat = torch.cat(steps)
    for e in range(3):
        assert sorted(flat[7 * e:7 * (e + 1)].tolist()) == list(range(7))
    assert torch.equal(batch_indices(7, 3, 4, seed=1), steps[4])
    assert not torch.equal(batch_indices(7, 3, 4, seed=2), steps[4])


def test_generated_data_and_resumable_generation(data_dir):
    index = json.loads((data_dir / "index.json").read_text())
    assert [e["split"] for e in index["objects"]] == ["train", "train", "val"]
    assert all(e["status"] == "done" and e["num_grasps"] == 4 for e in index["objects"])
    train_set = GraspDataset(data_dir, "train", NET)
    assert train_set.views.shape == (2, 5, 64, 64) and train_set.ref_joints.shape == (2, 4, 18)
    empty = GraspDataset(data_dir, "test", NET)  # a split without objects: empty tensors of the right shapes
    assert len(empty) == 0 and empty.views.shape == (0, 5, 64, 64) and empty.ref_joints.shape == (0, 1, 18)
    # References are stored in the object frame and loaded relative to the centre (centres are off the origin).
    assert train_set.centres.norm(dim=1).min() > 1e-3
    assert train_set.ref_position.norm(dim=-1).max() < 0.2
    # A second run skips finished objects; a damaged entry is regenerated.
    views_file = data_dir / index["objects"][0]["views"]
    before = views_file.stat().st_mtime_ns
    calls = []
    generate_dataset(data_dir, DATA, NET, grasp_fn=lambda *a: calls.append(a) or synthetic_grasps(*a), progress=False)
    assert not calls and views_file.stat().st_mtime_ns == before
    index["objects"][1]["status"] = "failed"
    (data_dir / "index.json").write_text(json.dumps(index))
    generate_dataset(data_dir, DATA, NET, grasp_fn=lambda *a: calls.append(a) or synthetic_grasps(*a), progress=False)
    assert len(calls) == 1
    assert json.loads((data_dir / "index.json").read_text())["objects"][1]["status"] == "done"


def test_cli_generate_with_an_objects_folder_and_no_references(tmp_path):
    objects = tmp_path / "objects"
    objects.mkdir()
    for name, mesh in (("can", trimesh.creation.cylinder(radius=0.03, height=0.1)),
                       ("ball", trimesh.creation.icosphere(radius=0.035))):
        mesh.apply_translation([0.05, 0.02, 0.04])
        mesh.export(objects / f"{name}.obj")
    (objects / "splits.json").write_text(json.dumps({"train": ["can"], "val": ["ball"]}))
    out = tmp_path / "data"
    assert cli_main(["generate", str(out), "--objects", str(objects), "--procedural", "1",
                     "--grasps-per-object", "0", "--no-progress"]) == 0
    index = json.loads((out / "index.json").read_text())
    free = [("proc_00000_box", "train", 0), ("can", "train", 0), ("ball", "val", 0), ("can_scaled0", "train", 0),
            ("can_scaled1", "train", 0)]
    assert [(e["name"], e["split"], e["num_grasps"]) for e in index["objects"]] == free + [
        (f"{name}_table", split, 0) for name, split, _ in free]
    # the scaled copies of the train object: its mesh scaled about the file's origin by the factor the index records
    can = trimesh.load(out / index["objects"][1]["mesh"], force="mesh")
    for entry in index["objects"][3:5]:
        assert 0.7 <= entry["scale"] <= 1.3 and entry["source"] == index["objects"][1]["source"]
        copy = trimesh.load(out / entry["mesh"], force="mesh")
        np.testing.assert_allclose(copy.vertices, can.vertices * entry["scale"], atol=1e-6)
    ball = GraspDataset(out, "val")
    np.testing.assert_allclose(ball.centres[0].numpy(), [0.05, 0.02, 0.04], atol=1e-6)
    assert not ball.has_references and (ball.views > 0).any()
    # Supervised training needs references: a clear error, not a crash.
    assert cli_main(["train", str(out), str(tmp_path / "run"), "--mode", "supervised", "--no-progress"]) == 2
    (objects / "splits.json").write_text(json.dumps({"train": ["can", "missing"]}))
    assert cli_main(["generate", str(tmp_path / "d2"), "--objects", str(objects), "--no-progress"]) == 2


def _train_set_loss(model_or_path, data_dir: Path, cfg: TrainConfig) -> float:
    model = load_checkpoint(model_or_path).model if isinstance(model_or_path, Path) else model_or_path
    ds = GraspDataset(data_dir, "train", NET)
    with torch.no_grad():
        pred = model(ds.views)
        return float(min_of_n_loss(pred.position, pred.rotation, pred.joints_reduced, ds.ref_position,
                                   ds.ref_rotation, ds.ref_joints, ds.ref_mask, cfg.min_of_n).mean())


def test_short_supervised_run_lowers_the_loss(data_dir, tmp_path):
    cfg = run_config(steps=40, checkpoint_every=20, val_every=20)
    torch.manual_seed(cfg.seed)
    initial = _train_set_loss(GraspNet(NET), data_dir, cfg)
    result = train(cfg, NET, data_dir, tmp_path / "run", progress=False)
    assert result.status == "finished"
    final = _train_set_loss(result.model_path, data_dir, cfg)
    assert final < 0.5 * initial, (initial, final)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["final_val"]["min_of_n"] > 0 and metrics["steps"] == 40
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000
    assert list((tmp_path / "run" / "tb").glob("events.out.tfevents.*"))
    with pytest.raises(ValueError, match="already holds a run"):
        train(cfg, NET, data_dir, tmp_path / "run", progress=False)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).model.state_dict()


def _assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def test_unsupervised_run_lowers_the_grasp_loss(data_dir, tmp_path):
    """Purely unsupervised: the loss library's GraspLoss alone (no references) drives the network."""
    from diffgrasp_training.objective import Objective

    cfg = run_config(mode="unsupervised", steps=10, checkpoint_every=10)
    train_set = GraspDataset(data_dir, "train", NET)
    objective = Objective(cfg, train_set, torch.device("cpu"))

    def grasp_loss(model) -> float:
        batch = train_set.batch(torch.arange(len(train_set)))
        with torch.no_grad():
            return objective(model(batch["views"]), batch, "unsupervised")[1]["grasp_loss"]

    torch.manual_seed(cfg.seed)
    initial = grasp_loss(GraspNet(NET))
    result = train(cfg, NET, data_dir, tmp_path / "unsup", progress=False)
    final = grasp_loss(load_checkpoint(result.model_path).model)
    assert final < 0.7 * initial, (initial, final)
    assert "grasp_loss" in result.metrics["final_val"] and "term/penetration" in result.metrics["final_val"]


def test_resume_reproduces_the_uninterrupted_run_exactly(data_dir, tmp_path):
    """Mode "both": stage 1 (min-of-N) for 6 steps, stage 2 (+ GraspLoss) for 2; interrupted after step 4."""
    cfg = run_config(mode="both", steps=8, checkpoint_every=4)
    full = train(cfg, NET, data_dir, tmp_path / "full", progress=False)
    half = train(cfg, NET, data_dir, tmp_path / "split", stop_at_step=4, progress=False)
    assert half.status == "stopped" and half.step == 4 and half.model_path is None
    resumed = train(cfg, NET, data_dir, tmp_path / "split", resume=True, progress=False)
    assert resumed.status == "finished"
    _assert_same_weights(full.model_path, resumed.model_path)
    # The history survives the interruption: one train entry per step.
    hist = [h["step"] for h in load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt").extra["history"]
            if h["kind"] == "train"]
    assert hist == list(range(1, 9))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "diffgrasp_training", *args]


def test_sigkilled_run_resumes_to_the_same_weights(data_dir, tmp_path):
    """A CLI run killed with SIGKILL at an arbitrary moment, resumed from its last checkpoint, ends with the weights
    of an uninterrupted run."""
    import yaml

    overrides = {"mode": "supervised", "steps": 60, "batch_size": 2, "checkpoint_every": 5, "val_every": 0,
                 "threads": 1}
    net_yaml = tmp_path / "net.yaml"
    net_yaml.write_text(yaml.safe_dump(to_dict(NET)))
    args = [f"--{k.replace('_', '-')}={v}" for k, v in overrides.items()]
    victim = subprocess.Popen(_cli("train", str(data_dir), str(tmp_path / "killed"), *args, "--network-config",
                                   str(net_yaml), "--no-progress"), env=subprocess_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ckpt = tmp_path / "killed" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 180
    while not ckpt.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert ckpt.exists(), victim.stdout.read().decode()
    assert not (tmp_path / "killed" / "model.pt").exists(), "the run finished before it was killed"
    step_at_kill = load_checkpoint(ckpt).extra["step"]
    assert 0 < step_at_kill < 60
    cfg = load_config(TrainConfig, None, overrides)
    resumed = train(cfg, NET, data_dir, tmp_path / "killed", resume=True, progress=False)
    reference = train(cfg, NET, data_dir, tmp_path / "reference", progress=False)
    assert resumed.status == reference.status == "finished"
    _assert_same_weights(reference.model_path, resumed.model_path)


def test_torchrun_two_ranks_on_cpu(data_dir, tmp_path):
    import yaml
    net_yaml = tmp_path / "net.yaml"
    net_yaml.write_text(yaml.safe_dump(to_dict(NET)))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "diffgrasp_training", "train", str(data_dir), str(tmp_path / "ddp"), "--mode", "supervised",
           "--steps", "4", "--batch-size", "2", "--checkpoint-every", "2", "--val-every", "0",
           "--network-config", str(net_yaml), "--threads", "1", "--no-progress"]
    proc = subprocess.run(cmd, env=subprocess_env(), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["steps"] == 4
    assert load_checkpoint(tmp_path / "ddp" / "model.pt").config == NET


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert cli_main(["train", str(tmp_path / "nodata"), str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no index.json" in err
    assert cli_main(["train", str(tmp_path), str(tmp_path / "run"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
