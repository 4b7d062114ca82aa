"""Fixed-length beam and greedy search for AR CIF decoders (docs/decoding.md §2), batched.

Utterance b is decoded for exactly S_b = ``cif_lengths[b]`` steps (the number of CIF outputs,
the ``</s>`` slot included). Every hypothesis starts from ``<sos/eos>``; step 0 expands the single
start hypothesis into the top ``beam`` tokens, later steps take the top ``beam`` of
beam x V; scores add ``log p_ASR + lm_weight * log p_LM``; there is no EOS termination, length
penalty or normalisation. All utterances run in one loop over ``max_b S_b`` steps, vectorised over
batch x beam; an utterance whose S_b steps are done is frozen (scores and hypotheses kept). The
final hypotheses are truncated at the first ``<sos/eos>`` with ``<blank>`` dropped
(:func:`cifasr.search.hypothesis.make_hypothesis`).

The decoder (and LM) must be in eval mode for deterministic results; the search does not
change modes.
"""

from __future__ import annotations

import torch

from cifasr.search.hypothesis import Hypothesis, check_special_ids, make_hypothesis
from cifasr.search.protocols import IncrementalDecoder, IncrementalLM


def _check_inputs(decoder: object, cif_embeds: torch.Tensor, cif_lengths: torch.Tensor) -> None:
    if not getattr(decoder, "autoregressive", True):
        raise ValueError(
            f"{type(decoder).__name__} is not autoregressive: decode it with nar_search"
        )
    if cif_embeds.dim() != 3 or cif_lengths.shape != (cif_embeds.size(0),):
        raise ValueError(
            f"cif_embeds must be (B, S, C) and cif_lengths (B,); got {tuple(cif_embeds.shape)} "
            f"and {tuple(cif_lengths.shape)}"
        )
    if cif_lengths.numel() and (
        int(cif_lengths.min()) < 0 or int(cif_lengths.max()) > cif_embeds.size(1)
    ):
        raise ValueError(
            f"cif_lengths must lie in [0, {cif_embeds.size(1)}] (the CIF axis of cif_embeds); "
            f"got {cif_lengths.tolist()}"
        )


class _FusedScorer:
    """The decoder and, when ``lm_weight`` is not 0, the weighted LM, stepped and reordered
    together: ``step`` returns ``log p_ASR + lm_weight * log p_LM`` (N, V)."""

    def __init__(
        self,
        decoder: IncrementalDecoder,
        lm: IncrementalLM | None,
        lm_weight: float,
        cif_embeds: torch.Tensor,
        lengths: torch.Tensor,
    ) -> None:
        self.decoder = decoder
        self.lm = lm if lm_weight != 0.0 else None  # weight 0 must equal no LM: do not run it
        self.lm_weight = lm_weight
        self.dec_state = decoder.init_state(cif_embeds, lengths)
        self.lm_state = None
        if self.lm is not None:
            batch, steps = cif_embeds.shape[:2]
            self.lm_state = self.lm.init_state(batch, steps, cif_embeds.device)

    def step(self, prev: torch.Tensor, t: int) -> torch.Tensor:
        log_probs, self.dec_state = self.decoder.forward_step(prev, t, self.dec_state)
        if self.lm is not None:
            lm_log_probs, self.lm_state = self.lm.forward_step(prev, t, self.lm_state)
            log_probs = log_probs + self.lm_weight * lm_log_probs
        return log_probs

    def reorder(self, index: torch.Tensor) -> None:
        self.dec_state = self.decoder.reorder_state(self.dec_state, index)
        if self.lm is not None:
            self.lm_state = self.lm.reorder_state(self.lm_state, index)


