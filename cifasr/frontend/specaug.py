"""SpecAugment frequency and time masking, as fairseq's ``specaugment`` (docs/architecture.md §2.3).

Per utterance and per mask: a width ``f`` uniform in ``[0, freq_mask_width)`` and a start uniform
in ``[0, D - f)``; time masks likewise with the width bounded by
``min(time_mask_width, floor(T * time_mask_ratio))`` where T is the utterance's own length. The
mask value is the utterance's mean over its valid frames (fairseq's default) unless given. Drawn
with torch's global RNG (the trainer seeds it and checkpoints its state), vectorised over the batch.
"""

from __future__ import annotations

import torch
from torch import nn
from typeguard import typechecked


class SpecAug(nn.Module):
    """Frequency and time masking applied in training mode only.

    Args:
        freq_mask_num: number of frequency masks (original 2).
        freq_mask_width: exclusive upper bound of a frequency mask width in bins (original 27).
        time_mask_num: number of time masks (original 2).
        time_mask_width: exclusive upper bound of a time mask width in frames (original 50).
        time_mask_ratio: the width is also bounded by ``floor(T * ratio)`` (original 1.0).
        mask_value: the value written into masked cells; None uses the utterance mean.
    """

    @typechecked
    def __init__(
        self,
        freq_mask_num: int = 2,
        freq_mask_width: int = 27,
        time_mask_num: int = 2,
        time_mask_width: int = 50,
        time_mask_ratio: float = 1.0,
        mask_value: float | None = None,
    ) -> None:
        super().__init__()
        self.freq_mask_num = freq_mask_num
        self.freq_mask_width = freq_mask_width
        self.time_mask_num = time_mask_num
        self.time_mask_width = time_mask_width
        self.time_mask_ratio = time_mask_ratio
        self.mask_value = mask_value

    @staticmethod
    def _spans(extent: torch.Tensor, max_width: torch.Tensor, size: int, num: int) -> torch.Tensor:
        """(B, size) bool, True inside any of ``num`` random spans per row.

        extent (B,): the span must lie in [0, extent); max_width (B,): exclusive width bound
        (rows with max_width < 1 get no span).
        """
        b = extent.size(0)
        device = extent.device
        pos = torch.arange(size, device=device)
        masked = torch.zeros(b, size, dtype=torch.bool, device=device)
        mw = max_width.clamp(min=0).to(torch.float64)
        for _ in range(num):
            width = (torch.rand(b, device=device, dtype=torch.float64) * mw).floor()
            room = (extent.to(torch.float64) - width).clamp(min=1)
            start = (torch.rand(b, device=device, dtype=torch.float64) * room).floor()
            lo = start.long()[:, None]
            hi = (start + width).long()[:, None]
            masked |= (pos[None, :] >= lo) & (pos[None, :] < hi)
        return masked

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, D) features, lengths (B,) frames -> masked x (training only), lengths."""
        if not self.training:
            return x, lengths
        b, t, d = x.shape
        valid = (torch.arange(t, device=x.device)[None, :] < lengths[:, None]).unsqueeze(-1)
        if self.mask_value is None:
            n = (lengths.clamp(min=1) * d).to(x.dtype)
            value = ((x * valid).sum((1, 2)) / n)[:, None, None]
        else:
            value = torch.full((b, 1, 1), float(self.mask_value), dtype=x.dtype, device=x.device)
        mask = torch.zeros(b, t, d, dtype=torch.bool, device=x.device)
        if self.freq_mask_num > 0 and self.freq_mask_width > 0:
            f_bound = torch.full((b,), self.freq_mask_width, device=x.device)
            f_mask = self._spans(
                torch.full((b,), d, device=x.device), f_bound, d, self.freq_mask_num
            )
            mask |= f_mask[:, None, :]
        if self.time_mask_num > 0 and self.time_mask_width > 0:
            ratio_bound = (lengths.to(torch.float64) * self.time_mask_ratio).floor().long()
            t_bound = ratio_bound.clamp(max=self.time_mask_width)
            t_mask = self._spans(lengths, t_bound, t, self.time_mask_num)
            mask |= t_mask[:, :, None]
        mask &= valid
        return torch.where(mask, value.expand(b, t, d), x), lengths

    def extra_repr(self) -> str:
        return (
            f"freq_mask_num={self.freq_mask_num}, freq_mask_width={self.freq_mask_width}, "
            f"time_mask_num={self.time_mask_num}, time_mask_width={self.time_mask_width}, "
            f"time_mask_ratio={self.time_mask_ratio}, mask_value={self.mask_value}"
        )


SPECAUG_CLASSES = {"specaug": SpecAug}
