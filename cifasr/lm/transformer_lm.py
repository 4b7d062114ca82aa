"""A causal Transformer token LM for shallow fusion in the beam search (docs/decoding.md §4).

The original fuses a fairseq ``transformer_lm``; this one is built the same way: scaled token
embedding + fairseq sinusoidal positions, input dropout, pre-LN causal layers with a final
LayerNorm, and an untied output projection. Input ``[<sos/eos>, y1..yN]``, targets
``[y1..yN, <sos/eos>]``; ``<sos/eos>`` is the last id (V - 1) as in ESPnet token lists.
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
from cifasr.decoder.positional import SinusoidalPositions
from cifasr.nn import Dropout


@dataclass
class TransformerLMState:
    """Incremental state of :class:`TransformerLM`: the self-attention caches (N rows)."""

    cache: KVCache


class TransformerLM(nn.Module):
    """Causal Transformer LM; registry name ``transformer``.

    Args:
        vocab_size: V; ``<sos/eos>`` is V - 1.
        attention_dim: model size D (also the embedding size).
        attention_heads: self-attention heads.
        linear_units: FFN inner size.
        num_blocks: layers.
        dropout_rate: dropout on the input and after each sub-layer.
        attention_dropout_rate: dropout on attention probabilities.
        activation_dropout_rate: dropout after the FFN ReLU.
        max_len: positions whose sinusoids are precomputed (longer ones are computed on demand).
    """

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        attention_dim: int = 256,
        attention_heads: int = 4,
        linear_units: int = 1024,
        num_blocks: int = 4,
        dropout_rate: float = 0.1,
        attention_dropout_rate: float = 0.0,
        activation_dropout_rate: float = 0.0,
        max_len: int = 1024,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.sos_eos = vocab_size - 1
        self.embed_scale = math.sqrt(attention_dim)
        self.embed = nn.Embedding(vocab_size, attention_dim)
        nn.init.normal_(self.embed.weight, mean=0.0, std=attention_dim**-0.5)
        self.positions = SinusoidalPositions(attention_dim, max_len)
        self.input_dropout = Dropout(dropout_rate)
        self.transformer = TransformerStack(
            attention_dim,
            attention_heads,
            linear_units,
            num_blocks,
            dropout_rate,
            attention_dropout_rate,
            activation_dropout_rate,
        )
        self.output_proj = nn.Linear(attention_dim, vocab_size, bias=False)
        nn.init.normal_(self.output_proj.weight, mean=0.0, std=attention_dim**-0.5)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Next-token logits.

        Args:
            tokens: (B, L) int64 ``[<sos/eos>, y1 .. y_{L-1}]``, right-padded with any id.
            lengths: (B,) valid positions (N + 1). Attention is causal, so padding never
                reaches valid positions; ``lengths`` matters only to :meth:`nll`.

        Returns:
            (B, L, V) logits; position t scores the token after ``tokens[:, t]``.
        """
        x = self.embed_scale * self.embed(tokens)
        x = self.input_dropout(x + self.positions(tokens.size(1)).to(x.dtype))
        return self.output_proj(self.transformer(x, causal=True))

    def nll(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed negative log-likelihood (nats) of ``[y1..yN, <sos/eos>]`` and its token count.

        Args:
            tokens: (B, L) ``[<sos/eos>, y1 .. yN]`` right-padded; lengths: (B,) N + 1 each.

        Returns:
            ``(nll_sum, count)``: float32 scalar and int64 scalar (= lengths.sum()); the
            perplexity of a corpus is ``exp(sum nll_sum / sum count)``.
        """
        b, length = tokens.shape
        if bool((lengths > length).any()) or bool((lengths < 1).any()):
            raise ValueError(
                f"lengths must be in [1, {length}] (tokens are [<sos/eos>, y1..yN], N + 1 each); "
                f"got {lengths.tolist()}"
            )
        if bool((tokens[:, 0] != self.sos_eos).any()):
            raise ValueError(
                f"every sequence must start with <sos/eos> (id {self.sos_eos}); prepend it "
                "before calling the LM"
            )
        pos = torch.arange(length, device=tokens.device)[None, :]
        shifted = torch.cat([tokens[:, 1:], tokens.new_full((b, 1), -1)], dim=1)
        target = torch.where(pos < lengths[:, None] - 1, shifted, -1)
        target = torch.where(pos == lengths[:, None] - 1, self.sos_eos, target)
        logits = self.forward(tokens, lengths)
        nll = F.cross_entropy(
            logits.float().reshape(-1, self.vocab_size),
            target.reshape(-1),
            ignore_index=-1,
            reduction="sum",
        )
        return nll, lengths.sum()

    # ------------------------------------------------------------------ incremental decoding
    def init_state(
        self, batch_size: int, max_len: int, device: torch.device | str
    ) -> TransformerLMState:
        """State for ``batch_size`` sequences of up to ``max_len`` steps."""
        dtype = self.output_proj.weight.dtype
        return TransformerLMState(
            self.transformer.allocate_cache(batch_size, max_len, device, dtype)
        )

    def forward_step(
        self, prev_token: torch.Tensor, step: int, state: TransformerLMState
    ) -> tuple[torch.Tensor, TransformerLMState]:
        """Log-probabilities (N, V) float32 of the token at ``step`` given the tokens before it.

        Args:
            prev_token: (N,) the token at ``step - 1`` (``<sos/eos>`` at step 0).
            step: 0-based; steps run 0, 1, 2, ...
            state: updated in place.
        """
        x = self.embed_scale * self.embed(prev_token) + self.positions(1, start=step)
        z = self.transformer.step(self.input_dropout(x), state.cache, step)
        return torch.log_softmax(self.output_proj(z).float(), dim=-1), state

    def reorder_state(self, state: TransformerLMState, index: torch.Tensor) -> TransformerLMState:
        """Keep sequences ``index`` (N',); in place, only the filled cache prefix is copied."""
        state.cache.reorder(index)
        return state
