"""CifArDecoder: the original's size, its formula against PyTorch's own Transformer layers, and
incremental decoding equal to teacher forcing."""

import math

import pytest
import torch
from torch import nn

from cifasr.decoder import DECODER_CLASSES, CifArDecoder
from cifasr.decoder.positional import sinusoidal_table

V, C, D = 13, 12, 16


def tiny_decoder(**kwargs) -> CifArDecoder:
    conf = dict(attention_dim=D, attention_heads=2, linear_units=32, num_blocks=2)
    conf.update(kwargs)
    return CifArDecoder(V, C, **conf).eval()


def batch(b: int = 3, length: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    cif = torch.randn(b, length, C)
    lengths = torch.tensor([length, length - 2, 1][:b])
    prev = torch.randint(0, V, (b, length))
    prev[:, 0] = V - 1
    return cif, lengths, prev


def test_original_configuration_has_the_logged_decoder_size() -> None:
    decoder = DECODER_CLASSES["cif_ar"](4234, 256)
    assert sum(p.numel() for p in decoder.parameters()) == 5_060_608


def reference_forward(dec: CifArDecoder, cif: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
    """docs/architecture.md §6 with torch.nn.TransformerEncoderLayer (pre-LN, causal mask)."""
    b, length, _ = cif.shape
    layers = []
    for mine in dec.transformer.layers:
        ref = nn.TransformerEncoderLayer(
            D, 2, 32, dropout=0.0, activation="relu", batch_first=True, norm_first=True
        )
        ref.self_attn.in_proj_weight.data.copy_(mine.self_attn.in_proj.weight)
        ref.self_attn.in_proj_bias.data.copy_(mine.self_attn.in_proj.bias)
        ref.self_attn.out_proj.load_state_dict(mine.self_attn.out_proj.state_dict())
        ref.linear1.load_state_dict(mine.ffn.fc1.state_dict())
        ref.linear2.load_state_dict(mine.ffn.fc2.state_dict())
        ref.norm1.load_state_dict(mine.self_attn_norm.state_dict())
        ref.norm2.load_state_dict(mine.ffn_norm.state_dict())
        layers.append(ref.eval())
    c_prev = torch.cat([torch.zeros(b, 1, C), cif[:, :-1]], dim=1)
    e = 4.0 * dec.embed.weight[prev]  # sqrt(16)
    x = torch.cat([e, c_prev], -1) @ dec.input_proj.weight.T + sinusoidal_table(length, D)
    mask = nn.Transformer.generate_square_subsequent_mask(length)
    for layer in layers:
        x = layer(x, src_mask=mask, is_causal=True)
    z = dec.transformer.final_norm(x)
    s = torch.cat([z, cif], -1) @ dec.output_proj.weight.T
    return s @ dec.vocab_proj.weight.T


def test_teacher_forced_forward_equals_the_method_formula() -> None:
    dec = tiny_decoder()
    cif, lengths, prev = batch()
    with torch.no_grad():
        out = dec(cif, lengths, prev)
        ref = reference_forward(dec, cif, prev)
    torch.testing.assert_close(out.logits, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.logits, out.states @ dec.vocab_proj.weight.T)


def test_position_t_sees_c_t_and_c_t_minus_1_but_nothing_later() -> None:
    dec = tiny_decoder()
    cif, lengths, prev = batch(b=1)
    with torch.no_grad():
        base = dec(cif, lengths, prev).logits
        moved = cif.clone()
        moved[:, 3] += 1.0
        changed = dec(moved, lengths, prev).logits
        later_token = prev.clone()
        later_token[:, 4] = (prev[:, 4] + 1) % V
        changed_token = dec(cif, lengths, later_token).logits
    assert torch.equal(base[:, :3], changed[:, :3])
    assert not torch.allclose(base[:, 3], changed[:, 3])  # c_t enters through W_out
    assert not torch.allclose(base[:, 4], changed[:, 4])  # c_{t-1} enters through W_in
    assert torch.equal(base[:, :4], changed_token[:, :4])


def test_incremental_decoding_equals_teacher_forcing() -> None:
    dec = tiny_decoder()
    cif, lengths, prev = batch()
    with torch.no_grad():
        expected = torch.log_softmax(dec(cif, lengths, prev).logits, dim=-1)
        state = dec.init_state(cif, lengths)
        for t in range(cif.size(1)):
            log_probs, state = dec.forward_step(prev[:, t], t, state)
            torch.testing.assert_close(log_probs, expected[:, t], atol=1e-5, rtol=0)


def test_reordering_and_expanding_the_state_follows_the_rows() -> None:
    """Expand 3 utterances to 2 hypotheses each, then permute: every row keeps its history."""
    dec = tiny_decoder()
    cif, lengths, prev = batch()
    expand = torch.arange(3).repeat_interleave(2)  # rows 0,0,1,1,2,2
    permute = torch.tensor([5, 4, 0, 2, 3, 1])
    with torch.no_grad():
        expected = torch.log_softmax(dec(cif, lengths, prev).logits, dim=-1)
        expected = expected[expand][permute]
        rows_prev = prev[expand][permute]
        state = dec.init_state(cif, lengths)
        _, state = dec.forward_step(prev[:, 0], 0, state)
        _, state = dec.forward_step(prev[:, 1], 1, state)
        state = dec.reorder_state(state, expand)
        state = dec.reorder_state(state, permute)
        for t in range(2, cif.size(1)):
            log_probs, state = dec.forward_step(rows_prev[:, t], t, state)
            torch.testing.assert_close(log_probs, expected[:, t], atol=1e-5, rtol=0)


def test_steps_out_of_order_are_refused() -> None:
    dec = tiny_decoder()
    cif, lengths, prev = batch()
    state = dec.init_state(cif, lengths)
    with pytest.raises(IndexError, match="out of order"):
        dec.forward_step(prev[:, 0], 2, state)


def test_mismatched_prev_tokens_are_refused() -> None:
    dec = tiny_decoder()
    cif, lengths, prev = batch()
    with pytest.raises(ValueError, match="truncate both"):
        dec(cif, lengths, prev[:, :-1])


def test_embedding_and_vocab_projection_init_and_no_bias() -> None:
    dec = CifArDecoder(4234, 256)
    assert abs(dec.embed.weight.std().item() - 256**-0.5) < 2e-3
    assert abs(dec.vocab_proj.weight.std().item() - 256**-0.5) < 2e-3
    assert dec.input_proj.bias is None and dec.output_proj.bias is None
    assert dec.vocab_proj.bias is None
    assert dec.vocab_proj.weight.data_ptr() != dec.embed.weight.data_ptr()


def test_concatenation_projections_start_as_the_originals_xavier_uniform():
    """W_in and W_out (512 -> 256 in the AISHELL-1 model) are xavier-uniform in the original: a
    uniform bound of sqrt(6 / (fan_in + fan_out)), twice PyTorch's default Linear bound here."""
    dec = CifArDecoder(4234, 256)
    bound = math.sqrt(6 / (512 + 256))
    for proj in (dec.input_proj, dec.output_proj):
        w = proj.weight.detach()
        assert w.shape == (256, 512)
        assert float(w.abs().max()) <= bound
        assert float(w.std()) == pytest.approx(bound / math.sqrt(3), rel=0.02)
