import pytest
import torch

from cifasr.distill.lrd import LinguisticRegressionDistiller
from cifasr.interfaces.outputs import CifModelOutputs

D, DT = 4, 3


def make_outputs(states: torch.Tensor, cif_lengths: list[int], num_cif: int) -> CifModelOutputs:
    b = states.size(0)
    return CifModelOutputs(
        encoder_out=torch.zeros(b, 1, D),
        encoder_lengths=torch.ones(b, dtype=torch.long),
        alphas=torch.zeros(b, 1),
        cif_embeds=torch.zeros(b, num_cif, D),
        cif_lengths=torch.tensor(cif_lengths),
        fire_frames=torch.zeros(b, num_cif, dtype=torch.long),
        decoder_states=states,
    )


def reference_lrd(lrd, states, cif_lengths, teacher, teacher_lengths, mean=False):
    """docs/distillation.md §6 per position: sum_{b,i,d} (m*v - m*e)^2, m the CIF valid mask."""
    w, bias = lrd.proj.weight.detach().double(), lrd.proj.bias.detach().double()
    r = min(teacher.size(1), states.size(1))
    total = 0.0
    for b in range(states.size(0)):
        for i in range(min(r, cif_lengths[b])):
            v = states[b, i].detach().double() @ w.t() + bias
            e = teacher[b, i].double() if i < teacher_lengths[b] else torch.zeros(DT).double()
            sq = ((v - e) ** 2).sum().item()
            total += sq / DT if mean else sq
    return total


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    states = torch.randn(2, 4, D, generator=g)  # L = 4 decoder positions
    teacher = torch.randn(2, 5, DT, generator=g)  # Lt = 5 > L: truncated to R = 4
    teacher[1, 3:] = 0
    return states, [4, 2], teacher, torch.tensor([5, 3])


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_lrd_equals_the_formula(batch, reduction):
    states, cif_lengths, teacher, teacher_lengths = batch
    lrd = LinguisticRegressionDistiller(D, teacher_dim=DT, reduction=reduction)
    loss, stats = lrd(make_outputs(states, cif_lengths, 4), teacher, teacher_lengths)
    ref = reference_lrd(lrd, states, cif_lengths, teacher, teacher_lengths, reduction == "mean")
    assert loss.item() == pytest.approx(ref, rel=1e-5)
    assert stats["positions"] == 6
    assert lrd.weight == 0.01


def test_valid_cif_position_past_the_teacher_is_pulled_to_zero():
    # docs/distillation.md §4: 3 CIF outputs, 2 teacher rows -> the third regresses onto zero
    states = torch.randn(1, 3, D)
    teacher = torch.randn(1, 3, DT)
    teacher[0, 2] = 5.0  # beyond teacher_lengths: must be ignored, not used
    lrd = LinguisticRegressionDistiller(D, teacher_dim=DT)
    loss, _ = lrd(make_outputs(states, [3], 3), teacher, torch.tensor([2]))
    assert loss.item() == pytest.approx(
        reference_lrd(lrd, states, [3], teacher, torch.tensor([2])), rel=1e-5
    )


def test_gradient_reaches_the_decoder_state_not_the_teacher(batch):
    states, cif_lengths, teacher, teacher_lengths = batch
    states = states.clone().requires_grad_(True)
    teacher = teacher.clone().requires_grad_(True)
    lrd = LinguisticRegressionDistiller(D, teacher_dim=DT)
    loss, _ = lrd(make_outputs(states, cif_lengths, 4), teacher, teacher_lengths)
    loss.backward()
    assert teacher.grad is None
    assert states.grad[0].abs().sum() > 0
    assert states.grad[1, 2:].abs().sum() == 0  # past utterance 1's 2 CIF outputs


def test_hidden_state_needs_the_model_to_provide_it(batch):
    states, cif_lengths, teacher, teacher_lengths = batch
    lrd = LinguisticRegressionDistiller(D, teacher_dim=DT, state="hidden")
    with pytest.raises(ValueError, match="decoder_hidden"):
        lrd(make_outputs(states, cif_lengths, 4), teacher, teacher_lengths)


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="state 'final'"):
        LinguisticRegressionDistiller(D, state="final")
    with pytest.raises(ValueError, match="reduction 'avg'"):
        LinguisticRegressionDistiller(D, reduction="avg")
