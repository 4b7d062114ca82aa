"""Pad a list of dataset items into one batch.

A batch is::

    {"utt_id": list[str],
     "speech": (B, T_max, D) float32, zero-padded,   "speech_lengths": (B,) int64 frames,
     "text": (B, L_max) int64, padded with -1,        "text_lengths": (B,) int64,
     "<name>": (B, T2_max, D2) float32, zero-padded,  "<name>_lengths": (B,) int64}

with ``text`` only when the items have it and one ``<name>`` per extra feature scp.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

TEXT_PAD = -1


def pad_arrays(
    arrays: Sequence[np.ndarray], pad_value: float, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (T_i, ...) arrays into (B, T_max, ...) padded with ``pad_value``, plus (B,) lengths."""
    lengths = torch.tensor([a.shape[0] for a in arrays], dtype=torch.long)
    t_max = int(lengths.max()) if len(arrays) else 0
    out = torch.full((len(arrays), t_max, *arrays[0].shape[1:]), pad_value, dtype=dtype)
    for i, a in enumerate(arrays):
        if a.shape[0]:
            out[i, : a.shape[0]] = torch.from_numpy(np.ascontiguousarray(a)).to(dtype)
    return out, lengths


def collate_asr(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch of :class:`cifasr.data.dataset.AsrDataset` items (see the module docstring)."""
    if not items:
        raise ValueError("collate_asr: empty batch")
    batch: dict[str, Any] = {"utt_id": [it["utt_id"] for it in items]}
    batch["speech"], batch["speech_lengths"] = pad_arrays(
        [it["speech"] for it in items], 0.0, torch.float32
    )
    if "text" in items[0]:
        batch["text"], batch["text_lengths"] = pad_arrays(
            [it["text"] for it in items], TEXT_PAD, torch.long
        )
    for name in items[0]:
        if name not in ("utt_id", "speech", "text"):
            batch[name], batch[f"{name}_lengths"] = pad_arrays(
                [it[name] for it in items], 0.0, torch.float32
            )
    return batch
