"""Length <-> mask conversions shared by the encoder modules."""

from __future__ import annotations

import torch


def lengths_to_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Valid-frame mask from lengths.

    Args:
        lengths: (B,) number of valid frames per utterance.
        max_len: T, the padded length of the batch.

    Returns:
        (B, T) bool, True on valid frames.
    """
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]
