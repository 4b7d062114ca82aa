"""Fixtures of the encoder tests: a tiny configuration and padded batches with garbage padding."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

IDIM = 20  # feature dimension of the tiny configuration


@pytest.fixture
def small() -> dict:
    """Tiny but complete encoder_conf: every module type, two poolings, odd conv kernel."""
    return {
        "output_size": 16,
        "attention_heads": 2,
        "linear_units": 32,
        "num_blocks": 3,
        "cnn_module_kernel": 5,
        "conv_channels": 4,
        "pooling_layers": [1, 2],
    }


def _padded_batch(lengths: list[int], idim: int = IDIM) -> tuple[torch.Tensor, torch.Tensor]:
    t = max(lengths)
    xs = torch.randn(len(lengths), t, idim)
    for i, n in enumerate(lengths):
        xs[i, n:] = 10.0 * torch.randn(t - n, idim)
    return xs, torch.tensor(lengths)


@pytest.fixture
def padded_batch() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """lengths -> random features (B, max(lengths), 20) whose padding is large garbage, and
    the (B,) lengths."""
    return _padded_batch
