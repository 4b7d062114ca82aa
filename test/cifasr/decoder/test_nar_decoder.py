"""NarDecoder: results independent of batch padding, size by formula, clear errors."""

import pytest
import torch

from cifasr.decoder import DECODER_CLASSES, NarDecoder

V, C, D, F_, BLOCKS = 11, 12, 16, 24, 2


def tiny(src_attention: bool = True) -> NarDecoder:
    return NarDecoder(
        V,
        C,
        attention_dim=D,
        attention_heads=2,
        linear_units=F_,
        num_blocks=BLOCKS,
        src_attention=src_attention,
    ).eval()


@pytest.mark.parametrize("src_attention", [True, False])
def test_parameter_count_by_formula(src_attention: bool) -> None:
    def linear(i: int, o: int) -> int:
        return i * o + o

    norm = 2 * D
    self_attn = linear(D, 3 * D) + linear(D, D)
    cross_attn = linear(D, D) + linear(C, 2 * D) + linear(D, D)
    ffn = linear(D, F_) + linear(F_, D)
    layer = norm + self_attn + norm + ffn + (norm + cross_attn if src_attention else 0)
    expected = C * D + BLOCKS * layer + norm + D * V  # W_in and W_vocab have no bias
    decoder = DECODER_CLASSES["nar"](
        V,
        C,
        attention_dim=D,
        attention_heads=2,
        linear_units=F_,
        num_blocks=BLOCKS,
        src_attention=src_attention,
    )
    assert sum(p.numel() for p in decoder.parameters()) == expected


@pytest.mark.parametrize("src_attention", [True, False])
def test_an_utterance_does_not_depend_on_batch_padding(src_attention: bool) -> None:
    dec = tiny(src_attention)
    cif_lengths = torch.tensor([5, 2, 0])
    mem_lengths = torch.tensor([9, 4, 3])
    cif = torch.randn(3, 5, C) * (torch.arange(5)[None, :, None] < cif_lengths[:, None, None])
    mem = torch.randn(3, 9, C)
    # Padding holds garbage on purpose: masking, not zeros, must keep it out.
    mem = torch.where(torch.arange(9)[None, :, None] < mem_lengths[:, None, None], mem, 1e3)
    with torch.no_grad():
        batched = dec(cif, cif_lengths, None, mem, mem_lengths).logits
        for b in range(3):
            n, t = int(cif_lengths[b]), int(mem_lengths[b])
            alone = dec(
                cif[b : b + 1, :n],
                cif_lengths[b : b + 1],
                None,
                mem[b : b + 1, :t],
                mem_lengths[b : b + 1],
            ).logits
            torch.testing.assert_close(batched[b : b + 1, :n], alone, atol=1e-5, rtol=1e-5)
    assert torch.isfinite(batched).all()  # the empty utterance does not produce NaN


def test_cross_attention_without_memory_is_refused() -> None:
    with pytest.raises(ValueError, match="src_attention"):
        tiny()(torch.randn(1, 3, C), torch.tensor([3]))


def test_states_and_hidden_are_the_vocab_projection_input() -> None:
    dec = tiny(src_attention=False)
    with torch.no_grad():
        out = dec(torch.randn(2, 4, C), torch.tensor([4, 3]))
    assert out.states is out.hidden
    torch.testing.assert_close(out.logits, out.hidden @ dec.vocab_proj.weight.T)
    assert NarDecoder.autoregressive is False


def glancing(ratio: float) -> NarDecoder:
    torch.manual_seed(0)
    dec = NarDecoder(
        V, C, attention_dim=D, attention_heads=2, linear_units=F_, num_blocks=BLOCKS,
        src_attention=False, glancing_ratio=ratio,
    )  # fmt: skip
    return dec.eval()  # no dropout: the first pass is reproducible


def targets_with_wrong(dec: NarDecoder, cif: torch.Tensor, lengths: torch.Tensor, wrong: list):
    """Targets equal to the decoder's own argmax except at the positions ``wrong[b]``."""
    with torch.no_grad():
        pred = dec(cif, lengths).logits.argmax(-1)
    targets = pred.clone()
    for b, positions in enumerate(wrong):
        targets[b, positions] = (pred[b, positions] + 1) % V
    positions = torch.arange(cif.size(1))
    return targets.masked_fill(positions[None, :] >= lengths[:, None], -1)


def test_glancing_replaces_floor_r_times_the_wrongly_decoded_positions() -> None:
    dec = glancing(0.5)
    lengths = torch.tensor([5, 3, 5])
    cif = torch.randn(3, 5, C)
    targets = targets_with_wrong(dec, cif, lengths, [[0, 1, 3, 4], [], [0, 1, 2, 3, 4]])
    inputs, glanced = dec.glance(cif, lengths, targets)
    assert glanced.sum(1).tolist() == [2, 0, 2]  # floor(0.5 * 4), nothing wrong, floor(2.5)
    assert not glanced[1, 3:].any()  # padding is never glanced
    with torch.no_grad():
        embedded = dec.token_embed(targets.clamp(min=0))
    torch.testing.assert_close(inputs[glanced], embedded[glanced])
    torch.testing.assert_close(inputs[~glanced], cif[~glanced])


def test_glancing_draws_positions_uniformly_and_reproducibly() -> None:
    dec = glancing(0.2)
    lengths = torch.tensor([5])
    cif = torch.randn(1, 5, C)
    targets = targets_with_wrong(dec, cif, lengths, [[0, 1, 2, 3, 4]])  # 5 wrong: 1 glanced
    counts = torch.zeros(5)
    for seed in range(200):
        _, glanced = dec.glance(
            cif, lengths, targets, generator=torch.Generator().manual_seed(seed)
        )
        counts += glanced[0]
    assert counts.sum() == 200 and counts.min() >= 20  # every position drawn, ~40 each
    again = [dec.glance(cif, lengths, targets, generator=torch.Generator().manual_seed(7))[1]]
    again.append(dec.glance(cif, lengths, targets, generator=torch.Generator().manual_seed(7))[1])
    assert torch.equal(*again)


def test_glancing_off_adds_no_parameters_and_bad_ratios_are_refused() -> None:
    assert glancing(0.0).token_embed is None
    with pytest.raises(ValueError, match="glancing_ratio > 0"):
        glancing(0.0).glance(torch.randn(1, 2, C), torch.tensor([2]), torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match=r"glancing_ratio must be in \[0, 1\]"):
        glancing(1.5)


def test_cif_skip_feeds_the_cif_outputs_to_the_output_projection() -> None:
    """cif_skip: s = W_out [z ; c] (D + C -> D, no bias), logits = W_vocab s, as the AR decoder."""
    kwargs = dict(attention_dim=D, attention_heads=2, linear_units=F_, num_blocks=BLOCKS)
    plain = NarDecoder(V, C, src_attention=False, **kwargs)
    dec = NarDecoder(V, C, src_attention=False, cif_skip=True, **kwargs).eval()
    extra = sum(p.numel() for p in dec.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == (D + C) * D
    cif = torch.randn(2, 4, C)
    with torch.no_grad():
        out = dec(cif, torch.tensor([4, 3]))
        states = torch.cat([out.hidden, cif], -1) @ dec.output_proj.weight.T
    torch.testing.assert_close(out.states, states)
    torch.testing.assert_close(out.logits, states @ dec.vocab_proj.weight.T)
