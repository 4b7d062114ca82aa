"""Plain pre-LN Transformer encoder with optional in-encoder max pooling."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from typeguard import typechecked

from cifasr.encoder.attention import MultiHeadedAttention
from cifasr.encoder.base import SpeechEncoder
from cifasr.encoder.embedding import PositionalEncoding
from cifasr.encoder.layers import PositionwiseFeedForward
from cifasr.encoder.mask import lengths_to_mask
from cifasr.encoder.pooling import check_pooling_layers, max_pool_pairs
from cifasr.encoder.subsampling import build_input_layer
from cifasr.nn import Dropout


class TransformerEncoderLayer(nn.Module):
    """Pre-LN layer (ESPnet ``EncoderLayer`` with ``normalize_before=True``).

    x += dropout(MHSA(LN(x))); x += dropout(FFN(LN(x))).

    Args:
        size: model dimension d.
        attention_heads: attention heads.
        linear_units: FFN inner dimension.
        dropout_rate: dropout in the FFN and on both residual branches.
        attention_dropout_rate: dropout on attention probabilities.
        activation: FFN activation.
    """

    def __init__(
        self,
        size: int,
        attention_heads: int,
        linear_units: int,
        dropout_rate: float,
        attention_dropout_rate: float,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(size)
        self.self_attn = MultiHeadedAttention(attention_heads, size, attention_dropout_rate)
        self.norm2 = nn.LayerNorm(size)
        self.feed_forward = PositionwiseFeedForward(size, linear_units, dropout_rate, activation)
        self.dropout = Dropout(dropout_rate)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, d), (B, T) bool valid mask -> (B, T, d)."""
        x = x + self.dropout(self.self_attn(self.norm1(x), mask))
        return x + self.dropout(self.feed_forward(self.norm2(x)))


class TransformerEncoder(SpeechEncoder):
    """Transformer encoder (registry name ``"transformer"``).

    Input layer (``INPUT_LAYERS``, absolute sinusoidal positions added to ``x * sqrt(d)``), then
    ``num_blocks`` pre-LN layers, max pooling after the layers in ``pooling_layers`` (same rules
    as the Conformer: see :func:`cifasr.encoder.pooling.max_pool_pairs`), final LayerNorm.

    Args:
        input_size: feature dimension.
        output_size: model dimension d.
        attention_heads: attention heads.
        linear_units: FFN inner dimension.
        num_blocks: number of layers.
        dropout_rate: dropout in FFNs, on residual branches and (conv2d_cif) on the input.
        positional_dropout_rate: dropout after adding positions ("conv2d", "linear" input
            layers; "conv2d_cif" uses ``dropout_rate`` after its input Linear instead).
        attention_dropout_rate: dropout on attention probabilities.
        input_layer: "conv2d_cif" (2x), "conv2d" (4x) or "linear" (1x).
        activation: FFN activation.
        pooling_layers: 1-based ids of the layers after which to max-pool (0: the input layer's
            output, before layer 1); None or [] for none.
        conv_channels: channels of the "conv2d_cif" Conv2d.
        max_len: frames precomputed by the positional encoding (longer inputs extend it).
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        output_size: int = 256,
        attention_heads: int = 4,
        linear_units: int = 2048,
        num_blocks: int = 12,
        dropout_rate: float = 0.1,
        positional_dropout_rate: float = 0.1,
        attention_dropout_rate: float = 0.1,
        input_layer: str = "conv2d_cif",
        activation: str = "relu",
        pooling_layers: Sequence[int] | None = (5, 10),
        conv_channels: int = 128,
        max_len: int = 6000,
    ) -> None:
        super().__init__()
        self._output_size = output_size
        self.pooling_layers = check_pooling_layers(pooling_layers, num_blocks)
        self.embed = build_input_layer(
            input_layer,
            input_size,
            output_size,
            PositionalEncoding,
            dropout_rate,
            positional_dropout_rate,
            conv_channels,
            max_len,
        )
        self.encoders = nn.ModuleList(
            TransformerEncoderLayer(
                output_size,
                attention_heads,
                linear_units,
                dropout_rate,
                attention_dropout_rate,
                activation,
            )
            for _ in range(num_blocks)
        )
        self.after_norm = nn.LayerNorm(output_size)

    def forward(self, xs: torch.Tensor, xs_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode a padded batch.

        Args:
            xs: (B, T, input_size) features.
            xs_lens: (B,) valid frames.

        Returns:
            (B, T', d) encoder output, exactly zero beyond the lengths, and (B,) int64 lengths
            in output frames. An utterance too short for one output frame (under 3 input frames
            with "conv2d_cif") gets length 0 and zeros, not NaN; the recipe's length filter
            drops such utterances before training.
        """
        (x, _), lens = self.embed(xs, xs_lens.to(xs.device, torch.long))
        mask = lengths_to_mask(lens, x.size(1))
        if 0 in self.pooling_layers:
            x, lens, mask = max_pool_pairs(x, lens, mask)
        for i, layer in enumerate(self.encoders, start=1):
            x = layer(x, mask)
            if i in self.pooling_layers:
                x, lens, mask = max_pool_pairs(x, lens, mask)
        x = self.after_norm(x)
        return x.masked_fill(~mask[:, :, None], 0.0), lens
