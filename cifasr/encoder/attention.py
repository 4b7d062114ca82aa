"""Multi-head self-attention, plain and with ESPnet "latest" relative positions.

Parameter names and shapes are ESPnet's (``linear_q/k/v/out``, ``linear_pos``, ``pos_bias_u/v``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cifasr.nn import dropout


def rel_shift(x: torch.Tensor) -> torch.Tensor:
    """ESPnet's relative shift, as a strided view (no copy).

    Args:
        x: (B, H, T, 2T-1) contiguous scores against relative positions T-1 ... -(T-1).

    Returns:
        (B, H, T, T) view with ``out[..., i, j] = x[..., i, T - 1 - i + j]``, the score of query i
        against relative position i - j (ESPnet ``rel_shift`` with ``zero_triu=False``).
    """
    b, h, t, n = x.shape
    if n != 2 * t - 1:
        raise ValueError(f"rel_shift: expected (B, H, T, 2T-1), got {tuple(x.shape)}")
    x = x.contiguous()
    # Element (i, j) sits at i * (2T - 1) + (T - 1 - i + j) = (T - 1) + i * (2T - 2) + j.
    return x.as_strided(
        (b, h, t, t), (x.stride(0), x.stride(1), n - 1, 1), x.storage_offset() + t - 1
    )


def rel_shift_flat(x: torch.Tensor) -> torch.Tensor:
    """:func:`rel_shift` made of ONNX operators (ONNX has no strided view), for the exporter.

    The input has one more column than :func:`rel_shift`'s, which is never read (the exporter
    multiplies by one more relative position, a zero one). Element (i, j) then sits at
    ``(T - 1) + i * (2T - 1) + j`` of the flattened last two axes: one contiguous slice of the
    flat scores, cut into rows of 2T - 1, of which the first T columns are kept: two copies of
    the scores where ESPnet's zero column, reshape and slice make three.

    Args:
        x: (B, H, T, 2T), scores against relative positions T-1 ... -(T-1), then any column.

    Returns:
        (B, H, T, T), equal to ``rel_shift(x[..., :-1])``.
    """
    b, h, t, n = x.shape
    flat = x.reshape(b, h, t * n)
    return flat[:, :, t - 1 : t - 1 + t * (n - 1)].reshape(b, h, t, n - 1)[:, :, :, :t]


def _key_padding_fill(dtype: torch.dtype) -> float:
    # A finite minimum (ESPnet) rather than -inf: an utterance with no valid frame then yields
    # finite, uniform attention instead of NaN; its frames are zeroed at the encoder output.
    return torch.finfo(dtype).min


class MultiHeadedAttention(nn.Module):
    """Self-attention with key padding (ESPnet ``MultiHeadedAttention``), softmax in float32.

    Explicit matmul, softmax, matmul: on CPU it matched ``F.scaled_dot_product_attention`` in fp32
    and beat it in bf16 autocast for a training step (bench/bench_encoder_attention.py
    --transformer).

    Args:
        n_head: number of heads H.
        n_feat: model dimension d (d_k = d / H).
        dropout_rate: dropout on the attention probabilities.
    """

    def __init__(self, n_head: int, n_feat: int, dropout_rate: float = 0.0) -> None:
        super().__init__()
        if n_feat % n_head:
            raise ValueError(f"attention: dimension {n_feat} is not divisible by {n_head} heads")
        self.d_k = n_feat // n_head
        self.h = n_head
        self.linear_q = nn.Linear(n_feat, n_feat)
        self.linear_k = nn.Linear(n_feat, n_feat)
        self.linear_v = nn.Linear(n_feat, n_feat)
        self.linear_out = nn.Linear(n_feat, n_feat)
        self.dropout_rate = dropout_rate

    def forward_qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, T, d) -> q, k, v, each (B, H, T, d_k)."""
        b, t, _ = x.shape
        q = self.linear_q(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        k = self.linear_k(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        return q, k, v

    def attend(self, scores: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """Masked softmax, dropout, weighted sum of values, output projection.

        Args:
            scores: (B, H, T, T) scaled scores; overwritten (masked in place).
            v: (B, H, T, d_k) values.
            key_mask: (B, T) bool, True on valid frames; padded keys get no attention.

        Returns:
            (B, T, d).
        """
        fill = _key_padding_fill(scores.dtype)
        if torch.onnx.is_in_onnx_export():
            # An added (B, 1, 1, T) bias: onnxruntime's broadcasting Where is slower than Add.
            # The same numbers: fill + score rounds to fill for |score| < 2**103.
            scores = scores + torch.where(key_mask, 0.0, fill).to(scores.dtype)[:, None, None, :]
        else:
            scores.masked_fill_(~key_mask[:, None, None, :], fill)
        # At least float32 (bf16/fp16 scores are upcast, float64 ones kept), as the original.
        soft_dtype = torch.promote_types(scores.dtype, torch.float32)
        attn = torch.softmax(scores, dim=-1, dtype=soft_dtype).to(v.dtype)
        attn = dropout(attn, self.dropout_rate, self.training)
        out = torch.matmul(attn, v)
        b, _, t, _ = out.shape
        return self.linear_out(out.transpose(1, 2).reshape(b, t, self.h * self.d_k))

    def forward(
        self, x: torch.Tensor, key_mask: torch.Tensor, pos_emb: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Self-attention.

        Args:
            x: (B, T, d).
            key_mask: (B, T) bool, True on valid frames; padded keys get no attention.
            pos_emb: unused (relative positions are the subclass's job).

        Returns:
            (B, T, d).
        """
        q, k, v = self.forward_qkv(x)
        scores = torch.matmul(q * (1.0 / math.sqrt(self.d_k)), k.transpose(-2, -1))
        return self.attend(scores, v, key_mask)


class RelPositionMultiHeadedAttention(MultiHeadedAttention):
    """ESPnet "latest" ``RelPositionMultiHeadedAttention`` (Transformer-XL scores).

    score(i, j) = ((q_i + u) . k_j + (q_i + v) . p_{i-j}) / sqrt(d_k), softmax over valid keys
    (in float32, as the original), where p_r = linear_pos(PE(r)) per head (no bias),
    u = ``pos_bias_u`` and v = ``pos_bias_v`` are learned (xavier init), no ``zero_triu``.

    Written out as matmul, softmax, matmul, with ESPnet's ``rel_shift`` as a strided view. On CPU
    this beat ``F.scaled_dot_product_attention`` with the position term as an additive float
    mask (whose gradient it then needs) for a training step, in fp32 and more so in bf16
    autocast; see bench/bench_encoder_attention.py.
    """

    def __init__(self, n_head: int, n_feat: int, dropout_rate: float = 0.0) -> None:
        super().__init__(n_head, n_feat, dropout_rate)
        self.linear_pos = nn.Linear(n_feat, n_feat, bias=False)
        self.pos_bias_u = nn.Parameter(torch.empty(self.h, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.empty(self.h, self.d_k))
        nn.init.xavier_uniform_(self.pos_bias_u)
        nn.init.xavier_uniform_(self.pos_bias_v)

    def forward(
        self, x: torch.Tensor, key_mask: torch.Tensor, pos_emb: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Self-attention with relative positions.

        Args:
            x: (B, T, d).
            key_mask: (B, T) bool, True on valid frames.
            pos_emb: (1 or B, 2T-1, d) relative embeddings (``RelPositionalEncoding``).

        Returns:
            (B, T, d).
        """
        if pos_emb is None:
            raise ValueError("relative-position attention needs pos_emb (1, 2T-1, d)")
        q, k, v = self.forward_qkv(x)
        n_pos = pos_emb.size(1)
        p = self.linear_pos(pos_emb).view(-1, n_pos, self.h, self.d_k).permute(0, 2, 3, 1)
        # Scaling q (B, H, T, d_k) is cheaper than scaling the (B, H, T, T) scores.
        scale = 1.0 / math.sqrt(self.d_k)
        q_u = (q + self.pos_bias_u[:, None, :]) * scale
        q_v = (q + self.pos_bias_v[:, None, :]) * scale
        scores = torch.matmul(q_u, k.transpose(-2, -1))
        if torch.onnx.is_in_onnx_export():
            # One more relative position (zero) for the flat shift, ONNX having no strided view.
            scores = scores + rel_shift_flat(torch.matmul(q_v, F.pad(p.to(q_v.dtype), (0, 1))))
        else:
            # In place: matmul's backward needs its inputs, not its output.
            scores.add_(rel_shift(torch.matmul(q_v, p.to(q_v.dtype))))
        return self.attend(scores, v, key_mask)
