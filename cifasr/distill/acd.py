"""ACD: acoustic contrastive distillation of the raw CIF outputs (docs/distillation.md §5).

For each valid CIF output c_i (an anchor) of the batch, u_i = Linear(c_i) is pulled towards its
own teacher vector e_i and away from K teacher vectors e_j drawn from the other positions of the
same batch (InfoNCE on cosine similarities, temperature 0.02, summed over anchors).

Speed: the original gathers a (M, K, D) tensor of negatives (M ~ 1000 anchors, K = 700,
D = 768: 2 GB in float32). Here the cosines of every anchor with every teacher vector of the
batch are one (M, D) x (D, M) product, and the K negatives of each anchor are gathered from that
(M, M) matrix: the same logits, without a Python loop and without the (M, K, D) tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from typeguard import typechecked

from cifasr.distill.common import TeacherCentering, check_outputs_teacher, distill_mask
from cifasr.interfaces.outputs import CifModelOutputs


def num_negatives_for(num_anchors: int, num_negatives: int) -> int:
    """K: ``num_negatives``, or int(0.8 M) when there are only M <= ``num_negatives`` anchors."""
    if num_anchors <= num_negatives:
        return int(num_anchors * 0.8)
    return num_negatives


def sample_negatives(
    num_anchors: int,
    num_negatives: int,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(M, K) indices: for each anchor, K distinct positions drawn uniformly from the M
    (its own position may be drawn), with ``torch.multinomial`` as the original.

    Args:
        num_anchors: M.
        num_negatives: K <= M.
        device: where the indices are drawn.
        generator: a ``torch.Generator`` on ``device`` for reproducible draws (default: the
            global RNG).
    """
    if num_negatives == 0:
        return torch.zeros(num_anchors, 0, dtype=torch.long, device=device)
    weights = torch.ones(num_anchors, num_anchors, device=device)
    return torch.multinomial(weights, num_negatives, replacement=False, generator=generator)


