"""Checkpoints: exact round trip; corrupt, truncated, foreign, tampered and mismatched files → one clear error."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from diffgrasp.network import CheckpointError, GraspNet, NetworkConfig, load_checkpoint, save_checkpoint

SMALL = NetworkConfig(num_grasps=2, channels=(8, 8, 8, 8), feature_dim=16, hidden_dim=16)


@pytest.fixture
def saved(tmp_path):
    net = GraspNet(SMALL)
    path = save_checkpoint(tmp_path / "net.pt", net, metadata={"note": "test"}, extra={"step": 3})
    return net, path


def test_round_trip_is_exact(saved):
    net, path = saved
    loaded = load_checkpoint(path)
    assert loaded.config == SMALL and loaded.metadata == {"note": "test"} and loaded.extra == {"step": 3}
    for (name, a), (_, b) in zip(net.state_dict().items(), loaded.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    views = 0.45 + 0.1 * torch.rand(1, 5, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(net(views).position, loaded.model(views).position, rtol=0, atol=0)
    assert not list(path.parent.glob(".*tmp*"))  # no temp file left behind


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.pt: checkpoint file not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_truncated_file(saved, tmp_path):
    _, path = saved
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.pt: not a diffgrasp checkpoint \(a damaged or truncated"):
        load_checkpoint(bad)


def test_garbage_file(tmp_path):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match=r"garbage\.pt: not a diffgrasp checkpoint \(") as info:
        load_checkpoint(bad)
    assert "weights_only" not in str(info.value) and "\n" not in str(info.value)


def test_random_bytes_and_foreign_pickles_never_advise_unsafe_loading(tmp_path):
    """torch's own message suggests weights_only=False (arbitrary code execution): ours must not relay it."""
    import os
    import pickle

    for name, data in [("random.pt", os.urandom(4096)), ("empty.pt", b""),
                       ("object.pt", pickle.dumps(Exception("x"))), ("int.pt", pickle.dumps(5))]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError, match=rf"{name}: not a diffgrasp checkpoint \(") as info:
            load_checkpoint(tmp_path / name)
        assert "weights_only" not in str(info.value) and "\n" not in str(info.value)


def test_flipped_weight_bytes_are_detected(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name].view(-1)[0] += 1.0  # damage one weight, keep everything else
    bad = tmp_path / "damaged.pt"
    torch.save(payload, bad)
    with pytest.raises(CheckpointError, match=r"damaged\.pt: weights are damaged \(digest mismatch\)"):
        load_checkpoint(bad)


def test_foreign_torch_file(tmp_path):
    bad = tmp_path / "foreign.pt"
    torch.save({"state_dict": GraspNet(SMALL).state_dict()}, bad)
    with pytest.raises(CheckpointError, match=r"foreign\.pt: unknown checkpoint format None"):
        load_checkpoint(bad)


def test_config_mismatch_names_the_fields(saved):
    _, path = saved
    other = dataclasses.replace(SMALL, num_grasps=3)
    with pytest.raises(CheckpointError, match=r"net\.pt: network config mismatch \(num_grasps: expected 3, file has 2"):
        load_checkpoint(path, expected_config=other)


def test_edited_config_breaks_the_architecture_hash(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    payload["config"]["hidden_dim"] = 32
    bad = tmp_path / "edited.pt"
    torch.save(payload, bad)
    with pytest.raises(CheckpointError, match=r"edited\.pt: architecture hash mismatch"):
        load_checkpoint(bad)


def test_packaged_checkpoint_loads_or_is_reported_missing():
    from diffgrasp.network import default_checkpoint_path

    path = default_checkpoint_path()
    if not path.is_file():
        with pytest.raises(CheckpointError, match="no trained network checkpoint is packaged"):
            load_checkpoint()
        return
    assert path.stat().st_size <= 20 * 2**20
    loaded = load_checkpoint()
    assert loaded.metadata.get("kind") == "model" and "metrics" in loaded.metadata
