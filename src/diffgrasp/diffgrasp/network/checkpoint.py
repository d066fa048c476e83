"""Grasp-network checkpoints: atomic save, validated load.

A checkpoint is a ``torch.save`` dict (loaded with ``weights_only=True``, so no code runs on load)::

    format              "diffgrasp.network/1"
    config              NetworkConfig as a dict
    architecture_hash   sha256 of the config and of every parameter/buffer name and shape
    shapes              {name: [sizes]} of the state dict
    state_dict          the weights
    digest              sha256 over the state dict's names and bytes (detects a damaged file)
    metadata            free JSON-like dict (training config, metrics, data, versions)
    extra               optional dict (the trainer keeps optimizer and RNG states here)

Any problem (missing file, unreadable or truncated file, wrong format, damaged weights, a config or shapes that do
not match the expected network) raises one :class:`CheckpointError` naming the file and the problem.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from diffgrasp.config import from_dict, to_dict
from diffgrasp.data import DATA_DIR
from diffgrasp.errors import DiffgraspError
from diffgrasp.io import atomic_write
from diffgrasp.loading import brief, check_format, one_line
from diffgrasp.network.model import GraspNet
from diffgrasp.network.network_config import NetworkConfig

CHECKPOINT_FORMAT = "diffgrasp.network/1"
DEFAULT_CHECKPOINT = ("network", "grasp_net.pt")  # under diffgrasp/data/


class CheckpointError(DiffgraspError):
    """A checkpoint file is missing, corrupt or does not match the expected network; the message names the file."""


@dataclasses.dataclass
class LoadedCheckpoint:
    """A validated checkpoint: the network in eval mode on the requested device, its config and stored dicts."""

    model: torch.nn.Module
    config: NetworkConfig
    metadata: dict[str, Any]
    extra: dict[str, Any] | None
    path: Path


def _shapes(state_dict: dict[str, torch.Tensor]) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in state_dict.items()}


def architecture_hash(config: NetworkConfig, shapes: dict[str, list[int]] | None = None) -> str:
    """sha256 (hex, 16 chars) of the network config and, if given, the state-dict names and shapes."""
    text = json.dumps({"config": to_dict(config), "shapes": shapes or {}}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def state_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 (hex) over the names, dtypes, shapes and raw bytes of every tensor, in sorted name order."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{list(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def default_checkpoint_path() -> Path:
    """Path of the packaged checkpoint (``diffgrasp/data/network/grasp_net.pt``), whether or not it exists."""
    return DATA_DIR.joinpath(*DEFAULT_CHECKPOINT)


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, config: NetworkConfig | None = None,
                    metadata: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights with its config atomically (temp file + rename). Returns the path.

    metadata must be JSON-serialisable; extra may hold tensors, numbers, strings, lists and dicts (what
    ``torch.load(weights_only=True)`` accepts)."""
    config = config or model.config
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    shapes = _shapes(state)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": to_dict(config),
        "architecture_hash": architecture_hash(config, shapes),
        "shapes": shapes,
        "state_dict": state,
        "digest": state_digest(state),
        "metadata": json.loads(json.dumps(metadata or {})),  # plain JSON types only (weights_only loading)
        "extra": extra,
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _load_failure(err: Exception) -> str:
    """A short reason why ``torch.load(weights_only=True)`` failed, without torch's advice to load unsafely."""
    text = str(err)
    if isinstance(err, EOFError):
        return "the file is empty or truncated"
    if isinstance(err, PermissionError):
        return "cannot read it: permission denied"
    if isinstance(err, pickle.UnpicklingError) or "Weights only load failed" in text:
        detail = text.split("WeightsUnpickler error:", 1)[1] if "WeightsUnpickler error:" in text else ""
        detail = one_line(detail.split("Check the documentation", 1)[0].split(" was not an allowed", 1)[0], 100)
        if detail.startswith("Unsupported global"):  # a pickle of foreign objects: name the first one
            return f"it holds pickled objects other than tensors and plain values: {detail.split(': ', 1)[-1]}"
        relay = detail and "weights_only" not in detail and "safe_globals" not in detail
        return "neither a torch archive nor readable pickle data" + (
            f": {detail[0].lower()}{detail[1:]}" if relay else "")
    if ("PytorchStreamReader" in text or "zip archive" in text or isinstance(err, zipfile.BadZipFile | OSError)):
        return "a damaged or truncated torch archive"
    if "magic number" in text:
        return "not a torch file"
    return f"unreadable as a torch file ({type(err).__name__})"


