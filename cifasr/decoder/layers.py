"""Pre-LN Transformer layers (fairseq ``TransformerDecoderLayer`` with ``normalize_before``).

One layer: ``x + Dropout(SelfAttn(LN(x)))``, optionally ``x + Dropout(CrossAttn(LN(x), memory))``,
then ``x + Dropout(W2 Dropout_act(ReLU(W1 LN(x))))``. The stack ends with a final LayerNorm.
Shared by the CIF decoders and the Transformer LM.
"""

from __future__ import annotations

import torch
from torch import nn

from cifasr.decoder.attention import CrossAttention, SelfAttention
from cifasr.decoder.kv_cache import KVCache
from cifasr.nn import Dropout


class FeedForward(nn.Module):
    """``W2 Dropout(ReLU(W1 x))``, (..., D) -> (..., D); fairseq's (PyTorch default) init."""

    def __init__(self, dim: int, linear_units: int, activation_dropout_rate: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, linear_units)
        self.fc2 = nn.Linear(linear_units, dim)
        self.activation_dropout = Dropout(activation_dropout_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_dropout(torch.relu(self.fc1(x))))


class TransformerLayer(nn.Module):
    """One pre-LN layer.

    Args:
        dim: model size D.
        heads: attention heads.
        linear_units: FFN inner size.
        dropout_rate: dropout on each sub-layer output before the residual add.
        attention_dropout_rate: dropout on attention probabilities.
        activation_dropout_rate: dropout after the FFN ReLU.
        memory_dim: size C of a memory to cross-attend to, or None for no cross-attention.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        linear_units: int,
        dropout_rate: float,
        attention_dropout_rate: float,
        activation_dropout_rate: float,
        memory_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.self_attn_norm = nn.LayerNorm(dim)
        self.self_attn = SelfAttention(dim, heads, attention_dropout_rate)
        self.cross_attn: CrossAttention | None = None
        self.cross_attn_norm: nn.LayerNorm | None = None
        if memory_dim is not None:
            self.cross_attn_norm = nn.LayerNorm(dim)
            self.cross_attn = CrossAttention(dim, memory_dim, heads, attention_dropout_rate)
        self.ffn_norm = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, linear_units, activation_dropout_rate)
        self.dropout = Dropout(dropout_rate)

    def forward(
        self,
        x: torch.Tensor,
        causal: bool,
        key_mask: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x (B, L, D) -> (B, L, D); masks are bool, True on valid positions."""
        x = x + self.dropout(self.self_attn(self.self_attn_norm(x), causal, key_mask))
        if self.cross_attn is not None:
            if memory is None:
                raise ValueError("this decoder cross-attends to the encoder output: pass memory")
            x = x + self.dropout(self.cross_attn(self.cross_attn_norm(x), memory, memory_mask))
        return x + self.dropout(self.ffn(self.ffn_norm(x)))

    def step(
        self, x: torch.Tensor, key_cache: torch.Tensor, value_cache: torch.Tensor, step: int
    ) -> torch.Tensor:
        """Causal step at position ``step``: x (N, D) -> (N, D), writing this layer's cache."""
        if self.cross_attn is not None:
            raise NotImplementedError("incremental steps are for decoders without cross-attention")
        h = self.self_attn.step(self.self_attn_norm(x), key_cache, value_cache, step)
        x = x + self.dropout(h)
        return x + self.dropout(self.ffn(self.ffn_norm(x)))


class TransformerStack(nn.Module):
    """``num_blocks`` pre-LN layers and a final LayerNorm, run whole or one step at a time.

    Args: as :class:`TransformerLayer`, plus ``num_blocks``.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        linear_units: int,
        num_blocks: int,
        dropout_rate: float,
        attention_dropout_rate: float,
        activation_dropout_rate: float,
        memory_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.heads = heads
        self.layers = nn.ModuleList(
            TransformerLayer(
                dim,
                heads,
                linear_units,
                dropout_rate,
                attention_dropout_rate,
                activation_dropout_rate,
                memory_dim,
            )
            for _ in range(num_blocks)
        )
        self.final_norm = nn.LayerNorm(dim)

    def forward(
        self,
        x: torch.Tensor,
        causal: bool,
        key_mask: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x (B, L, D) -> (B, L, D) after the final LayerNorm."""
        for layer in self.layers:
            x = layer(x, causal, key_mask, memory, memory_mask)
        return self.final_norm(x)

    def allocate_cache(
        self, rows: int, max_len: int, device: torch.device | str, dtype: torch.dtype
    ) -> KVCache:
        """Empty caches for ``rows`` sequences of up to ``max_len`` positions."""
        return KVCache.allocate(
            len(self.layers), rows, self.heads, max_len, self.dim // self.heads, device, dtype
        )

    def step(self, x: torch.Tensor, cache: KVCache, step: int) -> torch.Tensor:
        """Position ``step`` of every row: x (N, D) -> (N, D); writes slot ``step`` of the cache.

        ``step`` may be at most ``cache.filled`` (no gaps); afterwards ``filled = step + 1``.
        """
        max_len = cache.keys[0].size(2) if cache.keys else 0
        if not 0 <= step <= min(cache.filled, max_len - 1):
            raise IndexError(
                f"decoding step {step} is out of order or beyond the cache: {cache.filled} "
                f"positions written, room for {max_len}; steps must go 0, 1, 2, ..."
            )
        for layer, keys, values in zip(self.layers, cache.keys, cache.values):
            x = layer.step(x, keys, values, step)
        cache.filled = step + 1
        return self.final_norm(x)
