"""What :class:`~cifasr.models.cif_asr.CifASRModel` relies on from each of its parts.

The model is wired from registries (``encoder: conformer``, ``predictor: conv``, ...), so these
protocols are the contract a new part must meet; the registered classes meet it structurally
(no base class needed). Each part is also a ``torch.nn.Module``: the model registers it as a
submodule, trains its parameters and switches it between training and evaluation mode. The
model calls a part as a module (``part(...)``, which runs its ``forward``), so the protocols
state the call.

Shapes: B utterances, T feature frames of D features, T' encoder frames of size C, N CIF outputs,
L decoder positions of size D_dec, V tokens, Lt teacher rows of size Dt.

All are ``runtime_checkable``: ``isinstance(part, Encoder)`` checks that the members exist (not
their signatures); the model's constructor, under ``typeguard``, also checks the call signatures.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from cifasr.cif import PredictorOutput
from cifasr.decoder import DecoderOutput
from cifasr.interfaces import CifModelOutputs


@runtime_checkable
class FeatureTransform(Protocol):
    """Normalisation (``normalize``) and SpecAugment (``specaug``, called in training mode only).

    ``(x (B, T, D) float, lengths (B,) int64) -> (x' (B, T', D), lengths' (B,))``; frames beyond
    ``lengths`` are padding. The registered transforms keep T and the lengths.
    """

    def __call__(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


@runtime_checkable
class Encoder(Protocol):
    """The speech encoder (``encoder``).

    ``(xs (B, T, D), xs_lens (B,)) -> (out (B, T', C), out_lens (B,))``: output frames beyond
    ``out_lens`` must be zero or ignorable (the predictor masks them). ``output_size()`` is C;
    the builder sizes the predictor, the decoder, the CTC head and ACD with it.
    """

    def __call__(
        self, xs: torch.Tensor, xs_lens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def output_size(self) -> int: ...


@runtime_checkable
class Predictor(Protocol):
    """The CIF weight predictor and integrate-and-fire (``predictor``, :mod:`cifasr.cif`).

    ``(hidden (B, T', C), lengths (B,), target_lengths (B,) or None) -> PredictorOutput`` with
    ``embeds`` (B, N, C), ``token_lengths`` (B,), ``fire_frames`` (B, N) and the unscaled
    ``alphas`` (B, T'). In training mode the weights are scaled to ``target_lengths`` (N + 1
    tokens, end token included) when given; in evaluation mode they are not, and tail handling
    at ``tail_threshold`` applies (None: none). Inference sets ``tail_threshold`` to the decoding
    value.
    """

    tail_threshold: float | None

    def __call__(
        self,
        hidden: torch.Tensor,
        lengths: torch.Tensor,
        target_lengths: torch.Tensor | None = None,
    ) -> PredictorOutput: ...


@runtime_checkable
class Decoder(Protocol):
    """The CIF decoder (``decoder``, :mod:`cifasr.decoder`).

    ``(cif_embeds (B, L, C), cif_lengths (B,), prev_tokens (B, L) int64, memory (B, T', C) or
    None, memory_lengths (B,) or None) -> DecoderOutput`` with ``logits`` (B, L, V), ``states``
    and ``hidden`` (B, L, D_dec). ``prev_tokens`` is ``[<sos/eos>, y_1 .. y_{L-1}]`` (teacher
    forcing); ``memory`` is the encoder output, for decoders that attend to it.
    ``autoregressive`` says which search drives it: True needs the step-wise interface of
    :class:`cifasr.search.protocols.IncrementalDecoder`, False is decoded in one parallel pass.
    Optional: a decoder with an attribute ``glancing_ratio > 0`` also has
    ``glance(cif_embeds, cif_lengths, targets, memory, memory_lengths) -> (inputs, glanced)``,
    which the model calls in training to make the trained pass's input (``NarDecoder``).
    """

    autoregressive: bool

    def __call__(
        self,
        cif_embeds: torch.Tensor,
        cif_lengths: torch.Tensor,
        prev_tokens: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_lengths: torch.Tensor | None = None,
    ) -> DecoderOutput: ...


@runtime_checkable
class Distiller(Protocol):
    """A knowledge distiller (``distillers: {name: {...}}``, :mod:`cifasr.distill`).

    ``(outputs, teacher (B, Lt, Dt), teacher_lengths (B,)) -> (loss, stats)``: ``outputs`` is
    the teacher-forced :class:`~cifasr.interfaces.CifModelOutputs` of the batch, the teacher
    rows are aligned to the targets (Lt >= N + 1 rows per utterance, zero-padded); ``loss`` is an
    unweighted float32 scalar summed over the batch, which the model multiplies by ``weight``
    and divides by the target token count; ``stats`` are logged as ``<name>_<key>``. ``reads``
    names what the distiller's input size is the size of: ``"cif"`` (C) or ``"decoder"``
    (D_dec); the builder passes that size as the first constructor argument.
    """

    weight: float
    reads: str

    def __call__(
        self, outputs: CifModelOutputs, teacher: torch.Tensor, teacher_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float | torch.Tensor]]: ...


__all__ = ["Decoder", "Distiller", "Encoder", "FeatureTransform", "Predictor"]
