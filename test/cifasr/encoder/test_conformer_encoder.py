"""ConformerEncoder: the original's parameter counts and lengths, batch invariance, bf16."""

from __future__ import annotations

import inspect
import math

import pytest
import torch

from cifasr.encoder import ENCODER_CLASSES, ConformerEncoder, TransformerEncoder

IDIM = 20


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conf_for(cls: type, conf: dict) -> dict:
    """The part of ``conf`` that ``cls`` accepts (the Transformer has no conv module)."""
    names = set(inspect.signature(cls.__init__).parameters)
    return {k: v for k, v in conf.items() if k in names}


def cif_lengths(t: int) -> int:
    """conv2d_cif (floor((T-1)/2)) then two poolings (ceil(L/2) each)."""
    t = (t - 1) // 2
    return math.ceil(math.ceil(t / 2) / 2)


def test_original_configuration_has_the_logged_parameter_counts() -> None:
    enc = ConformerEncoder(80)
    assert n_params(enc) == 40_862_720
    assert n_params(enc.encoders[0]) == 2_634_496
    assert n_params(enc.embed.conv) + n_params(enc.embed.out) == 1_279_488
    assert n_params(enc.embed.input_linear) == 65_792
    assert enc.output_size() == 256


def test_registry_and_config_defaults() -> None:
    assert ENCODER_CLASSES == {"conformer": ConformerEncoder, "transformer": TransformerEncoder}
    # The config system prints every argument's default: only input_size may lack one.
    for cls in ENCODER_CLASSES.values():
        params = inspect.signature(cls.__init__).parameters
        required = [n for n, p in params.items() if p.default is p.empty and n != "self"]
        assert required == ["input_size"], cls


def test_426_frames_become_212_then_106_then_53(small, padded_batch) -> None:
    enc = ConformerEncoder(IDIM, **small).eval()
    seen = []
    for layer in enc.encoders:
        layer.register_forward_pre_hook(lambda m, args: seen.append(int(args[1].sum())))
    with torch.no_grad():
        out, out_lens = enc(*padded_batch([426]))
    assert seen == [212, 106, 53]  # valid frames entering layers 1, 2 (after pool 1), 3
    assert out_lens.tolist() == [53] and out.shape == (1, 53, 16)
    assert out_lens.dtype == torch.int64


@pytest.mark.parametrize(
    ("t", "expected"),
    [(3, 1), (4, 1), (5, 1), (6, 1), (7, 1), (9, 1), (10, 1), (11, 2), (13, 2), (426, 53),
     (427, 54), (429, 54), (430, 54), (431, 54), (433, 54), (434, 54), (435, 55), (600, 75),
     (601, 75)],
)  # fmt: skip
def test_length_table(t: int, expected: int) -> None:
    assert cif_lengths(t) == expected


def test_lengths_in_a_padded_batch_follow_the_table(small, padded_batch) -> None:
    lengths = [3, 4, 5, 10, 11, 13, 426, 427, 434, 601]
    enc = ConformerEncoder(IDIM, **small).eval()
    with torch.no_grad():
        out, out_lens = enc(*padded_batch(lengths))
    assert out_lens.tolist() == [cif_lengths(t) for t in lengths]
    assert out.size(1) == 75


