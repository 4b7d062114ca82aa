import math

import pytest
import torch

from cifasr.distill.acd import (
    AcousticContrastiveDistiller,
    num_negatives_for,
    sample_negatives,
)
from cifasr.distill.io import TeacherFeatureError
from cifasr.interfaces.outputs import CifModelOutputs

C, DT = 6, 5


def make_outputs(cif: torch.Tensor, cif_lengths: list[int], target_lengths=None) -> CifModelOutputs:
    b, n, _ = cif.shape
    return CifModelOutputs(
        encoder_out=torch.zeros(b, 1, cif.size(-1)),
        encoder_lengths=torch.ones(b, dtype=torch.long),
        alphas=torch.zeros(b, 1),
        cif_embeds=cif,
        cif_lengths=torch.tensor(cif_lengths),
        fire_frames=torch.zeros(b, n, dtype=torch.long),
        target_lengths=None if target_lengths is None else torch.tensor(target_lengths),
    )


def reference_acd(distiller, cif, cif_lengths, teacher, teacher_lengths, neg_index, tau=0.02):
    """docs/distillation.md §5 evaluated anchor by anchor in float64, straight from the formula."""
    w = distiller.proj.weight.detach().double()
    bias = distiller.proj.bias.detach().double()
    r = min(teacher.size(1), cif.size(1))
    anchors, positives = [], []
    for b in range(cif.size(0)):
        for i in range(min(r, cif_lengths[b])):
            anchors.append(cif[b, i].detach().double() @ w.t() + bias)
            row = teacher[b, i].double() if i < teacher_lengths[b] else torch.zeros(DT).double()
            positives.append(row)

    def cos(x, y):
        nx, ny = max(x.norm().item(), 1e-6), max(y.norm().item(), 1e-6)
        return float(x @ y) / (nx * ny)

    total, correct = 0.0, 0
    for i, u in enumerate(anchors):
        logits = [cos(u, positives[i])]
        logits += [-1e9 if j == i else cos(u, positives[j]) for j in neg_index[i].tolist()]
        z = [x / tau for x in logits]
        top = max(z)
        total += -(z[0] - top - math.log(sum(math.exp(x - top) for x in z)))
        correct += logits[0] == max(logits)
    return total, correct / len(anchors), len(anchors)


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    cif = torch.randn(2, 4, C, generator=g)
    teacher = torch.randn(2, 5, DT, generator=g)
    teacher[0, 4:] = 0  # utterance 0 has 4 teacher rows, utterance 1 has 5
    return cif, [4, 3], teacher, torch.tensor([4, 5])


def test_acd_equals_the_formula_with_injected_negatives(batch):
    cif, cif_lengths, teacher, teacher_lengths = batch
    acd = AcousticContrastiveDistiller(C, teacher_dim=DT)
    # M = 4 + 3 = 7 anchors (R = min(5, 4) = 4); each row has its own index in it once
    neg_index = torch.tensor(
        [[0, 3, 5], [2, 1, 6], [4, 2, 0], [3, 6, 1], [5, 4, 0], [6, 5, 2], [1, 0, 6]]
    )
    loss, stats = acd(make_outputs(cif, cif_lengths), teacher, teacher_lengths, neg_index)
    ref_loss, ref_acc, m = reference_acd(acd, cif, cif_lengths, teacher, teacher_lengths, neg_index)
    assert stats["anchors"] == m == 7 and stats["negatives"] == 3
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(ref_loss, rel=1e-5)
    assert float(stats["acc"]) == pytest.approx(ref_acc)


def test_valid_cif_position_past_the_teacher_rows_has_a_zero_positive():
    # docs/distillation.md §4: utterance 0 fires 3 times but has only 2 teacher rows -> its third
    # anchor's positive is the zero vector (cosine 0), as in the original
    g = torch.Generator().manual_seed(2)
    cif = torch.randn(2, 3, C, generator=g)
    teacher = torch.randn(2, 3, DT, generator=g)
    teacher[0, 2] = 7.0  # padding garbage must not be used
    teacher_lengths = torch.tensor([2, 3])
    acd = AcousticContrastiveDistiller(C, teacher_dim=DT)
    neg_index = torch.tensor([[1, 3], [0, 4], [5, 1], [4, 0], [2, 5], [3, 1]])
    loss, stats = acd(make_outputs(cif, [3, 3]), teacher, teacher_lengths, neg_index)
    ref_loss, _, m = reference_acd(acd, cif, [3, 3], teacher, teacher_lengths, neg_index)
    assert stats["anchors"] == m == 6
    assert loss.item() == pytest.approx(ref_loss, rel=1e-5)