def beam_search(
    decoder: IncrementalDecoder,
    cif_embeds: torch.Tensor,
    cif_lengths: torch.Tensor,
    beam_size: int = 10,
    nbest: int = 1,
    lm: IncrementalLM | None = None,
    lm_weight: float = 0.0,
    *,
    eos_id: int,
    blank_id: int = 0,
    unk_id: int = 1,
) -> list[list[Hypothesis]]:
    """Fixed-length beam search over a batch.

    Args:
        decoder: an AR decoder with ``init_state / forward_step / reorder_state``.
        cif_embeds: (B, S, C) CIF outputs, zero-padded.
        cif_lengths: (B,) S_b, the number of steps of each utterance (0 gives an empty result).
        beam_size: hypotheses kept per utterance; at most the vocabulary size.
        nbest: hypotheses returned per utterance, best first (1 <= nbest <= beam_size).
        lm: optional LM for shallow fusion; not run at all when ``lm_weight`` is 0.
        lm_weight: weight of the LM log-probabilities.
        eos_id: ``<sos/eos>`` (start token, and where hypotheses are truncated).
        blank_id: dropped from the results.
        unk_id: kept in the results (must differ from the other two).

    Returns:
        For each utterance, ``nbest`` :class:`Hypothesis` sorted by score, best first (an
        utterance with S_b = 0 gets ``nbest`` empty hypotheses of score 0).
    """
    check_special_ids(eos_id, blank_id, unk_id)
    _check_inputs(decoder, cif_embeds, cif_lengths)
    if beam_size < 1 or not 1 <= nbest <= beam_size:
        raise ValueError(
            f"need beam_size >= 1 and 1 <= nbest <= beam_size; got {beam_size}, {nbest}"
        )
    batch = cif_embeds.size(0)
    device = cif_embeds.device
    lengths = cif_lengths.to(device=device, dtype=torch.long)
    steps = int(lengths.max()) if batch else 0
    scores = torch.zeros(batch, beam_size, device=device)
    tokens = torch.full((batch, beam_size, steps), eos_id, dtype=torch.long, device=device)

    with torch.no_grad():
        if steps > 0:
            scorer = _FusedScorer(decoder, lm, lm_weight, cif_embeds[:, :steps], lengths)
            # Step 0 on one hypothesis per utterance: all beams would be identical here.
            prev = torch.full((batch,), eos_id, dtype=torch.long, device=device)
            log_probs = scorer.step(prev, 0)
            vocab = log_probs.size(-1)
            if beam_size > vocab:
                raise ValueError(f"beam_size {beam_size} exceeds the vocabulary size {vocab}")
            top, first = log_probs.topk(beam_size, dim=-1)
            tokens[:, :, 0] = first
            scores = torch.where((lengths > 0)[:, None], top, scores)
            if steps > 1:
                scorer.reorder(torch.arange(batch, device=device).repeat_interleave(beam_size))
            offsets = torch.arange(batch, device=device)[:, None] * beam_size
            same_beam = torch.arange(beam_size, device=device)[None, :].expand(batch, -1)

        for t in range(1, steps):
            log_probs = scorer.step(tokens[:, :, t - 1].reshape(-1), t)
            candidates = (scores.reshape(-1, 1) + log_probs).view(batch, beam_size * vocab)
            top, flat = candidates.topk(beam_size, dim=-1)
            # Utterances past their S_b steps are frozen: same beams, same scores.
            active = (lengths > t)[:, None]
            source = torch.where(active, torch.div(flat, vocab, rounding_mode="floor"), same_beam)
            scores = torch.where(active, top, scores)
            tokens[:, :, :t] = tokens[:, :, :t].gather(1, source[..., None].expand(-1, -1, t))
            tokens[:, :, t] = torch.where(active, flat % vocab, eos_id)
            if t + 1 < steps:
                scorer.reorder((source + offsets).view(-1))

    order = scores.argsort(dim=-1, descending=True, stable=True)[:, :nbest]
    best_scores = scores.gather(1, order).tolist()
    best_tokens = tokens.gather(1, order[..., None].expand(-1, -1, steps)).tolist()
    results = []
    for b, length in enumerate(lengths.tolist()):
        results.append(
            [
                make_hypothesis(best_tokens[b][k][:length], best_scores[b][k], eos_id, blank_id)
                for k in range(nbest)
            ]
        )
    return results


def greedy_search(
    decoder: IncrementalDecoder,
    cif_embeds: torch.Tensor,
    cif_lengths: torch.Tensor,
    lm: IncrementalLM | None = None,
    lm_weight: float = 0.0,
    *,
    eos_id: int,
    blank_id: int = 0,
    unk_id: int = 1,
) -> list[list[Hypothesis]]:
    """Fixed-length greedy search: the argmax token at each of the S_b steps.

    Arguments as :func:`beam_search`. Equals ``beam_search(..., beam_size=1)``.

    Returns:
        For each utterance a list with one :class:`Hypothesis`.
    """
    check_special_ids(eos_id, blank_id, unk_id)
    _check_inputs(decoder, cif_embeds, cif_lengths)
    batch = cif_embeds.size(0)
    device = cif_embeds.device
    lengths = cif_lengths.to(device=device, dtype=torch.long)
    steps = int(lengths.max()) if batch else 0
    scores = torch.zeros(batch, device=device)
    tokens = torch.full((batch, steps), eos_id, dtype=torch.long, device=device)

    with torch.no_grad():
        if steps > 0:
            scorer = _FusedScorer(decoder, lm, lm_weight, cif_embeds[:, :steps], lengths)
            prev = torch.full((batch,), eos_id, dtype=torch.long, device=device)
        for t in range(steps):
            best, prev = scorer.step(prev, t).max(dim=-1)
            scores = torch.where(lengths > t, scores + best, scores)
            tokens[:, t] = prev

    return [
        [make_hypothesis(row[:length], score, eos_id, blank_id)]
        for row, score, length in zip(tokens.tolist(), scores.tolist(), lengths.tolist())
    ]
