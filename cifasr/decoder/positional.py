"""fairseq's sinusoidal positional embedding, as the original CIF decoder adds it.

fairseq builds the table with ``padding_idx = 1`` and numbers real positions from
``padding_idx + 1 = 2``; each row is ``[sin(p * w_0..w_{h-1}) | cos(p * w_0..w_{h-1})]`` (halves,
not interleaved) with ``w_k = exp(-k * ln(10000) / (h - 1))`` and ``h = dim // 2``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# fairseq: padding_idx 1, so the first real position is 2.
FAIRSEQ_FIRST_POSITION = 2


def sinusoidal_table(
    num_positions: int, dim: int, first_position: int = FAIRSEQ_FIRST_POSITION
) -> torch.Tensor:
    """Rows for positions ``first_position .. first_position + num_positions - 1``.

    Args:
        num_positions: number of rows L.
        dim: embedding size D (an odd D gets a zero last column, as in fairseq).
        first_position: the position number of row 0.

    Returns:
        (L, D) float32 table.
    """
    half = dim // 2
    if half < 2:
        raise ValueError(
            f"sinusoidal positions need dim >= 4 (fairseq divides by half-1), got {dim}"
        )
    freq = torch.exp(torch.arange(half, dtype=torch.float64) * -(math.log(10000.0) / (half - 1)))
    pos = torch.arange(first_position, first_position + num_positions, dtype=torch.float64)
    angles = pos[:, None] * freq[None, :]
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    if dim % 2 == 1:
        table = torch.cat([table, torch.zeros(num_positions, 1, dtype=table.dtype)], dim=1)
    return table.float()


class SinusoidalPositions(nn.Module):
    """Position rows for decoder steps ``0 .. L-1`` (fairseq positions ``2 .. L+1``).

    The first ``max_len`` rows are precomputed (not saved in checkpoints); longer sequences are
    computed on demand, so no length is ever refused.

    Args:
        dim: embedding size D.
        max_len: rows to precompute.
    """

    def __init__(self, dim: int, max_len: int = 1024) -> None:
        super().__init__()
        self.dim = dim
        self.register_buffer("table", sinusoidal_table(max_len, dim), persistent=False)

    def forward(self, length: int, start: int = 0) -> torch.Tensor:
        """Rows for steps ``start .. start + length - 1`` as a (length, D) tensor."""
        end = start + length
        if end <= self.table.size(0):
            return self.table[start:end]
        return sinusoidal_table(length, self.dim, FAIRSEQ_FIRST_POSITION + start).to(
            self.table.device
        )
