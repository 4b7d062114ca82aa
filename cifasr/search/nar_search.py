"""Parallel greedy decoding for non-autoregressive CIF decoders."""

from __future__ import annotations

import torch
from torch import nn

from cifasr.search.hypothesis import Hypothesis, check_special_ids, make_hypothesis


def nar_search(
    decoder: nn.Module,
    cif_embeds: torch.Tensor,
    cif_lengths: torch.Tensor,
    memory: torch.Tensor | None,
    memory_lengths: torch.Tensor | None,
    *,
    eos_id: int,
    blank_id: int = 0,
    unk_id: int = 1,
) -> list[list[Hypothesis]]:
    """The argmax token at every CIF position, all positions in one decoder call.

    Args:
        decoder: a decoder whose forward is ``(cif_embeds, cif_lengths, prev_tokens, memory,
            memory_lengths) -> DecoderOutput`` (e.g. :class:`cifasr.decoder.NarDecoder`).
        cif_embeds: (B, S, C) CIF outputs; cif_lengths: (B,) S_b.
        memory: (B, T, C) encoder output (or None when the decoder does not cross-attend);
            memory_lengths: (B,) valid frames.
        eos_id, blank_id, unk_id: as in :func:`cifasr.search.beam_search`.

    Returns:
        For each utterance a list with one :class:`Hypothesis` (truncated at the first
        ``<sos/eos>``, blanks dropped, ``<unk>`` kept; score = summed max log-probability over
        the S_b positions).
    """
    check_special_ids(eos_id, blank_id, unk_id)
    lengths = cif_lengths.to(device=cif_embeds.device, dtype=torch.long)
    with torch.no_grad():
        logits = decoder(cif_embeds, lengths, None, memory, memory_lengths).logits
        best, tokens = torch.log_softmax(logits.float(), dim=-1).max(dim=-1)
        valid = torch.arange(tokens.size(1), device=tokens.device)[None, :] < lengths[:, None]
        scores = (best * valid).sum(-1)
    return [
        [make_hypothesis(row[:length], score, eos_id, blank_id)]
        for row, score, length in zip(tokens.tolist(), scores.tolist(), lengths.tolist())
    ]