def _check_state(path: Path, state: Any) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{path}: state_dict: expected a non-empty mapping of tensors, got {brief(state)}")
    for name, t in state.items():
        if not isinstance(name, str) or not isinstance(t, torch.Tensor) or t.layout != torch.strided:
            raise CheckpointError(f"{path}: state_dict: entry {brief(name)} is not a dense tensor")
        if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: weights {name} contain NaN or inf (training diverged?)")
    return state


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate the raw checkpoint dict (format, keys, digest, architecture hash) without building a model.

    Every problem is one CheckpointError line naming the file; a file that torch cannot read says
    "not a diffgrasp checkpoint (reason)".
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols of foreign files
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 — any unpickling/zip failure means the file is unusable
        raise CheckpointError(f"{path}: not a diffgrasp checkpoint ({_load_failure(err)})") from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: not a diffgrasp checkpoint (top level is {type(payload).__name__})")
    check_format(payload, path, CHECKPOINT_FORMAT, CheckpointError, what="checkpoint format")
    missing = [k for k in ("config", "architecture_hash", "shapes", "state_dict", "digest") if k not in payload]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    for key in ("metadata", "extra"):
        if payload.get(key) is not None and not isinstance(payload[key], dict):
            raise CheckpointError(f"{path}: {key}: expected a mapping, got {brief(payload[key])}")
    state = _check_state(path, payload["state_dict"])
    if state_digest(state) != payload["digest"]:
        raise CheckpointError(f"{path}: weights are damaged (digest mismatch)")
    if _shapes(state) != payload["shapes"]:
        raise CheckpointError(f"{path}: stored shapes do not match the stored weights")
    try:
        config = from_dict(NetworkConfig, payload["config"], prefix="config.")
    except ValueError as err:
        raise CheckpointError(f"{path}: invalid network config ({err})") from None
    if architecture_hash(config, payload["shapes"]) != payload["architecture_hash"]:
        raise CheckpointError(f"{path}: architecture hash mismatch (config or shapes altered)")
    payload["config"] = config
    return payload


def load_checkpoint(path: str | os.PathLike | None = None, expected_config: NetworkConfig | None = None,
                    device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Load a validated checkpoint (default: the packaged one) into a :class:`GraspNet` in eval mode.

    expected_config: if given, the file's config must equal it (else the error lists the differing fields).
    """
    path = Path(path) if path is not None else default_checkpoint_path()
    if not path.is_file() and path == default_checkpoint_path():
        raise CheckpointError(f"{path}: no trained network checkpoint is packaged; train one with "
                              f"`diffgrasp-train train` and copy its model.pt there, or pass a checkpoint path")
    payload = read_checkpoint(path)
    config: NetworkConfig = payload["config"]
    if expected_config is not None and expected_config != config:
        a, b = to_dict(expected_config), to_dict(config)
        diff = ", ".join(f"{k}: expected {a[k]!r}, file has {b[k]!r}" for k in a if a[k] != b[k])
        raise CheckpointError(f"{path}: network config mismatch ({diff})")
    try:
        with torch.device("meta"):  # shapes first, without memory: an edited config may ask for a huge network
            skeleton = GraspNet(config).state_dict()
    except (RuntimeError, ValueError, TypeError, OverflowError) as err:
        raise CheckpointError(f"{path}: its network config builds no network ({type(err).__name__}: "
                              f"{one_line(str(err), 120)})") from None
    want = _shapes(skeleton)
    if want != payload["shapes"]:
        bad = sorted(set(want) ^ set(payload["shapes"])) or [k for k in want if want[k] != payload["shapes"][k]]
        raise CheckpointError(f"{path}: weights do not fit the network built from its config "
                              f"(first mismatching entries: {', '.join(one_line(b, 60) for b in bad[:3])})")
    dtypes = {k: v.dtype for k, v in skeleton.items()}
    odd = [k for k, v in payload["state_dict"].items() if v.dtype != dtypes[k]]
    if odd:
        raise CheckpointError(f"{path}: weights {odd[0]} are {payload['state_dict'][odd[0]].dtype}, the network "
                              f"expects {dtypes[odd[0]]}")
    model = GraspNet(config)
    model.load_state_dict(payload["state_dict"])
    model.to(device).eval()
    return LoadedCheckpoint(model=model, config=config, metadata=dict(payload.get("metadata") or {}),
                            extra=payload.get("extra"), path=path)


__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "LoadedCheckpoint", "architecture_hash", "default_checkpoint_path",
           "load_checkpoint", "read_checkpoint", "save_checkpoint", "state_digest"]
