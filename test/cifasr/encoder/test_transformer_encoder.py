"""TransformerEncoder: parameter count by formula, lengths, pooling, padding."""

from __future__ import annotations

import torch

from cifasr.encoder import TransformerEncoder

IDIM = 20


def test_parameter_count_follows_the_formula() -> None:
    d, heads, units, blocks, ch = 16, 2, 32, 3, 4
    enc = TransformerEncoder(
        IDIM, output_size=d, attention_heads=heads, linear_units=units, num_blocks=blocks,
        conv_channels=ch, pooling_layers=None,
    )  # fmt: skip
    front = (ch * 9 + ch) + (ch * ((IDIM - 1) // 2) * d + d) + (d * d + d)  # conv, out, input
    layer = 2 * (2 * d) + 4 * (d * d + d) + (d * units + units + units * d + d)  # LNs, MHA, FFN
    expected = front + blocks * layer + 2 * d  # + final LayerNorm
    assert sum(p.numel() for p in enc.parameters()) == expected == 7608


def test_lengths_match_the_conformer_rules(padded_batch) -> None:
    enc = TransformerEncoder(
        IDIM, output_size=16, attention_heads=2, linear_units=32, num_blocks=3,
        pooling_layers=[1, 2], conv_channels=4,
    ).eval()  # fmt: skip
    with torch.no_grad():
        out, lens = enc(*padded_batch([426, 427, 435, 11]))
    assert lens.tolist() == [53, 54, 55, 2]
    assert out.shape == (4, 55, 16)


def test_no_pooling_keeps_the_subsampled_rate(padded_batch) -> None:
    enc = TransformerEncoder(
        IDIM, output_size=16, attention_heads=2, linear_units=32, num_blocks=2,
        pooling_layers=None, input_layer="conv2d",
    ).eval()  # fmt: skip
    with torch.no_grad():
        _, lens = enc(*padded_batch([100, 57]))
    assert lens.tolist() == [24, 13]
