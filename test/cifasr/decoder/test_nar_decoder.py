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
