"""Conformer encoder with optional in-encoder max pooling (docs/architecture.md §3)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from typeguard import typechecked

from cifasr.encoder.attention import RelPositionMultiHeadedAttention
from cifasr.encoder.base import SpeechEncoder
from cifasr.encoder.embedding import RelPositionalEncoding
from cifasr.encoder.layers import ConvolutionModule, PositionwiseFeedForward
from cifasr.encoder.mask import lengths_to_mask
from cifasr.encoder.pooling import check_pooling_layers, max_pool_pairs
from cifasr.encoder.subsampling import build_input_layer
from cifasr.nn import Dropout


class ConformerEncoderLayer(nn.Module):
    """One macaron Conformer layer (ESPnet ``EncoderLayer``, docs/architecture.md §3.2).

    x += s * FFN1(LN(x)); x += MHSA(LN(x)); x += Conv(LN(x)); x += s * FFN2(LN(x)); x = LN(x),
    with s = 0.5 (macaron) or 1 and no FFN1 (not macaron); dropout on every residual branch.

    Args:
        size: model dimension d.
        attention_heads: heads of the relative-position self-attention.
        linear_units: FFN inner dimension.
        dropout_rate: dropout inside the FFNs and on every residual branch.
        attention_dropout_rate: dropout on the attention probabilities.
        cnn_module_kernel: depthwise conv kernel.
        macaron_style: two half-step FFNs instead of one.
        activation: FFN and conv-module activation.
        mask_conv_padding: zero padded frames before the depthwise conv (see ConvolutionModule).
    """

    def __init__(
        self,
        size: int,
        attention_heads: int,
        linear_units: int,
        dropout_rate: float,
        attention_dropout_rate: float,
        cnn_module_kernel: int,
        macaron_style: bool = True,
        activation: str = "swish",
        mask_conv_padding: bool = True,
    ) -> None:
        super().__init__()
        self.ff_scale = 0.5 if macaron_style else 1.0
        self.mask_conv_padding = mask_conv_padding
        if macaron_style:
            self.norm_ff_macaron = nn.LayerNorm(size)
            self.feed_forward_macaron = PositionwiseFeedForward(
                size, linear_units, dropout_rate, activation
            )
        else:
            self.norm_ff_macaron = None
            self.feed_forward_macaron = None
        self.norm_mha = nn.LayerNorm(size)
        self.self_attn = RelPositionMultiHeadedAttention(
            attention_heads, size, attention_dropout_rate
        )
        self.norm_conv = nn.LayerNorm(size)
        self.conv_module = ConvolutionModule(size, cnn_module_kernel, activation)
        self.norm_ff = nn.LayerNorm(size)
        self.feed_forward = PositionwiseFeedForward(size, linear_units, dropout_rate, activation)
        self.norm_final = nn.LayerNorm(size)
        self.dropout = Dropout(dropout_rate)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, pos_emb: torch.Tensor) -> torch.Tensor:
        """(B, T, d), (B, T) bool valid mask, (1, 2T-1, d) relative embeddings -> (B, T, d)."""
        if self.feed_forward_macaron is not None:
            x = x + self.ff_scale * self.dropout(self.feed_forward_macaron(self.norm_ff_macaron(x)))
        x = x + self.dropout(self.self_attn(self.norm_mha(x), mask, pos_emb))
        conv_mask = mask if self.mask_conv_padding else None
        x = x + self.dropout(self.conv_module(self.norm_conv(x), conv_mask))
        x = x + self.ff_scale * self.dropout(self.feed_forward(self.norm_ff(x)))
        return self.norm_final(x)


class ConformerEncoder(SpeechEncoder):
    """Conformer encoder of the CIF model (registry name ``"conformer"``).

    Input layer (``INPUT_LAYERS``), then ``num_blocks`` macaron Conformer layers with ESPnet
    "latest" relative-position attention, optionally halving the frame rate by max pooling after
    the layers listed in ``pooling_layers`` (relative positions are recomputed for the new
    length). There is no LayerNorm after the stack: each layer ends with one
    (docs/architecture.md §3.2).

    The defaults are the original model: ``ConformerEncoder(80)`` has 40,862,720 parameters and
    subsamples 8x (conv 2x, pooling after layers 5 and 10), e.g. 426 -> 212 -> 106 -> 53 frames.

    Deliberate differences from the original, each making an utterance's output independent of
    the padding of its batch (in eval mode; BatchNorm statistics in training mode always see the
    whole batch):

    - pooling excludes padded frames from the max and keeps the last frame of odd lengths
      (see :func:`cifasr.encoder.pooling.max_pool_pairs`); pooled length ceil(L / 2);
    - ``mask_conv_padding=True`` zeroes padded frames before the depthwise conv;
      ``mask_conv_padding=False`` reproduces the original, where padding leaks into the last
      ``cnn_module_kernel // 2`` valid frames.

    Args:
        input_size: feature dimension (80 for fbank).
        output_size: model dimension d.
        attention_heads: attention heads (d_k = d / heads).
        linear_units: FFN inner dimension.
        num_blocks: number of Conformer layers.
        dropout_rate: dropout in FFNs, on residual branches and (conv2d_cif) on the input.
        positional_dropout_rate: ESPnet positional dropout of the "conv2d" and "linear" input
            layers (scaled input and relative embeddings); the original front end "conv2d_cif"
            has none and does not use it.
        attention_dropout_rate: dropout on attention probabilities.
        input_layer: "conv2d_cif" (original, 2x), "conv2d" (ESPnet, 4x) or "linear" (1x).
        cnn_module_kernel: depthwise conv kernel (odd).
        macaron_style: macaron FFN pair (True) or a single FFN.
        activation: FFN and conv-module activation ("swish", "relu", "gelu").
        pooling_layers: 1-based ids of the layers after which to max-pool (0: the input layer's
            output, before layer 1); None or [] for none.
        mask_conv_padding: zero padded frames before the depthwise conv.
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
        num_blocks: int = 15,
        dropout_rate: float = 0.1,
        positional_dropout_rate: float = 0.1,
        attention_dropout_rate: float = 0.1,
        input_layer: str = "conv2d_cif",
        cnn_module_kernel: int = 15,
        macaron_style: bool = True,
        activation: str = "swish",
        pooling_layers: Sequence[int] | None = (5, 10),
        mask_conv_padding: bool = True,
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
            RelPositionalEncoding,
            dropout_rate,
            positional_dropout_rate,
            conv_channels,
            max_len,
        )
        self.encoders = nn.ModuleList(
            ConformerEncoderLayer(
                output_size,
                attention_heads,
                linear_units,
                dropout_rate,
                attention_dropout_rate,
                cnn_module_kernel,
                macaron_style,
                activation,
                mask_conv_padding,
            )
            for _ in range(num_blocks)
        )

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
        (x, pos_emb), lens = self.embed(xs, xs_lens.to(xs.device, torch.long))
        mask = lengths_to_mask(lens, x.size(1))
        if 0 in self.pooling_layers:
            x, lens, mask = max_pool_pairs(x, lens, mask)
            pos_emb = self.embed.pos_enc.position_embedding(x.size(1), x)
        for i, layer in enumerate(self.encoders, start=1):
            x = layer(x, mask, pos_emb)
            if i in self.pooling_layers:
                x, lens, mask = max_pool_pairs(x, lens, mask)
                pos_emb = self.embed.pos_enc.position_embedding(x.size(1), x)
        return x.masked_fill(~mask[:, :, None], 0.0), lens
