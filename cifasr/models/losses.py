"""The CIF model's token-level losses (docs/losses.md §2, §3). All return sums; the model divides
by the number of target tokens (``<sos/eos>`` included), which is fairseq's per-token normalisation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from typeguard import typechecked

from cifasr.nn import Dropout


def label_smoothed_nll_loss(
    logits: torch.Tensor, target: torch.Tensor, epsilon: float, ignore_id: int = -1
) -> tuple[torch.Tensor, torch.Tensor]:
    """fairseq's "uniform" label-smoothed cross entropy, summed over valid positions.

    ``loss = (1 - eps - eps_i) * nll + eps_i * sum_v(-log p_v)`` with ``eps_i = eps / (V - 1)``,
    i.e. the smoothing mass is spread over the V - 1 wrong classes.

    Args:
        logits: (B, L, V) unnormalised scores (any dtype; computed in float32).
        target: (B, L) ids, ``ignore_id`` on padding.
        epsilon: smoothing weight (original 0.1).
        ignore_id: padding id.

    Returns:
        ``(loss, nll)``: both summed over valid positions (nats); nll is the unsmoothed CE.
    """
    lprobs = F.log_softmax(logits.float(), dim=-1)
    valid = target != ignore_id
    tgt = target.masked_fill(~valid, 0)
    nll = -lprobs.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    smooth = -lprobs.sum(-1)
    nll = nll.masked_fill(~valid, 0.0).sum()
    smooth = smooth.masked_fill(~valid, 0.0).sum()
    eps_i = epsilon / (lprobs.size(-1) - 1)
    loss = (1.0 - epsilon - eps_i) * nll + eps_i * smooth
    return loss, nll


class CTC(nn.Module):
    """CTC head on the encoder output: Linear(C -> V) (xavier weight, zero bias) + CTC loss.

    The blank is id 0 (``<blank>``). The targets include ``<sos/eos>`` as in the original. The
    loss runs in float32 and is summed over the batch.

    Args:
        vocab_size: V.
        encoder_output_size: C.
        dropout_rate: dropout on the encoder output before the projection (original 0).
        zero_infinity: zero infinite losses (an input shorter than its target) instead of
            returning inf; the original keeps them (False) and lets the trainer skip the step.
    """

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
        dropout_rate: float = 0.0,
        zero_infinity: bool = False,
    ) -> None:
        super().__init__()
        self.dropout = Dropout(dropout_rate)
        self.ctc_lo = nn.Linear(encoder_output_size, vocab_size)
        nn.init.xavier_uniform_(self.ctc_lo.weight)
        nn.init.zeros_(self.ctc_lo.bias)
        self.zero_infinity = zero_infinity

    def log_softmax(self, hs: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, V) float32 log-probabilities."""
        return F.log_softmax(self.ctc_lo(self.dropout(hs)).float(), dim=-1)

    def forward(
        self,
        hs: torch.Tensor,
        hs_lengths: torch.Tensor,
        ys: torch.Tensor,
        ys_lengths: torch.Tensor,
    ) -> torch.Tensor:
        """Summed CTC loss (nats).

        Args:
            hs: (B, T, C) encoder output; hs_lengths: (B,) frames.
            ys: (B, L) target ids padded with any value; ys_lengths: (B,) tokens.
        """
        lp = self.log_softmax(hs).transpose(0, 1)
        valid = torch.arange(ys.size(1), device=ys.device)[None, :] < ys_lengths[:, None]
        flat = ys[valid]
        with torch.autocast(device_type=hs.device.type, enabled=False):
            # cuDNN's CTC differs from the native one on some inputs; the original disables it.
            with torch.backends.cudnn.flags(enabled=False):
                return F.ctc_loss(
                    lp,
                    flat,
                    hs_lengths,
                    ys_lengths,
                    blank=0,
                    reduction="sum",
                    zero_infinity=self.zero_infinity,
                )
