"""LRD: linguistic regression distillation of the decoder state (docs/distillation.md §6).

v = Linear(s) on the decoder's state under teacher forcing, regressed onto the teacher rows of
the same positions with a squared error summed over dimensions ("noscale") and positions, both
sides multiplied by the CIF valid mask truncated to R = min(teacher rows, decoder positions).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from typeguard import typechecked

from cifasr.distill.common import check_outputs_teacher, distill_mask
from cifasr.interfaces.outputs import CifModelOutputs

STATES = ("states", "hidden")
REDUCTIONS = ("sum", "mean")


class LinguisticRegressionDistiller(nn.Module):
    """LRD (registry name ``lrd``): squared-error distillation of decoder states to PLM features.

    Args:
        input_size: D, the decoder state dimension (passed by the model).
        teacher_dim: Dt, the PLM hidden size.
        weight: lambda_LRD; the model multiplies the returned loss by it (original 0.01).
        state: ``states`` = s_t, the state after W_out and before the vocabulary projection
            (``CifModelOutputs.decoder_states``, the original's ``pre_final_output_proj``);
            ``hidden`` = z_t, the last decoder layer's output (the original's ``tfm_outputs``;
            needs the model to fill ``decoder_hidden``).
        reduction: over the Dt dimensions of each position: ``sum`` (the original's
            ``--no-dim-scaling-for-mse-loss``) or ``mean``.
    """

    #: what ``input_size`` is the size of: the decoder state (the model builder reads this).
    reads = "decoder"

    @typechecked
    def __init__(
        self,
        input_size: int,
        teacher_dim: int = 768,
        weight: float = 0.01,
        state: str = "states",
        reduction: str = "sum",
    ) -> None:
        super().__init__()
        if state not in STATES:
            raise ValueError(f"lrd: state '{state}': choose one of {', '.join(STATES)}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"lrd: reduction '{reduction}': choose one of {', '.join(REDUCTIONS)}")
        self.teacher_dim = teacher_dim
        self.weight = weight
        self.state = state
        self.reduction = reduction
        self.proj = nn.Linear(input_size, teacher_dim)

    def _state(self, outputs: CifModelOutputs) -> torch.Tensor:
        name = "decoder_states" if self.state == "states" else "decoder_hidden"
        s = getattr(outputs, name, None)
        if s is None:
            raise ValueError(
                f"lrd: state '{self.state}' needs CifModelOutputs.{name}, but the model did not "
                "fill it (the decoder must run with teacher forcing in training and validation)"
            )
        return s

    def forward(
        self,
        outputs: CifModelOutputs,
        teacher: torch.Tensor,
        teacher_lengths: torch.Tensor,
        utt_ids: Sequence[str] | None = None,
    ) -> tuple[torch.Tensor, dict[str, float | torch.Tensor]]:
        """The LRD loss of a batch.

        Args:
            outputs: the model's outputs; uses the chosen decoder state (B, L, D), ``cif_lengths``
                (the mask) and ``target_lengths`` (checked against ``teacher_lengths``).
            teacher: (B, Lt, Dt) aligned teacher features, zero-padded.
            teacher_lengths: (B,) teacher rows per utterance.
            utt_ids: utterance ids, only for error messages.

        Returns:
            ``(loss, stats)``: the unweighted squared error summed over positions (and dims for
            ``reduction="sum"``), float32 scalar; and ``positions`` (masked positions), logged
            by the model as ``lrd_positions``.
        """
        check_outputs_teacher(outputs, teacher, teacher_lengths, self.teacher_dim, utt_ids, "lrd")
        s = self._state(outputs)
        r, mask, teacher_r = distill_mask(outputs.cif_mask, teacher, teacher_lengths, s.size(1))
        m = mask[..., None].to(s.dtype)
        v = self.proj(s[:, :r]) * m
        e = teacher_r * m.to(teacher_r.dtype)
        sq = (v.float() - e.float()).pow(2)
        loss = sq.sum() if self.reduction == "sum" else sq.mean(-1).sum()
        return loss, {"positions": int(mask.sum())}
