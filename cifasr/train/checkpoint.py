"""Checkpoint files: atomic writes, safe loads, averaging, token-list fingerprints.

Every file is written to a temporary name beside its target and renamed over it, so a process
killed mid-write leaves the previous checkpoint intact (and a leftover temporary file, removed
by :func:`remove_stale_temp_files` when the next run starts). Every load uses
``torch.load(..., weights_only=True)``: checkpoints hold tensors and plain Python containers only.

A model's output layer and embeddings are indexed by token id, so weights trained with one token
list are wrong, silently, with another list of the same size in another order.
:func:`token_list_hash` fingerprints a list; ``checkpoint.pth`` records it and the trainer
refuses to resume or initialise from weights of another list.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from cifasr.utils.config import ConfigError, load_config

logger = logging.getLogger(__name__)


class TokenListMismatch(RuntimeError):
    """Weights were trained with another token list than the one they are to be used with."""


TEMP_FILE = re.compile(r"^\..+\.tmp\d+$")


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


def remove_stale_temp_files(directory: str | Path) -> list[Path]:
    """Delete the temporary files that :func:`save_atomic` left behind in ``directory`` when a
    process was killed mid-write. Call it only while no other process writes there (the
    experiment lock). Returns the removed paths."""
    removed = []
    for path in sorted(Path(directory).glob(".*.tmp*")):
        if path.is_file() and TEMP_FILE.match(path.name):
            path.unlink()
            removed.append(path)
    if removed:
        logger.info(
            "removed %d temporary file(s) of an interrupted save: %s",
            len(removed),
            ", ".join(p.name for p in removed),
        )
    return removed


def token_list_hash(tokens: Sequence[str]) -> str:
    """SHA-1 (hex) of a token list in id order: equal lists, and only they, share it."""
    return hashlib.sha1("\n".join(tokens).encode("utf-8")).hexdigest()


def token_list_difference(old: Sequence[str], new: Sequence[str]) -> str:
    """A short description of how two token lists differ (sizes, first differing id)."""
    if len(old) != len(new):
        return f"{len(old)} tokens vs {len(new)}"
    for i, (a, b) in enumerate(zip(old, new)):
        if a != b:
            return f"both {len(old)} tokens, but id {i} is '{a}' in one and '{b}' in the other"
    return "identical"


def saved_token_list(
    path: str | Path, checkpoint: Mapping[str, Any]
) -> tuple[str | None, list[str] | None, str]:
    """The token list a checkpoint file was trained with, as far as it can be known.

    ``checkpoint.pth`` records its hash; a model file (``{N}epoch.pth``, an average, a best-model
    link) has the ``config.yaml`` of its experiment directory beside it.

    Args:
        path: the checkpoint file.
        checkpoint: its loaded content.

    Returns:
        (hash or None when unknown, the tokens when a config gave them, where they came from).
    """
    if isinstance(checkpoint.get("token_list_sha1"), str):
        return checkpoint["token_list_sha1"], None, str(path)
    for config_path in dict.fromkeys(
        [Path(path).parent / "config.yaml", Path(path).resolve().parent / "config.yaml"]
    ):
        if not config_path.is_file():
            continue
        try:
            config, _ = load_config(config_path)
        except ConfigError:
            continue
        tokens = config.get("token_list")
        if isinstance(tokens, list) and all(isinstance(t, str) for t in tokens):
            return token_list_hash(tokens), tokens, str(config_path)
    return None, None, f"{path} (no token list recorded, no config.yaml beside it)"


def check_token_list(
    path: str | Path, checkpoint: Mapping[str, Any], tokens: Sequence[str]
) -> bool:
    """Check that a checkpoint was trained with ``tokens``.

    Returns:
        True when checked and equal, False when the checkpoint's token list is unknown.

    Raises:
        TokenListMismatch: it was trained with another token list (naming the difference).
    """
    saved_hash, saved_tokens, source = saved_token_list(path, checkpoint)
    if saved_hash is None:
        return False
    if saved_hash == token_list_hash(tokens):
        return True
    detail = (
        token_list_difference(saved_tokens, tokens)
        if saved_tokens is not None
        else f"sha1 {saved_hash[:12]} vs {token_list_hash(tokens)[:12]}"
    )
    raise TokenListMismatch(
        f"{path} was trained with another token list ({source}; {detail}): its output and "
        f"embedding rows would stand for other tokens"
    )
