"""The decoder's positions are fairseq's SinusoidalPositionalEmbedding with padding_idx 1."""

import math

import numpy as np
import pytest
import torch

from cifasr.decoder.positional import SinusoidalPositions


def fairseq_rows(first: int, count: int, dim: int) -> np.ndarray:
    """fairseq get_embedding(), rows for positions first..first+count-1, written out again."""
    half = dim // 2
    step = math.log(10000) / (half - 1)
    freqs = np.exp(np.arange(half) * -step)
    rows = []
    for p in range(first, first + count):
        row = [math.sin(p * f) for f in freqs] + [math.cos(p * f) for f in freqs]
        if dim % 2:
            row.append(0.0)
        rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize("dim", [256, 7])
def test_first_step_is_fairseq_position_2_with_sin_cos_halves(dim: int) -> None:
    table = SinusoidalPositions(dim, max_len=16)(10).numpy()
    np.testing.assert_allclose(table, fairseq_rows(2, 10, dim), atol=1e-6)


def test_steps_beyond_max_len_are_computed_not_refused() -> None:
    positions = SinusoidalPositions(32, max_len=4)
    np.testing.assert_allclose(positions(3, start=5).numpy(), fairseq_rows(7, 3, 32), atol=1e-5)
    np.testing.assert_allclose(positions(9).numpy(), fairseq_rows(2, 9, 32), atol=1e-5)


def test_positions_are_not_saved_in_checkpoints() -> None:
    assert "table" not in SinusoidalPositions(8).state_dict()
    assert torch.equal(SinusoidalPositions(8, max_len=3)(2), SinusoidalPositions(8)(2))
