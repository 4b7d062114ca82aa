"""A Paraformer-style non-autoregressive decoder over the CIF outputs.

All positions are decoded at once from the CIF outputs alone (no previous tokens)::

    x = Dropout_in(W_in c + PE)          (W_in: C -> D without bias, only when C != D;
                                           PE optional, fairseq sinusoids)
    z = FinalLN(pre-LN layers: non-causal self-attention over the valid CIF positions,
                optional cross-attention to the valid encoder frames, FFN)
    logits = W_vocab z                   (D -> V, no bias)

Padding is masked everywhere, so an utterance's logits do not depend on how it was batched.
"""

from __future__ import annotations

import torch
from torch import nn
from typeguard import typechecked

from cifasr.decoder.attention import valid_key_mask
from cifasr.decoder.layers import TransformerStack
from cifasr.decoder.outputs import DecoderOutput
from cifasr.decoder.positional import SinusoidalPositions
from cifasr.nn import Dropout


class NarDecoder(nn.Module):
    """Non-autoregressive CIF decoder; registry name ``nar``.

    Args:
        vocab_size: V.
        encoder_output_size: CIF output and encoder output size C.
        attention_dim: model size D.
        attention_heads: attention heads.
        linear_units: FFN inner size.
        num_blocks: layers.
        dropout_rate: dropout after each sub-layer.
        attention_dropout_rate: dropout on attention probabilities.
        activation_dropout_rate: dropout after the FFN ReLU.
        input_dropout_rate: dropout on the layer input.
        src_attention: cross-attend to the encoder output (``memory``) in every layer.
        positional_embedding: add fairseq sinusoidal positions to the input (the self-attention
            is otherwise blind to token order).
        max_len: positions whose sinusoids are precomputed.
    """

    autoregressive = False

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
        attention_dim: int = 256,
        attention_heads: int = 4,
        linear_units: int = 2048,
        num_blocks: int = 6,
        dropout_rate: float = 0.1,
        attention_dropout_rate: float = 0.1,
        activation_dropout_rate: float = 0.1,
        input_dropout_rate: float = 0.1,
        src_attention: bool = True,
        positional_embedding: bool = True,
        max_len: int = 1024,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.src_attention = src_attention
        self.input_proj: nn.Module = (
            nn.Linear(encoder_output_size, attention_dim, bias=False)
            if encoder_output_size != attention_dim
            else nn.Identity()
        )
        self.positions = (
            SinusoidalPositions(attention_dim, max_len) if positional_embedding else None
        )
        self.input_dropout = Dropout(input_dropout_rate)
        self.transformer = TransformerStack(
            attention_dim,
            attention_heads,
            linear_units,
            num_blocks,
            dropout_rate,
            attention_dropout_rate,
            activation_dropout_rate,
            memory_dim=encoder_output_size if src_attention else None,
        )
        self.vocab_proj = nn.Linear(attention_dim, vocab_size, bias=False)
        nn.init.normal_(self.vocab_proj.weight, mean=0.0, std=attention_dim**-0.5)

    def forward(
        self,
        cif_embeds: torch.Tensor,
        cif_lengths: torch.Tensor,
        prev_tokens: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        memory_lengths: torch.Tensor | None = None,
    ) -> DecoderOutput:
        """Decode all positions in parallel.

        Args:
            cif_embeds: (B, L, C) CIF outputs.
            cif_lengths: (B,) valid CIF outputs.
            prev_tokens: ignored (non-autoregressive); accepted for a uniform decoder call.
            memory: (B, T, C) encoder output; required when ``src_attention``.
            memory_lengths: (B,) valid encoder frames; required with ``memory``.

        Returns:
            :class:`DecoderOutput`; ``states`` and ``hidden`` are both z (B, L, D).
        """
        length = cif_embeds.size(1)
        memory_mask = None
        if self.src_attention:
            if memory is None or memory_lengths is None:
                raise ValueError(
                    "NarDecoder(src_attention=True) needs memory (B, T, C) and memory_lengths "
                    "(B,): pass the encoder output, or set src_attention: false in decoder_conf"
                )
            memory_mask = valid_key_mask(memory_lengths, memory.size(1))
        x = self.input_proj(cif_embeds)
        if self.positions is not None:
            x = x + self.positions(length).to(x.dtype)
        key_mask = valid_key_mask(cif_lengths, length)
        hidden = self.transformer(
            self.input_dropout(x),
            causal=False,
            key_mask=key_mask,
            memory=memory,
            memory_mask=memory_mask,
        )
        return DecoderOutput(self.vocab_proj(hidden), hidden, hidden)
