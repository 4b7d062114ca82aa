"""Feature normalisation in the model's front end: per-utterance or global mean/variance.

Both work on padded batches: statistics use valid frames only and padded frames come out zero,
so an utterance is normalised the same whatever batch it is in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from typeguard import typechecked


def _valid_mask(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, 1) float mask, 1 on valid frames."""
    t = torch.arange(x.size(1), device=x.device)
    return (t[None, :] < lengths[:, None]).unsqueeze(-1).to(x.dtype)


class UtteranceMVN(nn.Module):
    """Per-utterance mean and variance normalisation (the original's ``utterance_cmvn``).

    ``x <- (x - mean) / sqrt(max(var, eps))`` over each utterance's valid frames, as fairseq's
    UtteranceCMVN does (variance floored at 1e-10, population variance).

    Args:
        norm_means: subtract the mean.
        norm_vars: divide by the standard deviation.
        eps: floor of the variance.
    """

    @typechecked
    def __init__(self, norm_means: bool = True, norm_vars: bool = True, eps: float = 1e-10) -> None:
        super().__init__()
        self.norm_means = norm_means
        self.norm_vars = norm_vars
        self.eps = eps

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, D) features, lengths (B,) frames -> normalised (B, T, D) float32, lengths."""
        x = x.float()
        mask = _valid_mask(x, lengths)
        n = lengths.clamp(min=1).to(torch.float64)[:, None]
        x64 = x.double() * mask
        mean = x64.sum(1) / n
        if self.norm_vars:
            var = (x64.square().sum(1) / n - mean.square()).clamp(min=self.eps)
            scale = var.rsqrt()
        else:
            scale = torch.ones_like(mean)
        shift = mean if self.norm_means else torch.zeros_like(mean)
        y = (x64 - shift[:, None, :]) * scale[:, None, :]
        return (y * mask).float(), lengths

    def extra_repr(self) -> str:
        return f"norm_means={self.norm_means}, norm_vars={self.norm_vars}, eps={self.eps}"


class GlobalMVN(nn.Module):
    """Global mean and variance normalisation from ``feats_stats.npz`` (stage 10).

    The stats file holds ``count`` (frames), ``sum`` (D,) and ``sum_square`` (D,), ESPnet's format.
    The mean and the inverse standard deviation are buffers, so they travel inside checkpoints and
    inference does not need the stats file.

    Args:
        stats_file: path of ``feats_stats.npz``; None builds identity statistics of ``feat_dim``
            (for building a model before the statistics exist; a checkpoint then restores them).
        norm_means: subtract the mean.
        norm_vars: divide by the standard deviation.
        eps: floor of the variance.
        feat_dim: feature dimension used when ``stats_file`` is None.
    """

    @typechecked
    def __init__(
        self,
        stats_file: str | None = None,
        norm_means: bool = True,
        norm_vars: bool = True,
        eps: float = 1e-20,
        feat_dim: int = 80,
    ) -> None:
        super().__init__()
        self.stats_file = stats_file
        self.norm_means = norm_means
        self.norm_vars = norm_vars
        self.eps = eps
        if stats_file is None:
            mean = np.zeros(feat_dim)
            std = np.ones(feat_dim)
        else:
            mean, std = self.read_stats(stats_file, eps)
        self.register_buffer("mean", torch.from_numpy(mean).float())
        self.register_buffer("std", torch.from_numpy(std).float())

    @staticmethod
    def read_stats(stats_file: str | Path, eps: float = 1e-20) -> tuple[np.ndarray, np.ndarray]:
        """Mean (D,) and standard deviation (D,) from an ESPnet-format stats file."""
        try:
            stats = np.load(stats_file)
        except OSError as e:
            raise FileNotFoundError(
                f"{stats_file}: cannot read CMVN statistics ({e}); run stage 10 of asr.sh"
            ) from e
        for key in ("count", "sum", "sum_square"):
            if key not in stats:
                raise ValueError(f"{stats_file}: missing '{key}' (expected count, sum, sum_square)")
        count = float(stats["count"])
        if count <= 0:
            raise ValueError(f"{stats_file}: count is {count}; the statistics saw no frames")
        mean = stats["sum"] / count
        var = np.maximum(stats["sum_square"] / count - mean * mean, eps)
        return mean, np.sqrt(var)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, D), lengths (B,) -> normalised (B, T, D) float32 with padded frames zero."""
        x = x.float()
        if self.norm_means:
            x = x - self.mean
        if self.norm_vars:
            x = x / self.std
        return x * _valid_mask(x, lengths), lengths

    def extra_repr(self) -> str:
        return (
            f"stats_file={self.stats_file}, norm_means={self.norm_means}, "
            f"norm_vars={self.norm_vars}"
        )


NORMALIZE_CLASSES = {"utterance_mvn": UtteranceMVN, "global_mvn": GlobalMVN}
