"""The online teacher: the frozen PLM computes the teacher rows inside the training step.

For small PLMs or little disk. It runs the same :class:`~cifasr.distill.plm.PLMFeatureExtractor`
as the dump, so its rows are the dumped ones (up to the float16 rounding of a float16 dump,
which ``dtype="float16"`` reproduces).

It is deliberately not an ``nn.Module``: its weights must stay out of the ASR model's
``state_dict``, optimizer and DDP buckets.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from cifasr.distill.plm import PLMFeatureExtractor, load_plm

_DTYPES = {"float32": torch.float32, "float16": torch.float16}


class OnlinePLMTeacher:
    """Frozen PLM teacher, eval mode, no gradients.

    Args:
        plm: hub name or ``save_pretrained`` directory.
        layer: hidden state to use (-1 = last; see :class:`PLMFeatureExtractor`).
        token_type: ``char``, ``bpe`` or ``word`` (how the ASR targets are tokenised).
        alignment: ``auto``, ``positional`` or ``offsets``.
        bpemodel: sentencepiece model for ``token_type="bpe"``.
        dtype: ``float32``, or ``float16`` to round the rows exactly as a float16 dump does.
        device: where the PLM runs (move it later with :meth:`to`).
        autocast: None (float32) or ``bfloat16``/``float16`` (see :class:`PLMFeatureExtractor`);
            the dump must have used the same setting for the rows to agree.
    """

    def __init__(
        self,
        plm: str | Path,
        layer: int = -1,
        token_type: str = "char",
        alignment: str = "auto",
        bpemodel: str | Path | None = None,
        dtype: str = "float32",
        device: str | torch.device = "cpu",
        autocast: str | None = None,
    ) -> None:
        if dtype not in _DTYPES:
            raise ValueError(f"dtype '{dtype}': choose one of {', '.join(_DTYPES)}")
        model, tokenizer = load_plm(plm, device)
        self.extractor = PLMFeatureExtractor(
            model,
            tokenizer,
            layer=layer,
            token_type=token_type,
            alignment=alignment,
            bpemodel=bpemodel,
            name=str(plm),
            autocast=autocast,
        )
        self.dtype = _DTYPES[dtype]

    @property
    def dim(self) -> int:
        """D, the teacher dimension."""
        return self.extractor.dim

    def to(self, device: str | torch.device) -> OnlinePLMTeacher:
        """Move the PLM to ``device``."""
        self.extractor.model.to(device)
        return self

    def __call__(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher features of a batch of transcripts.

        Args:
            texts: B transcripts (the Kaldi ``text`` field, without the utterance id).

        Returns:
            ``(features, lengths)``: (B, L_max, D) float32 zero-padded on the PLM's device (no
            grad) and (B,) int64 N_b + 1 - the batch keys ``plm`` and ``plm_lengths``.
        """
        batch = self.extractor(texts)
        return batch.features.to(self.dtype).float(), batch.lengths