def test_espnet_conv2d_and_linear_input_layers_lengths(small, padded_batch) -> None:
    lengths = [7, 8, 9, 10, 11, 12, 13, 14, 15, 100, 101]
    conf = {**small, "pooling_layers": None}
    with torch.no_grad():
        _, got = ConformerEncoder(IDIM, input_layer="conv2d", **conf).eval()(*padded_batch(lengths))
        assert got.tolist() == [((t - 1) // 2 - 1) // 2 for t in lengths]
        _, got = ConformerEncoder(IDIM, input_layer="linear", **conf).eval()(*padded_batch(lengths))
        assert got.tolist() == lengths


@pytest.mark.parametrize("cls", [ConformerEncoder, TransformerEncoder])
@pytest.mark.parametrize("input_layer", ["conv2d_cif", "conv2d"])
def test_each_utterance_of_a_padded_batch_equals_it_alone(
    cls, input_layer, small, padded_batch
) -> None:
    lengths = [50, 37, 23, 44, 31]  # odd and even, so every pooling meets odd lengths
    enc = cls(IDIM, input_layer=input_layer, **conf_for(cls, small)).eval()
    xs, lens = padded_batch(lengths)
    with torch.no_grad():
        out, out_lens = enc(xs, lens)
        for i, n in enumerate(lengths):
            alone, alone_len = enc(xs[i : i + 1, :n], lens[i : i + 1])
            assert out_lens[i] == alone_len[0]
            assert torch.allclose(out[i, : alone_len[0]], alone[0], atol=1e-5), i


def test_unmasked_conv_padding_leaks_into_valid_frames(small, padded_batch) -> None:
    # mask_conv_padding=False is the original's behaviour: the last valid frames see padding.
    enc = ConformerEncoder(IDIM, mask_conv_padding=False, **small).eval()
    xs, lens = padded_batch([50, 23])
    with torch.no_grad():
        out, out_lens = enc(xs, lens)
        alone, _ = enc(xs[1:, :23], lens[1:])
    assert (out[1, : out_lens[1]] - alone[0]).abs().max() > 1e-3


@pytest.mark.parametrize("cls", [ConformerEncoder, TransformerEncoder])
def test_frames_beyond_lengths_are_exactly_zero(cls, small, padded_batch) -> None:
    enc = cls(IDIM, **conf_for(cls, small)).train()
    out, out_lens = enc(*padded_batch([60, 41, 17]))
    for i, n in enumerate(out_lens.tolist()):
        assert torch.equal(out[i, n:], torch.zeros_like(out[i, n:]))
        assert out[i, :n].abs().sum() > 0


def test_utterance_too_short_for_any_frame_gives_zeros_not_nan(small, padded_batch) -> None:
    enc = ConformerEncoder(IDIM, **small).train()
    out, out_lens = enc(*padded_batch([30, 2]))
    assert out_lens.tolist() == [cif_lengths(30), 0]
    assert torch.equal(out[1], torch.zeros_like(out[1]))
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in enc.parameters())


def test_gradients_reach_every_parameter(small, padded_batch) -> None:
    enc = ConformerEncoder(IDIM, **small).train()
    out, _ = enc(*padded_batch([40, 29]))
    out.square().sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bf16_autocast_matches_fp32_and_trains(small, padded_batch) -> None:
    enc = ConformerEncoder(IDIM, **small)
    xs, lens = padded_batch([40, 29, 33])
    enc.eval()
    with torch.no_grad():
        ref, _ = enc(xs, lens)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low, _ = enc(xs, lens)
    assert ((low.float() - ref).norm() / ref.norm()) < 0.05
    enc.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = enc(xs, lens)
    out.float().square().sum().backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_conv2d_cif_has_no_positional_dropout(small, padded_batch) -> None:
    # The original front end's only input dropout is dropout_rate after its input Linear.
    enc = ConformerEncoder(
        IDIM, dropout_rate=0.0, attention_dropout_rate=0.0, positional_dropout_rate=0.9, **small
    ).train()
    xs, lens = padded_batch([40, 29])
    assert torch.equal(enc(xs, lens)[0], enc(xs, lens)[0])


def test_bad_configuration_and_input_name_the_problem(small) -> None:
    with pytest.raises(ValueError, match="encoder_conf.input_layer"):
        ConformerEncoder(IDIM, input_layer="conv9d")
    with pytest.raises(ValueError, match="encoder_conf.activation"):
        ConformerEncoder(IDIM, **{**small, "activation": "tanhh"})
    with pytest.raises(ValueError, match="cnn_module_kernel"):
        ConformerEncoder(IDIM, **{**small, "cnn_module_kernel": 4})
    enc = ConformerEncoder(IDIM, **small)
    with pytest.raises(ValueError, match=r"\(B, T, 20\)"):
        enc(torch.randn(1, 30, 80), torch.tensor([30]))
    with pytest.raises(ValueError, match="at least 3 frames"):
        enc(torch.randn(2, 2, IDIM), torch.tensor([2, 1]))
