"""Scoring time of an AISHELL-1-test-sized set: built-in scorer against sclite and a cell loop.

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
        tools/venv/bin/python bench/bench_scoring.py [--sentences 7176 --repeat 5]

Synthetic Mandarin: 7,176 reference sentences of 8-22 characters (mean ~15, like AISHELL-1 test)
with ~5% substitutions, deletions and insertions. Measured in the same run:
- ``builtin, alignment``: :func:`cifasr.scoring.align_batch` (batched row DP);
- ``python cell loop``: the same sclite DP and tie order, one Python iteration per cell;
- ``builtin, full report``: :func:`cifasr.scoring.score_trn` from trn files to result text;
- ``sclite``: ``sclite -i rm -o all stdout`` on the same files, when installed.
Prints medians of ``--repeat`` runs and ratios against the batched alignment / full report.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import print_header

from cifasr.scoring import align_batch, find_sclite, score_trn
from cifasr.scoring.trn import write_trn


def cell_loop_align(ref: list[str], hyp: list[str]) -> tuple[int, int, int, int]:
    """sclite's DP (sub 4, ins 3, del 3; diagonal, then deletion, then insertion) cell by cell."""
    n, m = len(ref), len(hyp)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    back = [[2] * (m + 1) for _ in range(n + 1)]
    for a in range(1, n + 1):
        cost[a][0], back[a][0] = 3 * a, 1
    for b in range(1, m + 1):
        cost[0][b] = 3 * b
    for a in range(1, n + 1):
        for b in range(1, m + 1):
            sub = cost[a - 1][b - 1] + (0 if ref[a - 1] == hyp[b - 1] else 4)
            dele = cost[a - 1][b] + 3
            ins = cost[a][b - 1] + 3
            if sub <= dele and sub <= ins:
                cost[a][b], back[a][b] = sub, 0
            elif dele < ins:
                cost[a][b], back[a][b] = dele, 1
            else:
                cost[a][b], back[a][b] = ins, 2
    c = s = d = i = 0
    a, b = n, m
    while a > 0 or b > 0:
        code = back[a][b]
        if code == 0:
            c, s = (c + 1, s) if ref[a - 1] == hyp[b - 1] else (c, s + 1)
            a, b = a - 1, b - 1
        elif code == 1:
            d, a = d + 1, a - 1
        else:
            i, b = i + 1, b - 1
    return c, s, d, i


def make_pairs(n: int, seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    rng = random.Random(seed)
    alphabet = [chr(0x4E00 + k) for k in range(4000)]
    refs, hyps = [], []
    for _ in range(n):
        ref = [rng.choice(alphabet) for _ in range(rng.randint(8, 22))]
        hyp = []
        for tok in ref:
            r = rng.random()
            if r < 0.05:
                continue
            hyp.append(rng.choice(alphabet) if r < 0.10 else tok)
            if r > 0.95:
                hyp.append(rng.choice(alphabet))
        refs.append(ref)
        hyps.append(hyp)
    return refs, hyps


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=7176)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print_header("cpu")
    refs, hyps = make_pairs(args.sentences)
    print(f"{len(refs)} sentences, {sum(map(len, refs))} reference characters")

    # The batched alignment and the cell loop must agree before their times mean anything.
    batched = align_batch(refs, hyps)
    for ref, hyp, ali in zip(refs, hyps, batched, strict=True):
        assert cell_loop_align(ref, hyp) == (ali.corr, ali.sub, ali.dele, ali.ins)

    t_align = median_time(lambda: align_batch(refs, hyps), args.repeat)
    t_loop = median_time(lambda: [cell_loop_align(r, h) for r, h in zip(refs, hyps)], args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        labels = [f"S{k % 20:02d}-S{k % 20:02d}U{k:05d}" for k in range(len(refs))]
        write_trn(work / "ref.trn", labels, refs)
        write_trn(work / "hyp.trn", labels, hyps)
        t_report = median_time(lambda: score_trn(work / "ref.trn", work / "hyp.trn"), args.repeat)
        sclite = find_sclite()
        t_sclite = None
        if sclite is not None:
            cmd = [
                sclite,
                "-r",
                "ref.trn",
                "trn",
                "-h",
                "hyp.trn",
                "trn",
                "-i",
                "rm",
                "-o",
                "all",
                "stdout",
            ]
            t_sclite = median_time(
                lambda: subprocess.run(cmd, cwd=work, capture_output=True, check=True), args.repeat
            )

    print(f"{'method':<28}{'median s':>10}{'ratio':>10}")
    print(f"{'builtin, alignment':<28}{t_align:>10.3f}{1.0:>10.2f}")
    print(f"{'python cell loop':<28}{t_loop:>10.3f}{t_loop / t_align:>10.2f}  (vs alignment)")
    print(f"{'builtin, full report':<28}{t_report:>10.3f}{1.0:>10.2f}")
    if t_sclite is not None:
        ratio = t_sclite / t_report
        print(f"{'sclite -o all':<28}{t_sclite:>10.3f}{ratio:>10.2f}  (vs full report)")
    else:
        print("sclite: not installed, not measured")
    print(f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
