"""The dense CIF of the exported graph equals cifasr.cif.cif at inference (in PyTorch; the
onnxruntime graph is checked in test/cifasr/export)."""

from __future__ import annotations

import pytest
import torch

from cifasr.cif import cif
from cifasr.cif.dense import cif_dense


def _assert_equal(hidden, alphas, lengths, threshold=0.99, tail=None) -> None:
    want = cif(hidden, alphas, lengths, threshold, tail)
    tail_t = torch.tensor(float("inf") if tail is None else tail, dtype=torch.float64)
    got = cif_dense(hidden, alphas, lengths, threshold, tail_t)
    assert torch.equal(got.token_lengths, want.token_lengths)
    assert torch.equal(got.fire_frames, want.fire_frames)
    assert got.embeds.shape == want.embeds.shape
    torch.testing.assert_close(got.embeds, want.embeds, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("tail", [None, 0.0, 0.4, 0.5])
@pytest.mark.parametrize("threshold", [0.99, 1.0])
def test_random_batches_equal_cif(tail, threshold) -> None:
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        b, t = (
            int(torch.randint(1, 4, (), generator=gen)),
            int(torch.randint(1, 30, (), generator=gen)),
        )
        scale = 2.5 * float(torch.rand((), generator=gen))  # some frames above 1
        alphas = torch.rand(b, t, generator=gen) * scale
        lengths = torch.randint(1, t + 1, (b,), generator=gen)
        lengths[0] = t
        _assert_equal(torch.randn(b, t, 6, generator=gen), alphas, lengths, threshold, tail)


def test_two_fires_in_one_frame_silence_and_nan_padding() -> None:
    hidden = torch.randn(3, 6, 4)
    hidden[1, 3:] = float("nan")  # padded frames are never read
    alphas = torch.tensor(
        [[0.3, 2.5, 0.1, 1.7, 0.0, 0.2], [0.6, 0.6, 0.6, 9.0, 9.0, 9.0], [0.0] * 6]
    )
    lengths = torch.tensor([6, 3, 6])
    for tail in (None, 0.4):
        _assert_equal(hidden, alphas, lengths, tail=tail)
