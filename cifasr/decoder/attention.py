"""Multi-head attention as fairseq's ``MultiheadAttention`` computes and initialises it.

Self-attention has a fused (D -> 3D) input projection, cross-attention a (D -> D) query and a
(C -> 2D) key/value projection; the maths and the initialisation equal fairseq's separate
q/k/v projections (xavier-uniform per D x D block, gain 1/sqrt(2) when all inputs are D-dim,
default bias init, zero output bias). The scaled dot product runs in
``F.scaled_dot_product_attention`` so CPU and CUDA both get fused kernels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _xavier_blocks(weight: torch.Tensor, block_rows: int, gain: float) -> None:
    """fairseq initialises q, k and v separately; a fused weight gets the same per-block bound."""
    with torch.no_grad():
        for start in range(0, weight.size(0), block_rows):
            nn.init.xavier_uniform_(weight[start : start + block_rows], gain=gain)


def valid_key_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, max_len) bool, True on keys a query may attend to.

    An empty sequence keeps key 0 attendable: a query row with every key masked would give NaN
    that then spreads through the padded positions into masked losses (NaN * 0 = NaN).
    """
    pos = torch.arange(max_len, device=lengths.device)
    return pos[None, :] < lengths.clamp(min=1)[:, None]


class SelfAttention(nn.Module):
    """Multi-head self-attention with an optional causal mask and a key/value cache.

    Args:
        dim: model size D (divisible by ``heads``).
        heads: number of heads H.
        dropout_rate: dropout on the attention probabilities.
    """

    def __init__(self, dim: int, heads: int, dropout_rate: float) -> None:
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"attention_dim {dim} is not divisible by attention_heads {heads}")
        self.dim = dim
        self.heads = heads
        self.head_dim = dim // heads
        self.dropout_rate = dropout_rate
        self.in_proj = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)
        _xavier_blocks(self.in_proj.weight, dim, gain=1 / math.sqrt(2))
        nn.init.xavier_uniform_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, D) -> (B, H, L, D/H)."""
        b, length, _ = x.shape
        return x.view(b, length, self.heads, self.head_dim).transpose(1, 2)

    def forward(
        self, x: torch.Tensor, causal: bool, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Attend over the whole sequence.

        Args:
            x: (B, L, D).
            causal: position t sees positions <= t only.
            key_mask: (B, L) bool, True on valid keys, or None (all valid).

        Returns:
            (B, L, D).
        """
        q, k, v = (self._heads(t) for t in self.in_proj(x).chunk(3, dim=-1))
        mask = None if key_mask is None else key_mask[:, None, None, :]
        if causal and mask is not None:
            length = x.size(1)
            tri = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
            mask, causal = mask & tri, False
        dropout = self.dropout_rate if self.training else 0.0
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=causal
        )
        return self.out_proj(out.transpose(1, 2).reshape(x.shape))

    def step(
        self, x: torch.Tensor, key_cache: torch.Tensor, value_cache: torch.Tensor, step: int
    ) -> torch.Tensor:
        """One causal step: write this position's key/value at ``step``, attend to ``0..step``.

        Args:
            x: (N, D) the input at position ``step``.
            key_cache, value_cache: (N, H, S, D/H) preallocated; slot ``step`` is overwritten.
            step: 0-based position.

        Returns:
            (N, D).
        """
        n = x.size(0)
        q, k, v = self.in_proj(x).view(n, 3, self.heads, self.head_dim).unbind(1)
        key_cache[:, :, step] = k
        value_cache[:, :, step] = v
        keys = key_cache[:, :, : step + 1].to(q.dtype)
        values = value_cache[:, :, : step + 1].to(q.dtype)
        dropout = self.dropout_rate if self.training else 0.0
        out = F.scaled_dot_product_attention(q[:, :, None], keys, values, dropout_p=dropout)
        return self.out_proj(out.reshape(n, self.dim))


class CrossAttention(nn.Module):
    """Multi-head attention from the decoder (D) to a memory such as the encoder output (C).

    Args:
        dim: query and output size D.
        memory_dim: key/value input size C.
        heads: number of heads H.
        dropout_rate: dropout on the attention probabilities.
    """

    def __init__(self, dim: int, memory_dim: int, heads: int, dropout_rate: float) -> None:
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"attention_dim {dim} is not divisible by attention_heads {heads}")
        self.dim = dim
        self.heads = heads
        self.head_dim = dim // heads
        self.dropout_rate = dropout_rate
        self.q_proj = nn.Linear(dim, dim)
        self.kv_proj = nn.Linear(memory_dim, 2 * dim)
        self.out_proj = nn.Linear(dim, dim)
        gain = 1 / math.sqrt(2) if memory_dim == dim else 1.0
        _xavier_blocks(self.q_proj.weight, dim, gain)
        _xavier_blocks(self.kv_proj.weight, dim, gain)
        nn.init.xavier_uniform_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Args: x (B, L, D); memory (B, T, C); memory_mask (B, T) bool, True on valid frames.

        Returns:
            (B, L, D).
        """
        b, length, _ = x.shape
        t = memory.size(1)
        q = self.q_proj(x).view(b, length, self.heads, self.head_dim).transpose(1, 2)
        k, v = (
            m.view(b, t, self.heads, self.head_dim).transpose(1, 2)
            for m in self.kv_proj(memory).chunk(2, dim=-1)
        )
        mask = None if memory_mask is None else memory_mask[:, None, None, :]
        dropout = self.dropout_rate if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        return self.out_proj(out.transpose(1, 2).reshape(b, length, self.dim))