def test_a_negative_drawn_at_the_anchor_itself_is_removed(batch):
    cif, cif_lengths, teacher, teacher_lengths = batch
    acd = AcousticContrastiveDistiller(C, teacher_dim=DT)
    outputs = make_outputs(cif, cif_lengths)
    others = torch.tensor([[(i + k) % 7 for k in (1, 2)] for i in range(7)])
    with_self = torch.cat([torch.arange(7)[:, None], others], dim=1)
    loss_self, _ = acd(outputs, teacher, teacher_lengths, with_self)
    loss_without, _ = acd(outputs, teacher, teacher_lengths, others)
    assert loss_self.item() == pytest.approx(loss_without.item(), rel=1e-6)
    # ... and kept (it duplicates the positive) when remove_self is off
    acd.remove_self = False
    assert acd(outputs, teacher, teacher_lengths, with_self)[0].item() > loss_without.item() + 1


def test_number_of_negatives_follows_the_original():
    assert num_negatives_for(950, 700) == 700
    assert num_negatives_for(701, 700) == 700
    assert num_negatives_for(700, 700) == 560  # int(0.8 M) when M <= K
    assert num_negatives_for(10, 700) == 8
    assert num_negatives_for(1, 700) == 0


def test_sampled_negatives_are_distinct_per_anchor_and_reproducible():
    idx = sample_negatives(50, 40, generator=torch.Generator().manual_seed(3))
    assert idx.shape == (50, 40)
    assert all(len(set(row)) == 40 for row in idx.tolist())
    assert int(idx.min()) >= 0 and int(idx.max()) < 50
    again = sample_negatives(50, 40, generator=torch.Generator().manual_seed(3))
    assert torch.equal(idx, again)


def test_sampling_uses_k_of_0_8_m_and_a_seeded_generator(batch):
    cif, cif_lengths, teacher, teacher_lengths = batch
    acd = AcousticContrastiveDistiller(C, teacher_dim=DT)
    outputs = make_outputs(cif, cif_lengths)
    loss1, stats = acd(
        outputs, teacher, teacher_lengths, generator=torch.Generator().manual_seed(5)
    )
    loss2, _ = acd(outputs, teacher, teacher_lengths, generator=torch.Generator().manual_seed(5))
    assert stats["negatives"] == int(0.8 * 7) == 5
    assert loss1.item() == loss2.item()


def test_gradient_reaches_the_cif_and_encoder_but_not_the_teacher(batch):
    _, cif_lengths, teacher, teacher_lengths = batch
    encoder = torch.nn.Linear(3, C)  # stands for everything upstream of the CIF outputs
    x = torch.randn(2, 4, 3)
    cif = encoder(x)
    cif.retain_grad()
    teacher = teacher.clone().requires_grad_(True)
    acd = AcousticContrastiveDistiller(C, teacher_dim=DT)
    loss, _ = acd(make_outputs(cif, cif_lengths), teacher, teacher_lengths)
    loss.backward()
    assert teacher.grad is None
    assert encoder.weight.grad.abs().sum() > 0
    assert acd.proj.weight.grad.abs().sum() > 0
    assert cif.grad[0].abs().sum() > 0
    assert cif.grad[1, 3].abs().sum() == 0  # padding (utterance 1 has 3 CIF outputs)


def test_no_anchor_gives_zero_loss_with_the_projection_in_the_graph():
    acd = AcousticContrastiveDistiller(C, teacher_dim=DT)
    cif = torch.randn(1, 2, C, requires_grad=True)
    loss, stats = acd(make_outputs(cif, [0]), torch.zeros(1, 2, DT), torch.tensor([2]))
    loss.backward()
    assert loss.item() == 0.0 and stats["anchors"] == 0
    assert acd.proj.weight.grad is not None


def test_student_equal_to_teacher_is_fully_accurate():
    acd = AcousticContrastiveDistiller(DT, teacher_dim=DT)
    with torch.no_grad():
        acd.proj.weight.copy_(torch.eye(DT))
        acd.proj.bias.zero_()
    teacher = torch.eye(DT)[None, :4]  # 4 orthogonal teacher rows
    _, stats = acd(make_outputs(teacher.clone(), [4]), teacher, torch.tensor([4]))
    assert float(stats["acc"]) == 1.0


def test_teacher_of_another_dimension_is_a_clear_error(batch):
    cif, cif_lengths, teacher, teacher_lengths = batch
    acd = AcousticContrastiveDistiller(C, teacher_dim=768)
    with pytest.raises(TeacherFeatureError, match="5-dim but teacher_dim is 768"):
        acd(make_outputs(cif, cif_lengths), teacher, teacher_lengths)


