"""DDP set-up: torchrun's environment → a process group (gloo on CPU, nccl on CUDA); plain single process otherwise."""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist


@dataclasses.dataclass(frozen=True)
class DistInfo:
    """rank / world_size of this process; ``active`` when a process group was initialised (torchrun, world > 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    active: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str) -> tuple[DistInfo, torch.device]:
    """Read torchrun's RANK/WORLD_SIZE/LOCAL_RANK; with WORLD_SIZE > 1 start the process group.

    device: "cpu", "cuda" or "cuda:N"; under torchrun a CUDA device becomes cuda:LOCAL_RANK.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' requested but CUDA is not available")
        if world > 1:
            dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if world <= 1:
        return DistInfo(), dev
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank=rank, world_size=world, local_rank=local, active=True), dev


def cleanup_distributed(info: DistInfo) -> None:
    if info.active and dist.is_initialized():
        dist.destroy_process_group()


__all__ = ["DistInfo", "cleanup_distributed", "setup_distributed"]
