"""In-encoder max pooling over time (the original's pooling after layers 5 and 10).

See docs/architecture.md §3.3.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from cifasr.encoder.mask import lengths_to_mask


def max_pool_pairs(
    x: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Halve the frame rate: max over pairs of frames (kernel 2, stride 2).

    Deliberate choices, each so that an utterance's pooled output never depends on how much its
    batch is padded:

    - a pooled frame is valid if either source frame is valid (as the original's max-pooled
      padding mask), so the pooled length is ceil(L / 2);
    - padded frames are excluded from the max (they are set to -inf first), so the last pooled
      frame of an odd-length utterance is its last frame, not max(frame, padding);
    - an odd padded length T is padded by one frame, so the pooled length is ceil(T / 2); the
      original's ``MaxPool2d`` drops that frame, losing the last frame of the longest utterance.

    Pooled frames beyond the new lengths are zero.

    Args:
        x: (B, T, C).
        lengths: (B,) valid frames.
        mask: (B, T) bool valid-frame mask, derived from ``lengths`` when None.

    Returns:
        (B, ceil(T / 2), C) pooled frames, (B,) lengths ceil(L / 2), (B, ceil(T / 2)) bool mask.
    """
    b, t, c = x.shape
    if mask is None:
        mask = lengths_to_mask(lengths, t)
    x = x.masked_fill(~mask[:, :, None], float("-inf"))
    pooled = (t + 1) // 2
    # An ONNX graph is traced once for every length: there the frame is always added and the
    # slice keeps it only for odd T.
    if t % 2 or torch.onnx.is_in_onnx_export():
        x = F.pad(x, (0, 0, 0, 1), value=float("-inf"))[:, : 2 * pooled]
    x = x.reshape(b, pooled, 2, c).amax(dim=2)
    lengths = torch.div(lengths + 1, 2, rounding_mode="floor")
    mask = lengths_to_mask(lengths, x.size(1))
    return x.masked_fill(~mask[:, :, None], 0.0), lengths, mask


def check_pooling_layers(pooling_layers: Sequence[int] | None, num_blocks: int) -> tuple[int, ...]:
    """Validated, sorted 1-based layer ids after which to pool (0: the input layer's output,
    before the first layer); () for none."""
    ids = tuple(sorted(int(i) for i in (pooling_layers or ())))
    bad = [i for i in ids if not 0 <= i <= num_blocks]
    if bad or len(set(ids)) != len(ids):
        raise ValueError(
            f"encoder_conf.pooling_layers: {list(pooling_layers or ())} must be distinct layer "
            f"ids in 0..num_blocks={num_blocks} (1-based; 0 pools the input layer's output)"
        )
    return ids
