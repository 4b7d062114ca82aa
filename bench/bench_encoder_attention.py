"""Encoder training step with alternative attention implementations, timed in one run.

Times forward+backward of ``ConformerEncoder(80)`` (the 40.9M original configuration) on B=16
utterances of up to 600 input frames, in fp32 and the precisions of ``--dtype`` (default auto:
what ``amp: auto`` resolves to on this device; ``all``: bf16 autocast too), with the
relative-position self-attention computed as

- ``espnet``: ESPnet's code literally (cat-based ``rel_shift``, out-of-place ops, softmax in the
  scores' dtype, masked_fill after softmax): the reference;
- ``cifasr``: ``RelPositionMultiHeadedAttention.forward`` as shipped (strided ``rel_shift``, scale
  folded into q, in-place score ops, float32 softmax);
- ``sdpa``: ``F.scaled_dot_product_attention`` with the position scores as an additive float mask.

All three are measured in this run. Prints medians of wall time and of process CPU time (the
latter is steadier on a machine shared with other jobs, in particular with --threads 1), ratios
against ``espnet``, and how far each output and gradient is from the reference (for bf16 also
from the fp32 reference output).

With ``--transformer`` it also times ``TransformerEncoder(80)`` (12 layers) with its plain
key-padding attention as ESPnet's code (``espnet``, the reference), as shipped (``cifasr``:
explicit, float32 softmax) and through ``F.scaled_dot_product_attention`` (``sdpa``).

Run with the allocator setting the recipes' path.sh exports (no mmap, no trimming: it removes a
large page-fault cost of CPU training):

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
        tools/venv/bin/python bench/bench_encoder_attention.py [--reps 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F
from common import add_dtype_argument, precisions_to_time, print_header

from cifasr.encoder import ConformerEncoder, TransformerEncoder
from cifasr.encoder.attention import (
    MultiHeadedAttention,
    RelPositionMultiHeadedAttention,
    rel_shift,
)
from cifasr.utils.precision import Precision


def espnet_rel_shift(x: torch.Tensor) -> torch.Tensor:
    zero_pad = torch.zeros((*x.size()[:3], 1), device=x.device, dtype=x.dtype)
    x_padded = torch.cat([zero_pad, x], dim=-1)
    x_padded = x_padded.view(*x.size()[:2], x.size(3) + 1, x.size(2))
    return x_padded[:, :, 1:].view_as(x)[:, :, :, : x.size(-1) // 2 + 1]


def forward_espnet(self, x, key_mask, pos_emb):
    q, k, v = self.forward_qkv(x)
    q = q.transpose(1, 2)
    p = self.linear_pos(pos_emb).view(pos_emb.size(0), -1, self.h, self.d_k).transpose(1, 2)
    q_with_bias_u = (q + self.pos_bias_u).transpose(1, 2)
    q_with_bias_v = (q + self.pos_bias_v).transpose(1, 2)
    matrix_ac = torch.matmul(q_with_bias_u, k.transpose(-2, -1))
    matrix_bd = espnet_rel_shift(torch.matmul(q_with_bias_v, p.transpose(-2, -1)))
    scores = (matrix_ac + matrix_bd) / math.sqrt(self.d_k)
    mask = ~key_mask[:, None, None, :]
    scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)
    attn = torch.softmax(scores, dim=-1).masked_fill(mask, 0.0)
    attn = F.dropout(attn, self.dropout_rate, self.training)
    out = torch.matmul(attn, v)
    b, _, t, _ = out.shape
    return self.linear_out(out.transpose(1, 2).reshape(b, t, self.h * self.d_k))


def forward_sdpa(self, x, key_mask, pos_emb):
    q, k, v = self.forward_qkv(x)
    n_pos = pos_emb.size(1)
    p = self.linear_pos(pos_emb).view(-1, n_pos, self.h, self.d_k).permute(0, 2, 3, 1)
    scale = 1.0 / math.sqrt(self.d_k)
    q_v = (q + self.pos_bias_v[:, None, :]) * scale
    bias = rel_shift(torch.matmul(q_v, p.to(q_v.dtype)))
    bias = bias.masked_fill(~key_mask[:, None, None, :], torch.finfo(bias.dtype).min)
    drop = self.dropout_rate if self.training else 0.0
    out = F.scaled_dot_product_attention(
        q + self.pos_bias_u[:, None, :], k, v, attn_mask=bias, dropout_p=drop, scale=scale
    )
    b, _, t, _ = out.shape
    return self.linear_out(out.transpose(1, 2).reshape(b, t, self.h * self.d_k))


def forward_espnet_plain(self, x, key_mask, pos_emb=None):
    q, k, v = self.forward_qkv(x)
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
    mask = ~key_mask[:, None, None, :]
    scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)
    attn = torch.softmax(scores, dim=-1).masked_fill(mask, 0.0)
    attn = F.dropout(attn, self.dropout_rate, self.training)
    out = torch.matmul(attn, v)
    b, _, t, _ = out.shape
    return self.linear_out(out.transpose(1, 2).reshape(b, t, self.h * self.d_k))


def forward_sdpa_plain(self, x, key_mask, pos_emb=None):
    q, k, v = self.forward_qkv(x)
    bias = torch.zeros(key_mask.shape, dtype=q.dtype, device=q.device)
    bias = bias.masked_fill(~key_mask, torch.finfo(q.dtype).min)[:, None, None, :]
    drop = self.dropout_rate if self.training else 0.0
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop)
    b, _, t, _ = out.shape
    return self.linear_out(out.transpose(1, 2).reshape(b, t, self.h * self.d_k))


CONFORMER_IMPLS = {
    "espnet": forward_espnet,
    "cifasr": RelPositionMultiHeadedAttention.forward,
    "sdpa": forward_sdpa,
}
TRANSFORMER_IMPLS = {
    "espnet": forward_espnet_plain,
    "cifasr": MultiHeadedAttention.forward,
    "sdpa": forward_sdpa_plain,
}


def step(
    model: torch.nn.Module, xs: torch.Tensor, lens: torch.Tensor, precision: Precision
) -> torch.Tensor:
    with precision.autocast(xs.device.type):
        out, _ = model(xs, lens)
    out.float().square().mean().backward()
    return out.detach().float()


def compare(
    model: torch.nn.Module,
    attention_cls: type,
    impls: dict,
    xs: torch.Tensor,
    lens: torch.Tensor,
    reps: int,
    precisions: list[Precision],
) -> None:
    """Time ``impls`` of ``attention_cls.forward`` in ``model`` in each of ``precisions`` (fp32
    first); the first implementation is the reference."""
    # Dropout off so that all implementations compute the same function; BatchNorm stays in
    # training mode (batch statistics), as in a real step.
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        if isinstance(m, MultiHeadedAttention):
            m.dropout_rate = 0.0
    shipped = attention_cls.forward
    ref_name = next(iter(impls))
    fp32_out = None
    for precision in precisions:
        half = precision.name != "fp32"
        outs, grads = {}, {}
        times: dict[str, list[float]] = {name: [] for name in impls}
        cpu: dict[str, list[float]] = {name: [] for name in impls}
        for name, impl in impls.items():  # first call of each: warm-up and the numbers
            attention_cls.forward = impl
            model.zero_grad(set_to_none=True)
            outs[name] = step(model, xs, lens, precision)
            grads[name] = torch.cat([p.grad.flatten().float() for p in model.parameters()])
        if not half:
            fp32_out = outs[ref_name]
        for _ in range(reps):  # interleaved, so that load drifts hit all alike
            for name, impl in impls.items():
                attention_cls.forward = impl
                model.zero_grad(set_to_none=True)
                if xs.device.type == "cuda":
                    torch.cuda.synchronize()
                t0, c0 = time.perf_counter(), time.process_time()
                step(model, xs, lens, precision)
                if xs.device.type == "cuda":
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
        print(f"  {precision.name} autocast:" if half else "  fp32:")
        ref = statistics.median(times[ref_name])
        ref_cpu = statistics.median(cpu[ref_name])
        for name in impls:
            med = statistics.median(times[name])
            med_cpu = statistics.median(cpu[name])
            out_diff = (outs[name] - outs[ref_name]).abs().max().item()
            g_ref = grads[ref_name]
            g_rel = ((grads[name] - g_ref).norm() / g_ref.norm()).item()
            line = (
                f"    {name:>8}: wall {med * 1e3:7.0f} ms, {name}/{ref_name} {med / ref:.3f}; "
                f"CPU {med_cpu * 1e3:7.0f} ms, {name}/{ref_name} {med_cpu / ref_cpu:.3f} "
                f"(medians of {reps}); max |out - {ref_name}| {out_diff:.1e}, "
                f"grad rel. diff {g_rel:.1e}"
            )
            if half:
                line += f"; max |out - fp32 {ref_name}| {(outs[name] - fp32_out).abs().max():.1e}"
            print(line)
    attention_cls.forward = shipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--transformer", action="store_true", help="also time TransformerEncoder")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: default)")
    add_dtype_argument(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print_header(device, args.dtype)
    precisions = precisions_to_time(args.dtype, device)
    torch.manual_seed(0)
    xs = torch.randn(args.batch, args.frames, 80, device=device)
    lens = torch.linspace(args.frames // 2, args.frames, args.batch).long().to(device)
    print(f"ConformerEncoder(80), B={args.batch}, up to T={args.frames} input frames, fwd+bwd")
    model = ConformerEncoder(80).to(device).train()
    attention = RelPositionMultiHeadedAttention
    compare(model, attention, CONFORMER_IMPLS, xs, lens, args.reps, precisions)
    if args.transformer:
        print(f"TransformerEncoder(80), B={args.batch}, up to T={args.frames} frames, fwd+bwd")
        model = TransformerEncoder(80).to(device).train()
        compare(model, MultiHeadedAttention, TRANSFORMER_IMPLS, xs, lens, args.reps, precisions)


if __name__ == "__main__":
    main()
