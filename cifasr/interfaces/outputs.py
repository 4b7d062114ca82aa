"""What one forward pass of the CIF ASR model computes, for the distillers and the search."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class CifModelOutputs:
    """Intermediate tensors of :class:`cifasr.models.cif_asr.CifASRModel` for one batch.

    B is the batch size, T' the number of encoder frames, N the number of CIF outputs, L the number
    of decoder positions (``min(N, max target length)`` in training, targets include ``<sos/eos>``),
    C the encoder/CIF dimension, D the decoder dimension and V the vocabulary size.

    Attributes:
        encoder_out: (B, T', C) final encoder output, zero beyond ``encoder_lengths``.
        encoder_lengths: (B,) valid encoder frames.
        alphas: (B, T') unscaled CIF weights, 0 on padded frames (the quantity loss uses these).
        cif_embeds: (B, N, C) raw CIF outputs, the decoder input (ACD distils these).
        cif_lengths: (B,) number of valid CIF outputs.
        fire_frames: (B, N) encoder frame at which each CIF output fired, -1 on padding.
        decoder_logits: (B, L, V) pre-softmax decoder output, or None when not computed.
        decoder_states: (B, L, D) decoder state before the vocabulary projection (LRD distils
            these), or None.
        decoder_hidden: (B, L, D) the decoder's Transformer output (z_t; equals
            ``decoder_states`` for decoders without an output projection), or None.
        target: (B, L) target ids with ``<sos/eos>`` appended, -1 on padding, or None.
        target_lengths: (B,) target lengths including ``<sos/eos>``, or None.
    """

    encoder_out: torch.Tensor
    encoder_lengths: torch.Tensor
    alphas: torch.Tensor
    cif_embeds: torch.Tensor
    cif_lengths: torch.Tensor
    fire_frames: torch.Tensor
    decoder_logits: torch.Tensor | None = None
    decoder_states: torch.Tensor | None = None
    decoder_hidden: torch.Tensor | None = None
    target: torch.Tensor | None = None
    target_lengths: torch.Tensor | None = None

    @property
    def cif_mask(self) -> torch.Tensor:
        """(B, N) bool, True on valid CIF outputs."""
        n = self.cif_embeds.size(1)
        return torch.arange(n, device=self.cif_lengths.device)[None, :] < self.cif_lengths[:, None]
