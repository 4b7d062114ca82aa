"""The loop-free CIF of :func:`cifasr.cif.cif` at inference, written with dense tensor ops only.

:func:`cifasr.cif.cif` lays the integration out as a sparse slot-by-frame matrix
(``embedding_bag``) and reads data-dependent sizes on the host, which an exported graph cannot
do. Here the same closed form builds the dense (B, N, T) weight matrix

    W[b, j, t] = F_j(t) - F_j(t - 1),   F_j(t) = 1 if n_t > j, P_t - j if n_t == j, else 0

(token j 0-based, ``P_t`` the float64 prefix sum of the weights, ``n_t = floor(P_t + 1 - beta)``
the fires up to frame t) and integrates with one batched matmul ``W @ hidden``. Every size comes
from tensors (N = the largest token count), so the function traces into an ONNX graph with
dynamic batch, frame and token axes: CumSum, Floor, Where, MatMul, no loop. The work is
O(B * N * T * C) instead of O(B * T * C): cheap at inference (N is about T / 3 after the
encoder's subsampling) and never used in training.

The decisions (fires, tail) are the same float64 computations as in :func:`cifasr.cif.cif`, so
token counts and fire frames are equal; the vectors agree to float32 rounding (the sums run in
another order).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from cifasr.cif.cif import TAIL_EPS


class DenseCifOutput(NamedTuple):
    """What :func:`cif_dense` returns (the fields of :class:`cifasr.cif.CifOutput`).

    Attributes:
        embeds: (B, N, C) float32 token vectors, zero beyond ``token_lengths``.
        token_lengths: (B,) int64 tokens per utterance (a tail token included).
        fire_frames: (B, N) int64 frame at which each token fired, -1 on padding.
    """

    embeds: torch.Tensor
    token_lengths: torch.Tensor
    fire_frames: torch.Tensor


def _received(fires: torch.Tensor, prefix: torch.Tensor, token: torch.Tensor) -> torch.Tensor:
    """F_j(t): the weight token j has received up to frame t, (B, N, T) float64.

    Args:
        fires: (B, 1, T) n_t as float64; prefix: (B, 1, T) P_t; token: (1, N, 1) j.
    """
    partial = torch.where(fires == token, prefix - token, torch.zeros_like(prefix))
    return torch.where(fires > token, torch.ones_like(partial), partial)


def cif_dense(
    hidden: torch.Tensor,
    alphas: torch.Tensor,
    lengths: torch.Tensor,
    threshold: float,
    tail_threshold: torch.Tensor,
) -> DenseCifOutput:
    """Integrate and fire as :func:`cifasr.cif.cif` does in eval mode (with tail handling).

    Args:
        hidden: (B, T, C) float32 frames; frames at index >= ``lengths`` are not read.
        alphas: (B, T) non-negative weights (ignored beyond ``lengths``). Unlike
            :func:`cifasr.cif.cif` they are not checked: the caller has removed NaN and inf.
        lengths: (B,) int64 valid frames, each >= 1.
        threshold: beta in (0, 1].
        tail_threshold: 0-d float64 tensor tau: a leftover weight above it becomes a tail token
            (``+inf`` turns tail handling off, like ``tail_threshold=None`` at inference).

    Returns:
        :class:`DenseCifOutput`.
    """
    tlen = hidden.size(1)
    valid = torch.arange(tlen, device=hidden.device)[None, :] < lengths[:, None]
    a = torch.where(valid, alphas, torch.zeros_like(alphas)).double()
    prefix = torch.cumsum(a, dim=-1)
    fires = torch.floor(prefix + (1.0 - threshold))
    n_fired = fires[:, -1]
    tail = (prefix[:, -1] - n_fired) > tail_threshold
    token_lengths = n_fired.long() + tail.long()
    token = torch.arange(token_lengths.max(), device=hidden.device)
    j = token.double()[None, :, None]

    prev_prefix = F.pad(prefix[:, :-1], (1, 0))
    fires_before = F.pad(fires[:, :-1], (1, 0))
    weights = _received(fires[:, None], prefix[:, None], j) - _received(
        fires_before[:, None], prev_prefix[:, None], j
    )
    kept = token[None, :] < token_lengths[:, None]
    weights = torch.where(kept[:, :, None], weights, torch.zeros_like(weights)).float()
    hidden = hidden.masked_fill(~valid[:, :, None], 0.0).float()
    embeds = torch.matmul(weights, hidden)

    # The tail token is the weighted mean of what it integrated, as in the original.
    is_tail = (token[None, :] == n_fired.long()[:, None]) & tail[:, None]
    inv_weight = (1.0 / (a.sum(-1) - n_fired + TAIL_EPS)).float()
    factor = torch.where(is_tail, inv_weight[:, None], torch.ones_like(inv_weight)[:, None])
    embeds = embeds * factor[:, :, None]

    # Token j fired at the first frame with n_t > j: the number of frames with n_t <= j.
    first_after = (fires[:, None, :] <= j).long().sum(-1)
    fire_frames = torch.where(
        token[None, :] < n_fired.long()[:, None], first_after, torch.full_like(first_after, -1)
    )
    fire_frames = torch.where(is_tail, (lengths - 1)[:, None], fire_frames)
    return DenseCifOutput(embeds, token_lengths, fire_frames)
