"""The original CIF autoregressive decoder (docs/architecture.md §6): no cross-attention; the
acoustics enter by concatenation with the CIF outputs.

Step t (0-based, L steps, CIF outputs c_0..c_{L-1}, previous token p_t, c_{-1} = 0)::

    x_t = W_in [e * Emb(p_t) ; c_{t-1}] + PE(t)          (W_in: D + C -> D, no bias)
    z   = FinalLN(causal pre-LN Transformer(Dropout_in(x)))
    s_t = W_out [z_t ; c_t]                              (W_out: D + C -> D, no bias, no activation)
    logits_t = W_vocab s_t                               (W_vocab: D -> V, no bias)

With the defaults and V = 4234 it has exactly 5,060,608 parameters, like the original.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from typeguard import typechecked

from cifasr.decoder.kv_cache import KVCache
from cifasr.decoder.layers import TransformerStack
from cifasr.decoder.outputs import DecoderOutput
from cifasr.decoder.positional import SinusoidalPositions
from cifasr.nn import Dropout


@dataclass
class CifArState:
    """Incremental state of :class:`CifArDecoder` for N hypotheses.

    The CIF-dependent parts of W_in and W_out are computed once per utterance (U rows) and read
    through ``row_of`` so that beam reordering never copies them.

    Attributes:
        cache: the self-attention key/value caches (N rows).
        input_part: (U, S, D) ``W_in[:, D:] c_{t-1} + PE(t)`` for every step t.
        output_part: (U, S, D) ``W_out[:, D:] c_t`` for every step t.
        row_of: (N,) which utterance row each hypothesis reads.
    """

    cache: KVCache
    input_part: torch.Tensor
    output_part: torch.Tensor
    row_of: torch.Tensor


class CifArDecoder(nn.Module):
    """Autoregressive CIF decoder; registry name ``cif_ar``.

    Args:
        vocab_size: V (ESPnet ids: ``<blank>`` 0, ``<unk>`` 1, ``<sos/eos>`` V - 1).
        encoder_output_size: CIF output size C.
        attention_dim: model size D (also the token embedding size).
        attention_heads: self-attention heads.
        linear_units: FFN inner size.
        num_blocks: Transformer layers.
        dropout_rate: dropout after each sub-layer (original 0.2).
        attention_dropout_rate: dropout on attention probabilities (original 0.2).
        activation_dropout_rate: dropout after the FFN ReLU (original 0.2).
        input_dropout_rate: dropout on x_t before the layers (original 0.1, fairseq ``--dropout``).
        embed_scale: multiplier e of the token embedding; None means sqrt(attention_dim) (16).
        max_len: positions whose sinusoids are precomputed (longer ones are computed on demand).
    """

    autoregressive = True

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
        attention_dim: int = 256,
        attention_heads: int = 4,
        linear_units: int = 2048,
        num_blocks: int = 2,
        dropout_rate: float = 0.2,
        attention_dropout_rate: float = 0.2,
        activation_dropout_rate: float = 0.2,
        input_dropout_rate: float = 0.1,
        embed_scale: float | None = None,
        max_len: int = 1024,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.cif_dim = encoder_output_size
        self.dim = attention_dim
        self.embed_scale = math.sqrt(attention_dim) if embed_scale is None else embed_scale
        self.embed = nn.Embedding(vocab_size, attention_dim)
        nn.init.normal_(self.embed.weight, mean=0.0, std=attention_dim**-0.5)
        self.input_proj = nn.Linear(attention_dim + encoder_output_size, attention_dim, bias=False)
        self.positions = SinusoidalPositions(attention_dim, max_len)
        self.input_dropout = Dropout(input_dropout_rate)
        self.transformer = TransformerStack(
            attention_dim,
            attention_heads,
            linear_units,
            num_blocks,
            dropout_rate,
            attention_dropout_rate,
            activation_dropout_rate,
        )
        self.output_proj = nn.Linear(attention_dim + encoder_output_size, attention_dim, bias=False)
        self.vocab_proj = nn.Linear(attention_dim, vocab_size, bias=False)
        nn.init.normal_(self.vocab_proj.weight, mean=0.0, std=attention_dim**-0.5)
        # The original initialises both concatenation projections with xavier_uniform_.
        nn.init.xavier_uniform_(self.input_proj.weight)
        nn.init.xavier_uniform_(self.output_proj.weight)

    def forward(
        self,
        cif_embeds: torch.Tensor,
        cif_lengths: torch.Tensor,
        prev_tokens: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_lengths: torch.Tensor | None = None,
    ) -> DecoderOutput:
        """Teacher-forced pass over all L positions.

        Args:
            cif_embeds: (B, L, C) CIF outputs c_0..c_{L-1}, already truncated by the model to
                L = min(#CIF, max target length).
            cif_lengths: (B,) valid positions. Not needed for the computation: attention is
                causal, so valid positions never see padding (the loss masks the padded ones).
            prev_tokens: (B, L) int64 ``[<sos/eos>, y1 .. y_{L-1}]``; padding may hold any id.
            memory, memory_lengths: ignored (this decoder has no cross-attention); accepted so
                every decoder takes the same arguments.

        Returns:
            :class:`DecoderOutput` with logits (B, L, V), states s (B, L, D), hidden z (B, L, D).
        """
        b, length, c = cif_embeds.shape
        if prev_tokens.shape != (b, length):
            raise ValueError(
                f"prev_tokens {tuple(prev_tokens.shape)} must be (B, L) = {(b, length)} like "
                f"cif_embeds {tuple(cif_embeds.shape)}; truncate both to min(#CIF, target length)"
            )
        prev_cif = F.pad(cif_embeds, (0, 0, 1, 0))[:, :length]  # c_{t-1}, with c_{-1} = 0
        x = self.input_proj(torch.cat([self.embed_scale * self.embed(prev_tokens), prev_cif], -1))
        x = self.input_dropout(x + self.positions(length).to(x.dtype))
        hidden = self.transformer(x, causal=True)
        states = self.output_proj(torch.cat([hidden, cif_embeds.to(hidden.dtype)], -1))
        return DecoderOutput(self.vocab_proj(states), states, hidden)

    # ------------------------------------------------------------------ incremental decoding
    def init_state(self, cif_embeds: torch.Tensor, cif_lengths: torch.Tensor) -> CifArState:
        """State for decoding ``cif_embeds`` step by step.

        Args:
            cif_embeds: (N, S, C) CIF outputs; S bounds the number of steps.
            cif_lengths: (N,) valid CIF outputs. Steps beyond an utterance's length still run
                (on zero padding); the search ignores their outputs.

        Returns:
            A :class:`CifArState` with N rows. ``reorder_state`` may change the row count, e.g.
            to expand B utterances into B * beam hypotheses without copying the CIF parts.
        """
        n, s, c = cif_embeds.shape
        if c != self.cif_dim:
            raise ValueError(f"cif_embeds have size {c}, the decoder expects {self.cif_dim}")
        input_part, output_part = self.cif_parts(cif_embeds)
        cache = self.transformer.allocate_cache(n, s, input_part.device, input_part.dtype)
        row_of = torch.arange(n, device=input_part.device)
        return CifArState(cache, input_part, output_part, row_of)

    def cif_parts(self, cif_embeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The CIF-dependent parts of every step, computed once per utterance.

        Args:
            cif_embeds: (N, S, C) CIF outputs.

        Returns:
            ``(input_part, output_part)``, both (N, S, D): ``W_in[:, D:] c_{t-1} + PE(t)`` and
            ``W_out[:, D:] c_t`` for t = 0 .. S-1.
        """
        s = cif_embeds.size(1)
        d = self.dim
        cif = cif_embeds.to(self.input_proj.weight.dtype)
        prev_cif = F.pad(cif, (0, 0, 1, 0))[:, :s]
        input_part = F.linear(prev_cif, self.input_proj.weight[:, d:]) + self.positions(s)
        output_part = F.linear(cif, self.output_proj.weight[:, d:])
        return input_part, output_part

    def forward_step(
        self, prev_token: torch.Tensor, step: int, state: CifArState
    ) -> tuple[torch.Tensor, CifArState]:
        """Decode position ``step`` for every hypothesis.

        Args:
            prev_token: (N,) int64, the token at ``step - 1`` (``<sos/eos>`` at step 0).
            step: 0-based position; steps must run 0, 1, 2, ... (reordering in between is fine).
            state: from :meth:`init_state` / the previous step; updated in place.

        Returns:
            ``(log_probs, state)`` with log_probs (N, V) float32 log-softmax scores.
        """
        d = self.dim
        cif_in = state.input_part[:, step].index_select(0, state.row_of)
        cif_out = state.output_part[:, step].index_select(0, state.row_of)
        e = self.embed_scale * self.embed(prev_token)
        x = F.linear(e, self.input_proj.weight[:, :d]) + cif_in
        z = self.transformer.step(self.input_dropout(x), state.cache, step)
        s = F.linear(z, self.output_proj.weight[:, :d]) + cif_out.to(z.dtype)
        return torch.log_softmax(self.vocab_proj(s).float(), dim=-1), state

    def reorder_state(self, state: CifArState, index: torch.Tensor) -> CifArState:
        """Keep hypotheses ``index`` (N',) of the current N (beam reordering or expansion).

        Updates ``state`` in place (and returns it); only the filled cache prefix is copied.
        """
        state.cache.reorder(index)
        state.row_of = state.row_of.index_select(0, index)
        return state
