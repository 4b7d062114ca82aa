"""Checkpoint files: atomic writes, safe loads, averaging.

Every file is written to a temporary name beside its target and renamed over it, so a process
killed mid-write leaves the previous checkpoint intact. Every load uses
``torch.load(..., weights_only=True)``: checkpoints hold tensors and plain Python containers only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """Load a checkpoint written by cifasr (weights only: no code is unpickled).

    Raises:
        FileNotFoundError: naming the path.
        RuntimeError: the file is corrupt or holds objects other than tensors and containers.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for corrupt files
        raise RuntimeError(f"{path}: cannot load the checkpoint ({e})") from e


def model_state(checkpoint: Mapping[str, Any]) -> Mapping[str, torch.Tensor]:
    """The model state dict of a full training checkpoint or of a ``{N}epoch.pth`` file."""
    return (
        checkpoint["model"] if "model" in checkpoint and "optimizer" in checkpoint else checkpoint
    )


def average_state_dicts(states: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of model state dicts (fairseq's ``average_checkpoints``).

    Floating tensors (BatchNorm running statistics included) are averaged in float64 and cast
    back, so averaging identical states returns them bit for bit; integer tensors (such as
    ``num_batches_tracked``) get the floor of their mean.

    Raises:
        ValueError: no states, or states with different keys or shapes.
    """
    if not states:
        raise ValueError("average_state_dicts: nothing to average")
    keys = list(states[0].keys())
    for i, s in enumerate(states[1:], 1):
        if list(s.keys()) != keys:
            diff = set(keys) ^ set(s.keys())
            raise ValueError(f"state {i} has different keys from state 0: {sorted(diff)[:5]}")
    out: dict[str, torch.Tensor] = {}
    n = len(states)
    for k in keys:
        first = states[0][k]
        if any(s[k].shape != first.shape for s in states):
            raise ValueError(f"'{k}' has different shapes across the states")
        if first.is_floating_point():
            acc = torch.zeros_like(first, dtype=torch.float64)
            for s in states:
                acc += s[k].to(torch.float64)
            out[k] = (acc / n).to(first.dtype)
        else:
            acc = torch.zeros_like(first, dtype=torch.int64)
            for s in states:
                acc += s[k].to(torch.int64)
            out[k] = torch.div(acc, n, rounding_mode="floor").to(first.dtype)
    return out


def average_checkpoints(paths: Sequence[str | Path]) -> dict[str, torch.Tensor]:
    """The averaged model state of checkpoint files (training or ``{N}epoch.pth`` files)."""
    logger.info("averaging %d checkpoints: %s", len(paths), ", ".join(str(p) for p in paths))
    return average_state_dicts([model_state(load_checkpoint(p)) for p in paths])
