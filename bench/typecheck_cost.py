"""What ``@typechecked`` on the configurable constructors costs: model construction and a
training step, with typeguard active against typeguard off (``python -O``, where ``@typechecked``
leaves the functions as written), each in its own process of the same run.

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
        tools/venv/bin/python bench/typecheck_cost.py [--threads 2] [--repeat 7]

typeguard instruments only the decorated ``__init__`` functions, so a training step runs the
same code either way; the construction of the train_cif.yaml model (V = 4234) pays the argument
checks once. Each mode runs twice, interleaved; prints the device line, then per measurement the
median seconds with typeguard off (the reference) and on, and their ratio. No cifasr ``assert``
sits on the timed paths, so -O changes nothing else there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASR_CONFIG = ROOT / "egs2/aishell/asr1/conf/train_cif.yaml"
STEP_CONFIG = ROOT / "egs2/mini_zh/asr1/conf/train_cif.yaml"


def _worker(threads: int, repeat: int) -> dict[str, float]:
    """Medians (seconds) of building the aishell model and of a mini_zh training step."""
    import torch

    from cifasr.tasks.asr import build_model

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    builds = []
    for _ in range(repeat):
        start = time.perf_counter()
        build_model(ASR_CONFIG, vocab_size=4234)
        builds.append(time.perf_counter() - start)
    model = build_model(STEP_CONFIG, vocab_size=500).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    gen = torch.Generator().manual_seed(0)
    speech = torch.randn(16, 400, 80, generator=gen)
    lengths = torch.full((16,), 400)
    text = torch.randint(2, 499, (16, 12), generator=gen)
    text_lengths = torch.full((16,), 12)
    steps = []
    for i in range(repeat + 2):
        start = time.perf_counter()
        loss, _, _ = model(speech, lengths, text, text_lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i >= 2:  # warm-up steps are not timed
            steps.append(time.perf_counter() - start)
    return {
        "typeguard": float(__debug__),
        "build_s": statistics.median(builds),
        "step_s": statistics.median(steps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.threads, args.repeat)))
        return
    import torch

    print(f"device: CPU, {torch.backends.cpu.get_cpu_capability()}, {args.threads} threads")
    # off, on, off, on: a load change on a shared machine hits both modes alike
    runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for flags in (["-O"], [], ["-O"], []):
        command = [sys.executable, *flags, __file__, "--worker"]
        command += ["--threads", str(args.threads), "--repeat", str(args.repeat)]
        out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
        result = json.loads(out.strip().splitlines()[-1])
        runs["on" if result["typeguard"] else "off"].append(result)
    for key, what in (("build_s", "build train_cif.yaml model"), ("step_s", "mini_zh train step")):
        off = statistics.median(r[key] for r in runs["off"])
        on = statistics.median(r[key] for r in runs["on"])
        print(f"{what:28s} off {off:.4f} s  on {on:.4f} s  ratio on/off {on / off:.3f}")


if __name__ == "__main__":
    main()
