"""A token LM wrapped for the trainer: ``forward(text, text_lengths) -> (loss, stats, weight)``."""

from __future__ import annotations

import torch
from torch import nn

from cifasr.models.cif_asr import add_sos_eos


class LanguageModel(nn.Module):
    """Next-token cross entropy of ``[y1..yN, <sos/eos>]`` given ``[<sos/eos>, y1..yN]``.

    Args:
        lm: a network with ``nll(tokens, lengths) -> (nll_sum, count)`` (e.g.
            :class:`cifasr.lm.TransformerLM`); it is also what shallow fusion uses.
        vocab_size: V (``<sos/eos>`` is V - 1).
    """

    def __init__(self, lm: nn.Module, vocab_size: int) -> None:
        super().__init__()
        self.lm = lm
        self.vocab_size = vocab_size
        self.sos_eos = vocab_size - 1

    def forward(
        self, text: torch.Tensor, text_lengths: torch.Tensor, **_: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
        """text (B, N) ids padded with -1; text_lengths (B,) -> per-token loss (nats), stats
        (``loss``), weight (the token count, ``<sos/eos>`` included)."""
        prev, _ = add_sos_eos(text, text_lengths, self.sos_eos)
        nll, count = self.lm.nll(prev, text_lengths + 1)
        loss = nll / count.clamp(min=1)
        return loss, {"loss": float(loss.detach())}, count
