"""Relative-position attention equals the ESPnet formula; positions equal ESPnet's table."""

from __future__ import annotations

import math

import pytest
import torch

from cifasr.encoder.attention import (
    MultiHeadedAttention,
    RelPositionMultiHeadedAttention,
    rel_shift,
    rel_shift_flat,
)
from cifasr.encoder.embedding import PositionalEncoding, RelPositionalEncoding


def espnet_rel_shift(x: torch.Tensor) -> torch.Tensor:
    """ESPnet's rel_shift (zero_triu=False), verbatim."""
    zero_pad = torch.zeros((*x.size()[:3], 1), device=x.device, dtype=x.dtype)
    x_padded = torch.cat([zero_pad, x], dim=-1)
    x_padded = x_padded.view(*x.size()[:2], x.size(3) + 1, x.size(2))
    return x_padded[:, :, 1:].view_as(x)[:, :, :, : x.size(-1) // 2 + 1]


def espnet_rel_table(length: int, d: int) -> torch.Tensor:
    """ESPnet RelPositionalEncoding.extend_pe, verbatim (flip/concat construction)."""
    pe_positive = torch.zeros(length, d)
    pe_negative = torch.zeros(length, d)
    position = torch.arange(0, length, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * -(math.log(10000.0) / d))
    pe_positive[:, 0::2] = torch.sin(position * div_term)
    pe_positive[:, 1::2] = torch.cos(position * div_term)
    pe_negative[:, 0::2] = torch.sin(-1 * position * div_term)
    pe_negative[:, 1::2] = torch.cos(-1 * position * div_term)
    pe_positive = torch.flip(pe_positive, [0]).unsqueeze(0)
    pe_negative = pe_negative[1:].unsqueeze(0)
    return torch.cat([pe_positive, pe_negative], dim=1)


def sinusoid(r: float, d: int) -> torch.Tensor:
    """PE(r) straight from the formula, float64: sin(r w_k) at 2k, cos(r w_k) at 2k+1."""
    w = [10000.0 ** (-2 * k / d) for k in range(d // 2)]
    out = torch.zeros(d, dtype=torch.float64)
    for k, wk in enumerate(w):
        out[2 * k] = math.sin(r * wk)
        out[2 * k + 1] = math.cos(r * wk)
    return out


def test_rel_shift_equals_espnet() -> None:
    x = torch.randn(2, 3, 7, 13)
    assert torch.equal(rel_shift(x), espnet_rel_shift(x))


def test_exportable_rel_shift_equals_the_strided_view() -> None:
    for t in (1, 2, 7, 8):
        x = torch.randn(2, 3, t, 2 * t - 1)
        extra = torch.randn(2, 3, t, 1)  # the column the flat form never reads
        assert torch.equal(rel_shift_flat(torch.cat([x, extra], dim=-1)), rel_shift(x))


def test_rel_positional_table_equals_espnet_and_centres_on_length() -> None:
    enc = RelPositionalEncoding(16, 0.0, max_len=50)
    pos = enc.position_embedding(9, torch.zeros(1))
    full = espnet_rel_table(50, 16)
    c = full.size(1) // 2
    assert torch.equal(pos, full[:, c - 9 + 1 : c + 9])
    # Past max_len the table grows instead of failing: position 0 still at the centre.
    long = enc.position_embedding(80, torch.zeros(1))
    assert long.shape == (1, 159, 16)
    assert torch.allclose(long[0, 79].double(), sinusoid(0.0, 16), atol=1e-6)
    assert torch.allclose(long[0, 0].double(), sinusoid(79.0, 16), atol=1e-4)


def test_abs_positional_encoding_scales_then_adds() -> None:
    enc = PositionalEncoding(8, 0.0, max_len=4)
    x = torch.randn(2, 6, 8)
    y, pos = enc(x)
    ref = torch.stack([sinusoid(float(t), 8) for t in range(6)]).float()
    assert pos is None
    assert torch.allclose(y, x * math.sqrt(8) + ref, atol=1e-5)


def naive_rel_attention(att: RelPositionMultiHeadedAttention, x, lengths) -> torch.Tensor:
    """score_ij = ((q_i + u).k_j + (q_i + v).p_{i-j}) / sqrt(d_k), masked softmax, in float64,
    with an explicit loop over the relative index and PE(i - j) from the formula."""
    b, t, d = x.shape
    h, dk = att.h, att.d_k
    xd = x.double()

    def proj(lin):
        return torch.nn.functional.linear(
            xd, lin.weight.double(), None if lin.bias is None else lin.bias.double()
        ).view(b, t, h, dk)

    q, k, v = proj(att.linear_q), proj(att.linear_k), proj(att.linear_v)
    u, vb = att.pos_bias_u.double(), att.pos_bias_v.double()
    w_pos = att.linear_pos.weight.double()
    out = torch.zeros(b, t, h, dk, dtype=torch.float64)
    for bi in range(b):
        for hi in range(h):
            scores = torch.empty(t, t, dtype=torch.float64)
            for i in range(t):
                for j in range(t):
                    p = (w_pos @ sinusoid(float(i - j), d)).view(h, dk)[hi]
                    ac = (q[bi, i, hi] + u[hi]) @ k[bi, j, hi]
                    bd = (q[bi, i, hi] + vb[hi]) @ p
                    scores[i, j] = (ac + bd) / math.sqrt(dk)
            scores[:, lengths[bi] :] = float("-inf")
            out[bi, :, hi] = torch.softmax(scores, dim=-1) @ v[bi, :, hi]
    lo = att.linear_out
    return torch.nn.functional.linear(out.view(b, t, d), lo.weight.double(), lo.bias.double())


def test_rel_position_attention_equals_naive_formula() -> None:
    att = RelPositionMultiHeadedAttention(n_head=2, n_feat=8, dropout_rate=0.3).eval()
    with torch.no_grad():  # non-trivial biases so that every term counts
        att.pos_bias_u.normal_()
        att.pos_bias_v.normal_()
    x = torch.randn(2, 5, 8)
    lengths = torch.tensor([5, 3])
    mask = torch.arange(5)[None] < lengths[:, None]
    pos_emb = RelPositionalEncoding(8, 0.0).position_embedding(5, x)
    got = att(x, mask, pos_emb)
    ref = naive_rel_attention(att, x, lengths).float()
    assert torch.allclose(got, ref, atol=1e-5), (got - ref).abs().max()


def test_rel_position_attention_gradients_are_exact() -> None:
    att = RelPositionMultiHeadedAttention(n_head=2, n_feat=4).double().eval()
    x = torch.randn(2, 4, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    pos_emb = RelPositionalEncoding(4).position_embedding(4, x).requires_grad_()
    params = tuple(att.parameters())

    def f(x, pos_emb, *p):
        return torch.func.functional_call(
            att, dict(zip([n for n, _ in att.named_parameters()], p)), (x, mask, pos_emb)
        )

    assert torch.autograd.gradcheck(f, (x, pos_emb, *params))


def test_plain_attention_ignores_padded_keys() -> None:
    att = MultiHeadedAttention(2, 8).eval()
    x = torch.randn(1, 6, 8)
    mask = torch.tensor([[True] * 4 + [False] * 2])
    x_garbage = x.clone()
    x_garbage[:, 4:] = 1e3 * torch.randn(1, 2, 8)
    alone = att(x[:, :4], torch.ones(1, 4, dtype=torch.bool))
    assert torch.allclose(att(x_garbage, mask)[:, :4], alone, atol=1e-5)


def test_rel_attention_requires_positions() -> None:
    att = RelPositionMultiHeadedAttention(2, 8)
    with pytest.raises(ValueError, match="pos_emb"):
        att(torch.randn(1, 3, 8), torch.ones(1, 3, dtype=torch.bool))


def test_plain_attention_equals_torch_sdpa() -> None:
    att = MultiHeadedAttention(2, 8).eval()
    x = torch.randn(2, 5, 8)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    q, k, v = att.forward_qkv(x)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None])
    ref = att.linear_out(ref.transpose(1, 2).reshape(2, 5, 8))
    assert torch.allclose(att(x, mask), ref, atol=1e-6)
