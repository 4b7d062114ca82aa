"""The CIF quantity loss (docs/losses.md §4)."""

from __future__ import annotations

import torch


def quantity_loss(alpha_sums: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """L1 distance between the predicted and the true number of tokens, summed over the batch.

    ``L_qua = sum_b |alpha_sums_b - target_lengths_b|``. The model divides it by the number of
    target tokens, like every other loss term.

    Args:
        alpha_sums: (B,) sums of the UNscaled CIF weights over valid frames
            (:attr:`PredictorOutput.alpha_sums`).
        target_lengths: (B,) int or float token counts including the end token (N + 1).

    Returns:
        Scalar float32 (float64 for float64 input) loss.
    """
    if alpha_sums.shape != target_lengths.shape or alpha_sums.dim() != 1:
        raise ValueError(
            "quantity_loss(): alpha_sums and target_lengths must both be (B,), got "
            f"{tuple(alpha_sums.shape)} and {tuple(target_lengths.shape)}"
        )
    sums = alpha_sums.float() if alpha_sums.dtype != torch.float64 else alpha_sums
    return (sums - target_lengths.to(sums.dtype)).abs().sum()
