"""Weight predictors: the original architecture, masking, scaling, tail handling, registry."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F

from cifasr.cif import PREDICTOR_CLASSES, ConvCifPredictor, ParaformerCifPredictor, cif


def _inputs(bsz: int = 3, tlen: int = 30, dim: int = 16):
    hidden = torch.randn(bsz, tlen, dim)
    lengths = torch.tensor([tlen, tlen - 9, 6][:bsz])
    return hidden, lengths


def test_conv_predictor_has_the_original_parameter_count():
    assert sum(p.numel() for p in ConvCifPredictor(256).parameters()) == 197_121


def test_conv_weights_are_sigmoid_linear_conv_without_nonlinearity():
    hidden, lengths = _inputs()
    pred = ConvCifPredictor(16, channels=8, kernel_size=3).eval()
    out = pred(hidden, lengths)
    x = hidden.masked_fill((torch.arange(30) >= lengths[:, None])[..., None], 0.0)
    conv = F.conv1d(x.transpose(1, 2), pred.conv.weight, pred.conv.bias, padding=1)
    expected = torch.sigmoid(conv.transpose(1, 2) @ pred.linear.weight.T + pred.linear.bias)
    expected = expected.squeeze(-1) * (torch.arange(30) < lengths[:, None])
    torch.testing.assert_close(out.alphas, expected)
    torch.testing.assert_close(out.alpha_sums, expected.sum(-1))
    assert pred.linear.bias.abs().sum() == 0  # zero bias, xavier weight, as the original


def test_paraformer_weights_follow_funasr():
    hidden, lengths = _inputs()
    pred = ParaformerCifPredictor(
        16, l_order=2, r_order=1, smooth_factor=1.1, noise_threshold=0.05
    ).eval()
    out = pred(hidden, lengths)
    x = hidden.masked_fill((torch.arange(30) >= lengths[:, None])[..., None], 0.0).transpose(1, 2)
    conv = F.conv1d(F.pad(x, (2, 1)), pred.conv.weight, pred.conv.bias, groups=16)
    h = torch.relu(conv + x).transpose(1, 2)
    expected = torch.sigmoid(h @ pred.linear.weight.T + pred.linear.bias).squeeze(-1)
    expected = torch.relu(expected * 1.1 - 0.05) * (torch.arange(30) < lengths[:, None])
    torch.testing.assert_close(out.alphas, expected)


@pytest.mark.parametrize("name", ["conv", "paraformer"])
def test_scaling_makes_the_cif_emit_exactly_the_target_count(name):
    hidden, lengths = _inputs()
    pred = PREDICTOR_CLASSES[name](16).train()
    targets = torch.tensor([12, 7, 9])  # 9 tokens from 6 frames: weights above 1 per frame
    out = pred(hidden, lengths, targets)
    assert out.token_lengths.tolist() == targets.tolist()
    scaled_sums = out.alphas.sum(-1) * targets / (out.alpha_sums + pred.scale_eps)
    torch.testing.assert_close(scaled_sums, targets.float(), atol=1e-4, rtol=0)
    # The unscaled weights are what the quantity loss sees.
    assert not torch.allclose(out.alpha_sums, targets.float(), atol=1e-2)


def test_gradients_flow_through_the_scale_factor():
    # With constant frames every output is (its weight) * frame, and the scaled weights always
    # sum to the target: the total cannot depend on the parameters, so neither can its gradient.
    # A detached scale factor would give the total a gradient.
    pred = ConvCifPredictor(4, channels=4, dropout=0.0).train()
    hidden = torch.ones(2, 12, 4)
    out = pred(hidden, torch.tensor([12, 8]), torch.tensor([4, 3]))
    out.embeds.sum().backward()
    assert pred.conv.weight.grad.abs().max() < 1e-5
    assert pred.linear.weight.grad.abs().max() < 1e-5


def test_no_scaling_when_disabled_or_in_eval():
    hidden, lengths = _inputs()
    targets = torch.tensor([40, 30, 20])
    pred = ConvCifPredictor(16, scale_to_target=False, tail_threshold=None).train()
    out = pred(hidden, lengths, targets)
    expected = torch.floor(out.alpha_sums.double() + 0.01).long()
    assert out.token_lengths.tolist() == expected.tolist()
    pred = ConvCifPredictor(16, tail_threshold=None).eval()
    assert pred(hidden, lengths, targets).token_lengths.tolist() != targets.tolist()


@pytest.mark.parametrize("name", ["conv", "paraformer"])
def test_padded_frames_get_weight_zero_and_do_not_leak(name):
    hidden, lengths = _inputs()
    garbage = hidden.clone()
    for b, length in enumerate(lengths.tolist()):
        garbage[b, length:] = 1e6
    pred = PREDICTOR_CLASSES[name](16).eval()
    out = pred(garbage, lengths)
    pad = torch.arange(30) >= lengths[:, None]
    assert (out.alphas[pad] == 0).all()
    clean = pred(hidden.masked_fill(pad[..., None], 0.0), lengths)
    assert torch.equal(out.alphas, clean.alphas)
    assert torch.equal(out.embeds, clean.embeds)
    alone = pred(hidden[2:, :6], lengths[2:])
    torch.testing.assert_close(out.alphas[2, :6], alone.alphas[0])
    n = int(alone.token_lengths[0])
    torch.testing.assert_close(out.embeds[2, :n], alone.embeds[0])


def test_tail_handling_only_in_eval():
    hidden, lengths = _inputs()
    pred = ConvCifPredictor(16, tail_threshold=0.0, dropout=0.0)
    weights = pred.eval()(hidden, lengths)
    plain = cif(hidden, weights.alphas, lengths, pred.threshold)
    tailed = cif(hidden, weights.alphas, lengths, pred.threshold, 0.0)
    assert torch.equal(weights.token_lengths, tailed.token_lengths)
    assert (tailed.token_lengths == plain.token_lengths + 1).all()
    trained = pred.train()(hidden, lengths)  # no targets: unscaled, no tail
    assert torch.equal(trained.token_lengths, plain.token_lengths)
    pred.tail_threshold = 1.0  # what the model does at test time (0.4 there)
    assert torch.equal(pred.eval()(hidden, lengths).token_lengths, plain.token_lengths)


@pytest.mark.parametrize("name", ["conv", "paraformer"])
def test_bf16_autocast_outputs_float32(name):
    hidden, lengths = _inputs()
    pred = PREDICTOR_CLASSES[name](16).eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = pred(hidden, lengths)
    assert out.embeds.dtype == out.alphas.dtype == out.alpha_sums.dtype == torch.float32
    # The CIF itself is fp32 under autocast: it equals the fp32 CIF of the same weights.
    ref = cif(
        hidden.masked_fill((torch.arange(30) >= lengths[:, None])[..., None], 0.0),
        out.alphas,
        lengths,
        pred.threshold,
        pred.tail_threshold,
    )
    assert torch.equal(out.embeds, ref.embeds)
    torch.testing.assert_close(out.alphas, pred.float()(hidden, lengths).alphas, atol=2e-2, rtol=0)


@pytest.mark.parametrize("name", ["conv", "paraformer"])
def test_registry_constructors_take_plain_defaults(name):
    cls = PREDICTOR_CLASSES[name]
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert params[0].name == "input_size" and params[0].default is inspect.Parameter.empty
    for p in params[1:]:
        assert p.default is None or isinstance(p.default, (int, float, bool, str)), p.name


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (ConvCifPredictor, {"kernel_size": 4}, "kernel_size must be odd"),
        (ConvCifPredictor, {"threshold": 1.2}, "threshold must be in"),
        (ConvCifPredictor, {"dropout": 1.0}, "dropout must be in"),
        (ParaformerCifPredictor, {"l_order": -1}, "l_order and r_order"),
        (ParaformerCifPredictor, {"tail_threshold": -1.0}, "tail_threshold"),
        (ParaformerCifPredictor, {"scale_eps": 0.0}, "scale_eps"),
    ],
)
def test_bad_config_names_the_key(cls, kwargs, message):
    with pytest.raises(ValueError, match=f"predictor_conf.{message}"):
        cls(16, **kwargs)


def test_nan_encoder_output_gives_a_nan_quantity_not_an_error():
    # a diverged training step must reach the loss as NaN so the trainer can skip it
    from cifasr.cif import ConvCifPredictor, quantity_loss

    pred = ConvCifPredictor(8, channels=8)
    hidden = torch.randn(2, 6, 8)
    hidden[1, 2] = float("nan")
    out = pred(hidden, torch.tensor([6, 6]), torch.tensor([2, 3]))
    assert torch.isnan(quantity_loss(out.alpha_sums, torch.tensor([2, 3])))
    assert torch.isfinite(out.alpha_sums[0])