def test_teacher_rows_not_matching_the_targets_name_the_utterance(batch):
    cif, cif_lengths, teacher, teacher_lengths = batch
    acd = AcousticContrastiveDistiller(C, teacher_dim=DT)
    outputs = make_outputs(cif, cif_lengths, target_lengths=[4, 4])
    with pytest.raises(TeacherFeatureError, match="utterance 'u2' has 5 teacher rows but 4"):
        acd(outputs, teacher, teacher_lengths, utt_ids=["u1", "u2"])


def test_targets_clamped_to_the_decoder_length_are_not_a_mismatch(batch):
    # eval mode: fewer CIF outputs (L = 3) than targets; the model clamps target_lengths to L
    cif, _, teacher, teacher_lengths = batch
    outputs = make_outputs(cif[:, :3], [3, 3], target_lengths=[3, 3])
    outputs.target = torch.zeros(2, 3, dtype=torch.long)
    acd = AcousticContrastiveDistiller(C, teacher_dim=DT)
    loss, stats = acd(outputs, teacher, teacher_lengths)
    assert stats["anchors"] == 6 and torch.isfinite(loss)


def test_gradient_reaches_the_encoder_and_cif_of_the_real_model(tiny_config):
    from cifasr.tasks.asr import build_model

    model = build_model(tiny_config, vocab_size=12)
    g = torch.Generator().manual_seed(0)
    lengths, text_lengths = torch.tensor([64, 48]), torch.tensor([5, 3])
    speech = torch.randn(2, 64, 20, generator=g)
    speech[1, 48:] = 0
    text = torch.randint(2, 11, (2, 5), generator=g)
    text[1, 3:] = -1
    out = model.compute_outputs(speech, lengths, text, text_lengths)
    teacher = torch.randn(2, 6, 16, generator=g).requires_grad_(True)
    acd = AcousticContrastiveDistiller(out.cif_embeds.size(-1), teacher_dim=16)
    loss, stats = acd(out, teacher, text_lengths + 1)
    loss.backward()
    assert stats["anchors"] == 6 + 4  # training: one CIF output per target (with <sos/eos>)
    assert teacher.grad is None
    for part in (model.encoder, model.predictor):
        grads = [p.grad for p in part.parameters() if p.requires_grad]
        assert grads and all(gr is not None for gr in grads)
        assert sum(float(gr.abs().sum()) for gr in grads) > 0
    assert all(p.grad is None for p in model.decoder.parameters())


def test_centring_tracks_the_teacher_mean_and_acd_uses_centred_positives(batch):
    """center_teacher: the running mean is the cumulative mean of the first batches' valid rows
    (then frozen in evaluation), and the loss is the formula's on the centred teacher rows."""
    cif, cif_lengths, teacher, teacher_lengths = batch
    offset = torch.linspace(3.0, 5.0, DT)  # a large common component, as anisotropic PLMs have
    shifted = teacher + offset
    shifted[0, 4:] = 0
    neg_index = torch.tensor(
        [[0, 3, 5], [2, 1, 6], [4, 2, 0], [3, 6, 1], [5, 4, 0], [6, 5, 2], [1, 0, 6]]
    )
    acd = AcousticContrastiveDistiller(C, teacher_dim=DT, center_teacher=True)
    outputs = make_outputs(cif, cif_lengths)
    loss, _ = acd(outputs, shifted, teacher_lengths, neg_index)
    rows = torch.cat([shifted[0, :4], shifted[1, :3]])  # the 7 anchors' positives
    torch.testing.assert_close(acd.centering.mean, rows.mean(0))
    centred = shifted - rows.mean(0)
    centred[0, 4:] = 0  # the reference reads rows past the teacher length as zero
    ref, _, _ = reference_acd(acd, cif, cif_lengths, centred, teacher_lengths, neg_index)
    assert loss.item() == pytest.approx(ref, rel=1e-5)
    # a second batch: the cumulative mean of both; evaluation does not move it
    acd(outputs, shifted * 2, teacher_lengths, neg_index)
    torch.testing.assert_close(acd.centering.mean, rows.mean(0) * 1.5)
    acd.eval()
    acd(outputs, shifted * 10, teacher_lengths, neg_index)
    torch.testing.assert_close(acd.centering.mean, rows.mean(0) * 1.5)
    assert "centering.mean" in acd.state_dict()  # resumes with the model
