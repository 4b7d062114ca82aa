"""Benchmark: CIF forward + backward, cifasr's closed form vs the original loop and torch-cif.

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \\
        python bench/cif.py [--threads N] [--rounds R] [--clock wall|cpu]

Every contender does the same training-time work on the same batch: scale the weights to the
target length (N+1 tokens), integrate-and-fire, then backward of a fixed random projection of the
outputs into the frames and the weights. Weights are realistic (uniform in [0, 0.5], mean 0.25,
so about T/4 tokens) and utterances are 70-100% of the longest one. Contenders run interleaved
(per round: one call of each loop, ``--fast-per-round`` calls of the others) so that load from
other processes hits them alike; medians and their ratios are printed. On a shared machine,
``--threads 1 --clock cpu`` (process CPU time) is the measurement least disturbed by others.

References:
- ``loop``: the original algorithm (docs/cif.md §1) as the original codes it, in float32,
  vectorised over the batch, one Python step per frame, frame t taken as ``hidden[:, t]`` (its
  backward is O(T^2 C)); outputs go to a list (the original's ``torch.cat`` would be slower).
- ``loop-unbind``: the same loop with all frames taken by one ``unbind``: linear in T, the
  strongest loop we could write.
- ``torch-cif``: ``torch_cif.cif_function`` from PyPI (``pip install torch-cif``), when
  importable. Its threshold semantics differ slightly (a fire consumes beta); the work is the same.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
from common import print_header

from cifasr.cif import cif

try:
    import torch_cif
except ImportError:  # optional reference
    torch_cif = None

THRESHOLD = 0.99
SIZES = [(16, 200, 256), (16, 1000, 256)]


def loop_cif(
    hidden: torch.Tensor, alphas: torch.Tensor, lengths: torch.Tensor, unbind: bool = False
) -> torch.Tensor:
    """The original integrate-and-fire loop (training mode: no tail), (B, N, C).

    ``unbind=False`` takes frame t as ``hidden[:, t]`` like the original; every such index adds a
    full-size zero-filled gradient in backward, O(T^2 C) in all. ``unbind=True`` takes all frames
    with one ``unbind`` (linear backward): the same algorithm, tuned.
    """
    bsz, tlen, dim = hidden.shape
    acc_w = hidden.new_zeros(bsz)
    acc_s = hidden.new_zeros(bsz, dim)
    zeros = hidden.new_zeros(bsz, dim)
    frames = zip(alphas.unbind(1), hidden.unbind(1)) if unbind else None
    outs, fires = [], []
    for t in range(tlen):
        a_t, h_t = next(frames) if frames is not None else (alphas[:, t], hidden[:, t])
        fire = (acc_w + a_t) >= THRESHOLD
        remaining = 1.0 - acc_w
        out = torch.where(fire[:, None], acc_s + remaining[:, None] * h_t, zeros)
        fire = fire & (t < lengths)
        out = torch.where(fire[:, None], out, zeros)
        acc_w = torch.where(fire, a_t - remaining, acc_w + a_t)
        acc_s = torch.where(
            fire[:, None], (a_t - remaining)[:, None] * h_t, acc_s + a_t[:, None] * h_t
        )
        outs.append(out)
        fires.append(fire)
    fired = torch.stack(fires, 1)
    num = int(fired.sum(1).max())
    order = torch.sort((~fired).int(), dim=1, stable=True).indices[:, :num]
    return torch.gather(torch.stack(outs, 1), 1, order[..., None].expand(-1, -1, dim))


def scaled(alphas: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return alphas * (targets / (alphas.sum(-1) + 1e-8))[:, None]


def run_cifasr(hidden, alphas, lengths, targets):
    return cif(hidden, scaled(alphas, targets), lengths, THRESHOLD).embeds


def run_loop(hidden, alphas, lengths, targets):
    return loop_cif(hidden, scaled(alphas, targets), lengths)


def run_loop_unbind(hidden, alphas, lengths, targets):
    return loop_cif(hidden, scaled(alphas, targets), lengths, unbind=True)


def run_torch_cif(hidden, alphas, lengths, targets):
    padding = torch.arange(hidden.size(1)) >= lengths[:, None]
    out = torch_cif.cif_function(
        hidden, alphas, beta=THRESHOLD, padding_mask=padding, target_lengths=targets
    )
    return out["cif_out"][0]


def make_batch(bsz: int, tlen: int, dim: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(bsz, tlen, dim, generator=gen).requires_grad_()
    lengths = (tlen * (0.7 + 0.3 * torch.rand(bsz, generator=gen))).long()
    lengths[0] = tlen
    valid = torch.arange(tlen) < lengths[:, None]
    alphas = (0.5 * torch.rand(bsz, tlen, generator=gen) * valid).requires_grad_()
    targets = alphas.detach().sum(-1).round().clamp(min=1)
    return hidden, alphas, lengths, targets


def time_once(fn: Callable, batch, projections: dict, clock: Callable[[], float]) -> float:
    hidden, alphas = batch[0], batch[1]
    start = clock()
    out = fn(*batch)
    proj = projections.get(tuple(out.shape))
    if proj is None:
        proj = projections[tuple(out.shape)] = torch.randn(out.shape)
    (out * proj).sum().backward()
    elapsed = clock() - start
    hidden.grad = alphas.grad = None
    return elapsed


def allocator_setting() -> str:
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    preload = os.environ.get("LD_PRELOAD", "")
    if preload:
        return f"LD_PRELOAD={preload}"
    return f"GLIBC_TUNABLES={tunables}" if tunables else "glibc default (no tunables)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--rounds", type=int, default=10, help="timed calls of each loop per size")
    parser.add_argument(
        "--fast-per-round", type=int, default=8, help="timed calls of each fast contender per round"
    )
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall: perf_counter; cpu: process CPU time (only meaningful with --threads 1)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "cpu" and torch.get_num_threads() != 1:
        parser.error("--clock cpu sums the CPU time of all threads: use it with --threads 1")
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print_header("cpu")
    print("precision: fp32 whatever amp says (CIF disables autocast; prefix sums in float64)")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} clock, "
        f"allocator: {allocator_setting()}, load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs (others' load slows multi-threaded runs most)"
    )
    print(f"torch-cif: {'importable' if torch_cif is not None else 'not installed (skipped)'}")
    contenders = {"cifasr": run_cifasr, "loop": run_loop, "loop-unbind": run_loop_unbind}
    if torch_cif is not None:
        contenders["torch-cif"] = run_torch_cif
    for bsz, tlen, dim in SIZES:
        batch = make_batch(bsz, tlen, dim)
        with torch.no_grad():
            ours = run_cifasr(*batch)
            ref = run_loop(*batch)
        assert ours.shape == ref.shape, (ours.shape, ref.shape)
        max_diff = (ours - ref).abs().max().item()
        projections: dict = {}
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for fn in contenders.values():  # warm-up
            time_once(fn, batch, projections, clock)
        for _ in range(args.rounds):
            for name, fn in contenders.items():
                reps = 1 if name.startswith("loop") else args.fast_per_round
                times[name] += [time_once(fn, batch, projections, clock) for _ in range(reps)]
        med = {name: statistics.median(t) * 1e3 for name, t in times.items()}
        print(
            f"\n(B, T, C) = ({bsz}, {tlen}, {dim}); tokens ~{int(batch[3].mean())}; "
            f"cifasr vs loop max |diff| {max_diff:.1e}"
        )
        for name, ms in med.items():
            print(
                f"  {name:12s} median {ms:9.3f} ms over {len(times[name]):4d} calls"
                f"   cifasr speed-up x{ms / med['cifasr']:.1f}"
            )


if __name__ == "__main__":
    main()