def contrastive_distillation_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    neg_index: torch.Tensor,
    temperature: float = 0.02,
    remove_self: bool = True,
    eps: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoNCE with teacher negatives, computed in float32.

    Args:
        student: (M, D) projected student vectors u_i.
        teacher: (M, D) their teacher vectors e_i (the positives).
        neg_index: (M, K) teacher rows used as negatives of each anchor.
        temperature: logits are cosines divided by this.
        remove_self: give logit -1e9 to a negative drawn at the anchor's own position.
        eps: L2-normalisation floor (``F.normalize``).

    Returns:
        ``(loss, accuracy)``: the cross entropy with the positive at index 0, summed over the M
        anchors; the fraction of anchors whose largest cosine is the positive's.
    """
    m = student.size(0)
    # bf16/fp16 cosines divided by 0.02 would move logits by ~0.2: keep this part in float32.
    with torch.autocast(device_type=student.device.type, enabled=False):
        u = F.normalize(student.float(), dim=-1, eps=eps)
        e = F.normalize(teacher.float(), dim=-1, eps=eps)
        sim = u @ e.t()  # (M, M): cos(u_i, e_j)
        positive = sim.diagonal().unsqueeze(1)  # (M, 1)
        negative = sim.gather(1, neg_index)  # (M, K)
        if remove_self:
            own = neg_index == torch.arange(m, device=neg_index.device)[:, None]
            negative = negative.masked_fill(own, -1e9)
        logits = torch.cat([positive, negative], dim=1)
        labels = torch.zeros(m, dtype=torch.long, device=logits.device)
        loss = F.cross_entropy(logits / temperature, labels, reduction="sum")
        accuracy = (logits.argmax(dim=1) == 0).float().mean()
    return loss, accuracy


class AcousticContrastiveDistiller(nn.Module):
    """ACD (registry name ``acd``): contrastive distillation of CIF outputs to PLM features.

    Args:
        input_size: C, the CIF output dimension (passed by the model).
        teacher_dim: Dt, the PLM hidden size (768 for bert-base-chinese).
        weight: lambda_ACD; the model multiplies the returned loss by it (original 1.0).
        temperature: InfoNCE temperature (original 0.02).
        num_negatives: K negatives per anchor (original 700; int(0.8 M) when M <= K).
        remove_self: mask a negative drawn at the anchor's own position with -1e9 (original on).
        eps: L2-normalisation floor (original 1e-6).
        center_teacher: subtract a running mean of the teacher vectors before the cosines
            (:class:`~cifasr.distill.common.TeacherCentering`; not in the original, which uses
            bert-base-chinese as it is). For strongly anisotropic teachers.
    """

    #: what ``input_size`` is the size of: the CIF outputs (the model builder reads this).
    reads = "cif"

    @typechecked
    def __init__(
        self,
        input_size: int,
        teacher_dim: int = 768,
        weight: float = 1.0,
        temperature: float = 0.02,
        num_negatives: int = 700,
        remove_self: bool = True,
        eps: float = 1e-6,
        center_teacher: bool = False,
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"acd: temperature must be > 0, got {temperature}")
        if num_negatives < 1:
            raise ValueError(f"acd: num_negatives must be >= 1, got {num_negatives}")
        self.teacher_dim = teacher_dim
        self.weight = weight
        self.temperature = temperature
        self.num_negatives = num_negatives
        self.remove_self = remove_self
        self.eps = eps
        self.proj = nn.Linear(input_size, teacher_dim)
        self.centering = TeacherCentering(teacher_dim) if center_teacher else None

    def forward(
        self,
        outputs: CifModelOutputs,
        teacher: torch.Tensor,
        teacher_lengths: torch.Tensor,
        neg_index: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        utt_ids: Sequence[str] | None = None,
    ) -> tuple[torch.Tensor, dict[str, float | torch.Tensor]]:
        """The ACD loss of a batch.

        Args:
            outputs: the model's outputs; uses ``cif_embeds`` (B, N, C), ``cif_lengths`` and
                ``target_lengths`` (checked against ``teacher_lengths`` when present).
            teacher: (B, Lt, Dt) aligned teacher features, zero-padded.
            teacher_lengths: (B,) teacher rows per utterance (N_b + 1).
            neg_index: (M, K) negatives to use instead of sampling (tests); M = number of
                valid CIF outputs within the first min(Lt, N) positions, in row-major order.
            generator: RNG for the negatives (default: torch's global RNG).
            utt_ids: utterance ids, only for error messages.

        Returns:
            ``(loss, stats)``: the unweighted loss summed over the M anchors (a float32 scalar),
            and ``acc`` (contrastive accuracy), ``anchors`` (M), ``negatives`` (K); the model
            logs them with the registry name as prefix (``acd_acc``).
        """
        check_outputs_teacher(outputs, teacher, teacher_lengths, self.teacher_dim, utt_ids, "acd")
        cif = outputs.cif_embeds
        r, mask, teacher_r = distill_mask(outputs.cif_mask, teacher, teacher_lengths, cif.size(1))
        student = self.proj(cif[:, :r][mask])  # (M, Dt)
        positives = teacher_r[mask]  # (M, Dt)
        if self.centering is not None:
            positives = self.centering(positives)
        m = student.size(0)
        if neg_index is None:
            k = num_negatives_for(m, self.num_negatives)
            neg_index = sample_negatives(m, k, student.device, generator)
        elif neg_index.dim() != 2 or neg_index.size(0) != m:
            raise ValueError(
                f"acd: neg_index must be (M, K) with M = {m} anchors, got {tuple(neg_index.shape)}"
            )
        if m == 0:
            # Keep the projection in the graph so DDP sees its (zero) gradient.
            zero = student.sum() * 0.0
            return zero, {"acc": 0.0, "anchors": 0, "negatives": 0}
        loss, acc = contrastive_distillation_loss(
            student,
            positives,
            neg_index.to(student.device),
            self.temperature,
            self.remove_self,
            self.eps,
        )
        stats = {"acc": acc.detach(), "anchors": m, "negatives": int(neg_index.size(1))}
        return loss, stats
