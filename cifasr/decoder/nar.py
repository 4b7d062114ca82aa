"""A Paraformer-style non-autoregressive decoder over the CIF outputs.

All positions are decoded at once from the CIF outputs alone (no previous tokens)::

    x = Dropout_in(W_in c + PE)          (W_in: C -> D without bias, only when C != D;
                                           PE optional, fairseq sinusoids)
    z = FinalLN(pre-LN layers: non-causal self-attention over the valid CIF positions,
                optional cross-attention to the valid encoder frames, FFN)
    s = W_out [z ; c]                    (only with cif_skip: D + C -> D, no bias, as the AR
                                           decoder's output projection; else s = z)
    logits = W_vocab s                   (D -> V, no bias)

Padding is masked everywhere, so an utterance's logits do not depend on how it was batched.

Glancing (Paraformer's sampler, option ``glancing_ratio`` r > 0; training only): a first pass
without gradient decodes the CIF outputs; for an utterance with n positions decoded wrongly,
floor(r n) of its valid positions, drawn uniformly, get the embedding of their target token in
place of their CIF output (``E y``, E: V x C, learned), and the second pass (the one trained)
reads that mix. Early in training almost every position is wrong, so the decoder sees many target
tokens and learns to use context, as the AR decoder does through teacher forcing; as it improves
it glances less, down to none when the first pass is right. Decoding never glances.
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
        glancing_ratio: r of the glancing sampler (module docstring); 0 turns it off and adds
            no parameters.
        cif_skip: concatenate each CIF output to the last layer's output before the vocabulary
            projection (W_out), as the AR CIF decoder does: a direct path from the acoustics to
            the logits, whose gradient reaches the encoder from the first update.
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
        glancing_ratio: float = 0.0,
        cif_skip: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= glancing_ratio <= 1.0:
            raise ValueError(f"NarDecoder: glancing_ratio must be in [0, 1], got {glancing_ratio}")
        self.glancing_ratio = glancing_ratio
        # E: target token -> a vector in the CIF output space (only with glancing)
        self.token_embed = (
            nn.Embedding(vocab_size, encoder_output_size) if glancing_ratio > 0 else None
        )
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
        self.output_proj: nn.Linear | None = None
        if cif_skip:
            self.output_proj = nn.Linear(attention_dim + encoder_output_size, attention_dim, False)
            nn.init.xavier_uniform_(self.output_proj.weight)  # as the AR decoder's W_out
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
            :class:`DecoderOutput`; ``hidden`` is z (B, L, D), ``states`` is s (z itself
            without ``cif_skip``).
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
        states = hidden
        if self.output_proj is not None:
            states = self.output_proj(torch.cat([hidden, cif_embeds.to(hidden.dtype)], -1))
        return DecoderOutput(self.vocab_proj(states), states, hidden)

    def glance(
        self,
        cif_embeds: torch.Tensor,
        cif_lengths: torch.Tensor,
        targets: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_lengths: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The glancing sampler's decoder input (module docstring); no Python loop over the batch.

        Args:
            cif_embeds: (B, L, C) CIF outputs; cif_lengths: (B,) valid ones.
            targets: (B, L) int64 target token of each CIF position, negative for padding.
            memory, memory_lengths: as :meth:`forward`.
            generator: random source of the drawn positions (default: torch's global one).

        Returns:
            ``(inputs, glanced)``: inputs (B, L, C), the CIF outputs with the drawn positions
            replaced by their target embeddings; glanced (B, L) bool, the replaced positions.
        """
        if self.token_embed is None:
            raise ValueError("NarDecoder.glance needs glancing_ratio > 0 in decoder_conf")
        length = cif_embeds.size(1)
        positions = torch.arange(length, device=cif_embeds.device)
        valid = (targets >= 0) & (positions[None, :] < cif_lengths[:, None])
        with torch.no_grad():
            first = self.forward(cif_embeds, cif_lengths, None, memory, memory_lengths).logits
            wrong = (first.argmax(-1) != targets) & valid
            num = torch.floor(wrong.sum(1).to(torch.float32) * self.glancing_ratio).long()
            # a uniform draw of num[b] valid positions: the num[b] smallest random scores
            # (padding scores 2 and ranks last; num[b] never exceeds the valid positions)
            scores = torch.rand(targets.shape, generator=generator, device=targets.device)
            scores = scores.masked_fill(~valid, 2.0)
            glanced = scores.argsort(dim=1).argsort(dim=1) < num[:, None]
        embedded = self.token_embed(targets.clamp(min=0)).to(cif_embeds.dtype)
        inputs = torch.where(glanced[..., None], embedded, cif_embeds)
        return inputs, glanced
