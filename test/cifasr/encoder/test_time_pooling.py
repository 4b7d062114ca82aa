"""In-encoder max pooling: padding never wins, odd lengths keep their last frame."""

from __future__ import annotations

import pytest
import torch

from cifasr.encoder.pooling import check_pooling_layers, max_pool_pairs


def test_pooled_values_lengths_and_zero_padding() -> None:
    x = torch.tensor([[1.0, 5.0, 2.0, 0.0, 7.0], [3.0, 1.0, 9.0, 9.0, 9.0]])[:, :, None]
    lengths = torch.tensor([5, 2])
    # Padding of the second utterance holds large values: it must not win the max.
    y, new_lengths, mask = max_pool_pairs(x, lengths)
    assert new_lengths.tolist() == [3, 1]
    # Odd padded length 5: one frame is added, so the last frame 7.0 survives.
    assert y[..., 0].tolist() == [[5.0, 2.0, 7.0], [3.0, 0.0, 0.0]]
    assert mask.tolist() == [[True, True, True], [True, False, False]]


def test_odd_length_inside_even_batch_uses_its_last_frame_only() -> None:
    x = torch.tensor([[[1.0], [2.0], [3.0], [100.0]]])
    y, lengths, _ = max_pool_pairs(x, torch.tensor([3]))
    assert lengths.tolist() == [2]
    assert y[0, :, 0].tolist() == [2.0, 3.0]


def test_zero_length_gives_zeros_not_nan() -> None:
    y, lengths, _ = max_pool_pairs(torch.randn(2, 4, 3), torch.tensor([4, 0]))
    assert lengths.tolist() == [2, 0]
    assert torch.equal(y[1], torch.zeros(2, 3))


def test_gradient_reaches_only_the_max() -> None:
    x = torch.tensor([[[1.0], [4.0], [3.0], [2.0]]], requires_grad=True)
    y, _, _ = max_pool_pairs(x, torch.tensor([4]))
    y.sum().backward()
    assert x.grad[0, :, 0].tolist() == [0.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("bad", [[-1, 3], [3, 16], [5, 5]])
def test_bad_pooling_layers_name_the_key(bad: list[int]) -> None:
    with pytest.raises(ValueError, match="encoder_conf.pooling_layers"):
        check_pooling_layers(bad, 15)


def test_pooling_layers_are_sorted_and_none_means_no_pooling() -> None:
    assert check_pooling_layers([10, 5], 15) == (5, 10)
    assert check_pooling_layers(None, 15) == ()


@pytest.mark.parametrize(
    "encoder,input_layer,pooling,factor",
    [
        ("conformer", "conv2d_cif", [1, 2], 8),  # the original: 2 x 2 x 2 (80 ms frames)
        ("conformer", "conv2d", [], 4),
        ("transformer", "linear", [1], 2),
        ("transformer", "conv2d_cif", [1, 2], 8),
        ("conformer", "conv2d_cif", [0, 1], 8),  # mini_zh: pool the input layer's output too
        ("transformer", "conv2d_cif", [0], 4),
    ],
)
def test_subsampling_factor_is_the_frame_ratio(encoder, input_layer, pooling, factor) -> None:
    """Timestamps multiply encoder frames by subsampling_factor: it must be the true ratio."""
    from cifasr.encoder import ENCODER_CLASSES

    conf = {"output_size": 16, "attention_heads": 2, "linear_units": 16, "num_blocks": 2}
    conf.update(input_layer=input_layer, pooling_layers=pooling)
    enc = ENCODER_CLASSES[encoder](20, **conf).eval()
    assert enc.subsampling_factor == factor
    frames = 8 * factor * 10 + 3
    with torch.no_grad():
        out, lengths = enc(torch.randn(1, frames, 20), torch.tensor([frames]))
    assert abs(int(lengths[0]) * factor - frames) < 2 * factor


def test_pooling_at_0_pools_the_input_layers_output_before_the_first_layer() -> None:
    """pooling_layers [0, 1]: the first layer already sees 40 ms frames (conv 2x, pooling 2x)."""
    from cifasr.encoder import ENCODER_CLASSES

    conf = {"output_size": 16, "attention_heads": 2, "linear_units": 16, "num_blocks": 2}
    enc = ENCODER_CLASSES["conformer"](20, **conf, pooling_layers=[0, 1]).eval()
    seen = []
    enc.encoders[0].register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape[1]))
    with torch.no_grad():
        out, lengths = enc(torch.randn(1, 426, 20), torch.tensor([426]))
    assert seen == [106]  # 426 -> 212 (conv) -> 106 (pooling 0)
    assert lengths.tolist() == [53] and out.shape[1] == 53
