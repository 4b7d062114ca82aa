"""Preallocated key/value caches for incremental (step-by-step) decoding."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class KVCache:
    """Keys and values of every layer for positions ``0 .. filled-1``.

    Attributes:
        keys, values: one (N, H, S, D/H) tensor per layer; slots ``>= filled`` hold nothing
            meaningful and are never read.
        filled: number of positions written so far.
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    filled: int = 0

    @classmethod
    def allocate(
        cls,
        num_layers: int,
        rows: int,
        heads: int,
        max_len: int,
        head_dim: int,
        device: torch.device | str,
        dtype: torch.dtype,
    ) -> KVCache:
        """Zero caches of shape (rows, heads, max_len, head_dim) for ``num_layers`` layers."""
        shape = (rows, heads, max_len, head_dim)
        return cls(
            keys=[torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)],
            values=[torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)],
        )

    @property
    def rows(self) -> int:
        return self.keys[0].size(0) if self.keys else 0

    def reorder(self, index: torch.Tensor) -> KVCache:
        """Take rows ``index`` (N',) of the filled prefix, in place when N' equals N.

        Only the ``filled`` prefix is copied: a beam step costs O(N * filled), not O(N * S).
        A different N' (expanding B utterances to B * beam hypotheses) allocates new caches.
        """
        if not self.keys:
            return self
        t = self.filled
        if index.numel() == self.rows:
            for cache in (*self.keys, *self.values):
                if t > 0:
                    cache[:, :, :t] = cache[:, :, :t].index_select(0, index)
            return self
        new_keys, new_values = [], []
        for old, new_list in ((self.keys, new_keys), (self.values, new_values)):
            for cache in old:
                new = cache.new_zeros((index.numel(), *cache.shape[1:]))
                if t > 0:
                    new[:, :, :t] = cache[:, :, :t].index_select(0, index)
                new_list.append(new)
        self.keys, self.values = new_keys, new_values
        return self
