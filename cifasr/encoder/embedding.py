"""Sinusoidal positional encodings (ESPnet's, exactly), absolute and relative.

Both classes share one interface so that an input layer can take either:
``forward(x) -> (x', pos_emb or None)`` scales ``x`` by sqrt(d) and, for the absolute encoding,
adds the positions; ``position_embedding(length, like)`` gives the relative embeddings for a new
length (after in-encoder pooling), or None for the absolute encoding.

The tables are plain attributes, not buffers: they stay out of checkpoints (as in ESPnet) and DDP
does not broadcast megabytes of constants every step. They follow the input's device lazily.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cifasr.nn import Dropout


def sinusoids(positions: torch.Tensor, d_model: int) -> torch.Tensor:
    """ESPnet sinusoids: sin on even and cos on odd dimensions.

    Args:
        positions: (N,) float32 positions (may be negative).
        d_model: embedding dimension, even.

    Returns:
        (N, d_model) float32.
    """
    div_term = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model)
    )
    angles = positions[:, None] * div_term
    pe = torch.zeros(positions.numel(), d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe


class _ScaledInput(nn.Module):
    """What both encodings share: an even size d, the input scale sqrt(d) and a dropout."""

    def __init__(self, d_model: int, dropout_rate: float) -> None:
        super().__init__()
        if d_model % 2:
            raise ValueError(f"positional encoding needs an even dimension, got {d_model}")
        self.d_model = d_model
        self.xscale = math.sqrt(d_model)
        self.dropout = Dropout(dropout_rate)


class PositionalEncoding(_ScaledInput):
    """Absolute positions: ``dropout(x * sqrt(d) + PE[:T])`` (ESPnet ``PositionalEncoding``).

    Args:
        d_model: embedding dimension d.
        dropout_rate: dropout on the sum.
        max_len: frames precomputed; longer inputs extend the table.
    """

    def __init__(self, d_model: int, dropout_rate: float = 0.0, max_len: int = 6000) -> None:
        super().__init__(d_model, dropout_rate)
        self.pe = sinusoids(torch.arange(max_len, dtype=torch.float32), d_model)[None]

    def _table(self, length: int, like: torch.Tensor) -> torch.Tensor:
        if self.pe.size(1) < length:
            self.pe = sinusoids(torch.arange(length, dtype=torch.float32), self.d_model)[None]
        if self.pe.device != like.device:
            self.pe = self.pe.to(like.device)
        return self.pe[:, :length].to(like.dtype)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """(B, T, d) -> ((B, T, d) scaled input plus positions, None)."""
        return self.dropout(x * self.xscale + self._table(x.size(1), x)), None

    def position_embedding(self, length: int, like: torch.Tensor) -> None:
        """Absolute positions are added once, at the input: nothing to recompute."""
        return None


class RelPositionalEncoding(_ScaledInput):
    """Relative positions, ESPnet "latest" ``RelPositionalEncoding`` (2T-1 positions).

    ``pos_emb[:, k]`` encodes the relative position ``i - j = T - 1 - k``, i.e. the embeddings run
    from T-1 down to -(T-1), the layout that ``rel_shift`` expects.

    Args:
        d_model: embedding dimension d.
        dropout_rate: dropout on the scaled input and on the position embeddings (as ESPnet).
        max_len: frames precomputed; longer inputs extend the table.
    """

    def __init__(self, d_model: int, dropout_rate: float = 0.0, max_len: int = 6000) -> None:
        super().__init__(d_model, dropout_rate)
        self.pe = self._build(max_len)

    def _build(self, length: int) -> torch.Tensor:
        # Same numbers as ESPnet's flip/concat construction: positive positions reversed, then
        # the negative ones without 0.
        rel = torch.arange(length - 1, -length, -1, dtype=torch.float32)
        return sinusoids(rel, self.d_model)[None]

    def position_embedding(self, length: int, like: torch.Tensor) -> torch.Tensor:
        """Relative embeddings for ``length`` frames.

        Args:
            length: T, frames of the sequence that attends.
            like: a tensor whose device and dtype the result takes.

        Returns:
            (1, 2T-1, d), relative positions T-1 ... -(T-1), after dropout.
        """
        if self.pe.size(1) < 2 * length - 1:
            self.pe = self._build(length)
        if self.pe.device != like.device:
            self.pe = self.pe.to(like.device)
        center = self.pe.size(1) // 2
        pos = self.pe[:, center - length + 1 : center + length].to(like.dtype)
        return self.dropout(pos)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, d) -> ((B, T, d) scaled input, (1, 2T-1, d) relative embeddings)."""
        return self.dropout(x * self.xscale), self.position_embedding(x.size(1), x)
