"""What ACD and LRD share: the teacher batch check and the mask (docs/distillation.md §4)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cifasr.distill.io import TeacherFeatureError
from cifasr.interfaces.outputs import CifModelOutputs


def _name(b: int, utt_ids: Sequence[str] | None) -> str:
    return f"utterance '{utt_ids[b]}'" if utt_ids is not None else f"batch item {b}"


def check_outputs_teacher(
    outputs: CifModelOutputs,
    teacher: torch.Tensor,
    teacher_lengths: torch.Tensor,
    teacher_dim: int,
    utt_ids: Sequence[str] | None,
    owner: str,
) -> None:
    """:func:`check_teacher` against the targets of the model's outputs (clamped like them)."""
    clamp = outputs.target.size(1) if outputs.target is not None else None
    check_teacher(
        teacher, teacher_lengths, teacher_dim, outputs.target_lengths, utt_ids, owner, clamp
    )


def check_teacher(
    teacher: torch.Tensor,
    teacher_lengths: torch.Tensor,
    teacher_dim: int,
    target_lengths: torch.Tensor | None = None,
    utt_ids: Sequence[str] | None = None,
    owner: str = "distiller",
    max_target_length: int | None = None,
) -> None:
    """Raise a clear error when a teacher batch does not fit the config or the targets.

    Args:
        teacher: (B, Lt, Dt) teacher features (batch key ``plm``).
        teacher_lengths: (B,) rows per utterance (N + 1).
        teacher_dim: the Dt the config expects.
        target_lengths: (B,) target lengths including ``<sos/eos>``, or None to skip.
        utt_ids: names for the messages.
        owner: the distiller named in the messages.
        max_target_length: when the model clamped ``target_lengths`` to the L decoder positions
            (fewer CIF outputs than targets), that L: teacher lengths are clamped alike before
            the comparison.

    Raises:
        TeacherFeatureError: wrong rank or dimension, or rows that do not match the targets.
    """
    if teacher.dim() != 3:
        raise TeacherFeatureError(
            f"{owner}: teacher features must be (B, L, D), got shape {tuple(teacher.shape)}"
        )
    if teacher.size(-1) != teacher_dim:
        raise TeacherFeatureError(
            f"{owner}: teacher features are {teacher.size(-1)}-dim but teacher_dim is "
            f"{teacher_dim}; set teacher_dim to the PLM's hidden size in the config, or dump the "
            "features with the intended PLM (stage 8)."
        )
    if target_lengths is None:
        return
    expected = teacher_lengths.to(target_lengths.device)
    if max_target_length is not None:
        expected = expected.clamp(max=max_target_length)
    bad = torch.nonzero(expected != target_lengths).flatten()
    if bad.numel():
        b = int(bad[0])
        raise TeacherFeatureError(
            f"{owner}: {_name(b, utt_ids)} has {int(teacher_lengths[b])} teacher rows but "
            f"{int(target_lengths[b])} target positions (tokens + <sos/eos>); {bad.numel()} "
            "utterance(s) of this batch differ. The teacher features were dumped with another "
            "token type, token list or text: re-run stage 8 (plm_dump) with the training "
            "--token_type (and --bpemodel)."
        )


def distill_mask(
    cif_mask: torch.Tensor, teacher: torch.Tensor, teacher_lengths: torch.Tensor, length: int
) -> tuple[int, torch.Tensor, torch.Tensor]:
    """The original's length regularisation and mask.

    Args:
        cif_mask: (B, N) True on valid CIF outputs.
        teacher: (B, Lt, Dt) teacher features.
        teacher_lengths: (B,) valid teacher rows.
        length: size of the student's position axis (N for ACD, L for LRD).

    Returns:
        ``(R, mask, teacher_r)``: R = min(Lt, length); mask = cif_mask[:, :R] (B, R) bool - the
        CIF valid mask, so a valid CIF position past the teacher's rows is kept with a zero
        teacher (docs/distillation.md §4); teacher_r = teacher[:, :R] with rows past
        ``teacher_lengths`` zeroed and detached, so no gradient can reach the teacher.
    """
    r = min(teacher.size(1), length, cif_mask.size(1))
    mask = cif_mask[:, :r]
    lengths = teacher_lengths.to(teacher.device)
    rows = torch.arange(r, device=teacher.device)[None, :] < lengths[:, None]
    teacher_r = teacher[:, :r].detach() * rows[..., None].to(teacher.dtype)
    return r, mask, teacher_r


class TeacherCentering(torch.nn.Module):
    """Subtract a running mean of the teacher vectors (an option of ACD).

    The token vectors of many PLMs share a large common component (anisotropy): for the
    multilingual-e5-small teacher of mini_zh, two random rows have cosine 0.72 +- 0.04 and the
    mean vector carries 72% of their energy, so InfoNCE on raw cosines at temperature 0.02 asks
    the student to separate tiny differences. Centring leaves the informative part (random-pair
    cosine 0.00 +- 0.10). The mean is estimated like BatchNorm's running statistics: the
    cumulative mean of the valid rows of the first ``1 / momentum`` training batches, an
    exponential moving average after that; evaluation uses it frozen. It is part of the model's
    state, so a resumed run continues with it.

    Args:
        dim: the teacher dimension.
        momentum: weight of a new batch's mean once the cumulative phase is over.
    """

    def __init__(self, dim: int, momentum: float = 0.01) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("batches", torch.zeros((), dtype=torch.long))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """(M, Dt) valid teacher rows, centred (updates the mean first in training mode)."""
        rows = rows.float()
        if self.training and rows.size(0):
            with torch.no_grad():
                self.batches += 1
                rate = max(1.0 / float(self.batches), self.momentum)
                self.mean.lerp_(rows.mean(0), rate)
        return rows - self.mean
