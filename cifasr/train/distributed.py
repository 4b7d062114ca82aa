"""Process-group set-up from the environment that ``torchrun`` (or Slurm via torchrun) provides.

One process per device: NCCL on GPUs (``--ngpu 1`` in each process, one GPU each), gloo on CPUs
(``--ngpu 0``: N processes share the machine's cores). A single process (no ``WORLD_SIZE`` or
``WORLD_SIZE=1``) needs no process group at all.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size`` and its ``device``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(ngpu: int, timeout_minutes: int = 30) -> DistInfo:
    """Join the process group described by torchrun's environment variables.

    Args:
        ngpu: GPUs per process group node requested by the user (0: CPU).
        timeout_minutes: collective timeout.

    Raises:
        RuntimeError: GPUs requested but CUDA unavailable, or more local ranks than GPUs.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if ngpu > 0:
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"--ngpu {ngpu} but CUDA is not available; use --ngpu 0 to train on the CPU"
            )
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"local rank {local_rank} but only {torch.cuda.device_count()} GPUs are visible"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(
            backend=backend, timeout=datetime.timedelta(minutes=timeout_minutes)
        )
        logger.info("rank %d/%d joined the %s process group", rank, world_size, backend)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def collective_device() -> torch.device:
    """Where tensors for collectives of the default process group must be: the current GPU for
    NCCL, the CPU otherwise."""
    if dist.is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over processes (returned as a new tensor; identity for one process)."""
    if not info.distributed:
        return value
    out = value.clone()
    dist.all_reduce(out)
    return out


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()
