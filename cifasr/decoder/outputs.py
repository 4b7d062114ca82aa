"""What every CIF decoder returns from its teacher-forced / parallel forward pass."""

from __future__ import annotations

from typing import NamedTuple

import torch


class DecoderOutput(NamedTuple):
    """Decoder outputs over L positions (B utterances, model size D, vocabulary V).

    Attributes:
        logits: (B, L, V) pre-softmax scores.
        states: (B, L, D) the state right before the vocabulary projection (s_t of
            docs/architecture.md §6; LRD distils it).
        hidden: (B, L, D) the Transformer output z_t (equals ``states`` for decoders without an
            output projection W_out).
    """

    logits: torch.Tensor
    states: torch.Tensor
    hidden: torch.Tensor
