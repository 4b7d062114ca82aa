"""Beam-search decode time of the CIF AR decoder against the original's decoding structure.

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
        tools/venv/bin/python bench/bench_beam_search.py [--batch 32 --steps 20 --beam 10]

Measured in the same run, on the same randomly initialised decoder (V=4234, D=256, C=256):
- ``cifasr``: :func:`cifasr.search.beam_search` (preallocated KV caches, batch x beam vectorised);
- ``cifasr, one utterance at a time``: the same search called per utterance;
- ``original ar``: the original ``ar_batch_beam_decode`` (docs/decoding.md §2): every step re-runs
  the decoder over the whole prefix and the beam bookkeeping loops over utterances in Python.
Prints the median of ``--repeat`` runs and ratios against the cifasr time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import add_dtype_argument, precisions_to_time, print_header

from cifasr.decoder import CifArDecoder
from cifasr.search import beam_search
from cifasr.utils.precision import Precision


def original_ar_beam(
    dec: CifArDecoder, cif: torch.Tensor, lengths: torch.Tensor, beam: int, eos: int
) -> torch.Tensor:
    """The original's non-incremental fixed-length beam search; returns the best token rows."""
    b, s, c = cif.shape
    v = dec.vocab_size
    cif_rep = cif[:, None].expand(b, beam, s, c).reshape(b * beam, s, c)
    prev = torch.full((b * beam, 1), eos, dtype=torch.long, device=cif.device)
    scores = torch.zeros(b * beam, device=cif.device)
    for step in range(1, s + 1):
        logits = dec(cif_rep[:, :step], lengths, prev).logits[:, -1]
        updated = (scores[:, None] + torch.log_softmax(logits, -1)).view(b, beam * v)
        if step == 1:
            top, idx = updated.view(b, beam, v)[:, 0].topk(beam, dim=-1)
            src, tok = torch.zeros_like(idx), idx
        else:
            top, idx = updated.topk(beam, dim=-1)
            src, tok = idx // v, idx % v
        old_prev, old_scores = prev.view(b, beam, -1), scores.view(b, beam)
        rows, row_scores = [], []
        for n in range(b):  # the original's per-utterance bookkeeping
            if step > lengths[n]:
                rows.append(old_prev[n])
                row_scores.append(old_scores[n])
            else:
                rows.append(old_prev[n].index_select(0, src[n]))
                row_scores.append(top[n])
        tok = torch.where(step <= lengths[:, None], tok, 1)
        prev = torch.cat([torch.stack(rows), tok[..., None]], dim=-1).view(b * beam, -1)
        scores = torch.stack(row_scores).view(-1)
    return prev.view(b, beam, -1)[:, 0, 1:]


def median_time(fn, repeat: int, device: torch.device) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--beam", type=int, default=10)
    parser.add_argument("--vocab", type=int, default=4234)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    add_dtype_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    eos = args.vocab - 1
    dec = CifArDecoder(args.vocab, 256).eval().to(device)
    lengths = torch.full((args.batch,), args.steps, device=device)
    lengths[::3] = args.steps - 5  # some utterances finish early, as in a real batch
    cif = torch.randn(args.batch, args.steps, 256, device=device)
    cif = cif * (torch.arange(args.steps)[None, :, None] < lengths[:, None, None])

    def ours():
        return beam_search(dec, cif, lengths, beam_size=args.beam, eos_id=eos)

    def ours_in(precision: Precision):
        def run():
            with precision.autocast(device.type):
                return beam_search(dec, cif, lengths, beam_size=args.beam, eos_id=eos)

        return run

    def one_by_one():
        return [
            beam_search(dec, cif[i : i + 1], lengths[i : i + 1], beam_size=args.beam, eos_id=eos)
            for i in range(args.batch)
        ]

    def reference():
        with torch.no_grad():
            return original_ar_beam(dec, cif, lengths, args.beam, eos)

    best = [h[0] for h in ours()]
    ref_rows = reference()
    same = sum(
        row[: int(n)].tolist() == _full(h, int(n)) for row, n, h in zip(ref_rows, lengths, best)
    )
    print_header(device, args.dtype)
    print(f"B={args.batch} S={args.steps} beam={args.beam} V={args.vocab} D=256")
    print(
        f"best hypotheses equal to the original-structure reference: {same}/{args.batch} "
        "(compared where no <sos/eos>/<blank> was emitted)"
    )
    t_ours = median_time(ours, args.repeat, device)
    rows = [("cifasr beam_search (fp32)", t_ours)]
    rows += [
        (f"cifasr beam_search ({p.name} autocast)", median_time(ours_in(p), args.repeat, device))
        for p in precisions_to_time(args.dtype, device)[1:]
    ]
    rows += [
        (
            "cifasr, one utterance at a time",
            median_time(one_by_one, max(1, args.repeat // 2), device),
        ),
        (
            "original ar structure (reference)",
            median_time(reference, max(1, args.repeat // 2), device),
        ),
    ]
    for name, seconds in rows:
        print(
            f"{name:38s} median {seconds * 1000:9.1f} ms   x{seconds / t_ours:6.2f} of cifasr fp32"
        )


def _full(hyp, length: int) -> list[int]:
    """The untruncated row when the hypothesis kept every position (else a non-matching marker)."""
    return hyp.token_ids if len(hyp.token_ids) == length else [-1]


if __name__ == "__main__":
    main()
