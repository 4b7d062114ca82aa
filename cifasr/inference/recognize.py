"""Recognition with a trained CIF model: encoder + CIF once, then the decoder's search."""

from __future__ import annotations

import torch

from cifasr.interfaces.outputs import CifModelOutputs
from cifasr.search import Hypothesis, IncrementalLM, beam_search, greedy_search, nar_search


@torch.no_grad()
def recognize(
    model: torch.nn.Module,
    speech: torch.Tensor,
    speech_lengths: torch.Tensor,
    beam_size: int = 1,
    nbest: int = 1,
    lm: IncrementalLM | None = None,
    lm_weight: float = 0.0,
) -> tuple[list[list[Hypothesis]], CifModelOutputs]:
    """Decode a batch of features with a :class:`~cifasr.models.cif_asr.CifASRModel`.

    The model must be in eval mode (no CIF scaling; the predictor's ``tail_threshold`` applies:
    set it to the decoding value, 0.4 in the original, before calling).

    Args:
        model: the ASR model.
        speech: (B, T, D) features; speech_lengths: (B,) frames.
        beam_size: 1 for greedy search; AR decoders only (NAR decoders take the argmax).
        nbest: hypotheses per utterance (<= beam_size).
        lm: an incremental LM for shallow fusion, or None.
        lm_weight: LM weight (0 runs no LM).

    Returns:
        ``(hyps, outputs)``: for each utterance its n-best :class:`Hypothesis` list (best first),
        and the encoder/CIF outputs (``fire_frames`` gives each CIF position's frame).
    """
    out = model.compute_outputs(speech, speech_lengths)
    specials = dict(eos_id=model.sos_eos, blank_id=model.blank_id, unk_id=model.unk_id)
    decoder = model.decoder
    if not getattr(decoder, "autoregressive", True):
        hyps = nar_search(
            decoder,
            out.cif_embeds,
            out.cif_lengths,
            out.encoder_out,
            out.encoder_lengths,
            **specials,
        )
    elif beam_size <= 1:
        hyps = greedy_search(
            decoder, out.cif_embeds, out.cif_lengths, lm=lm, lm_weight=lm_weight, **specials
        )
    else:
        hyps = beam_search(
            decoder,
            out.cif_embeds,
            out.cif_lengths,
            beam_size=beam_size,
            nbest=nbest,
            lm=lm,
            lm_weight=lm_weight,
            **specials,
        )
    return hyps, out
