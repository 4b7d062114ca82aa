"""What the type checks of configs and constructors cost: building a model and a training step,
with typeguard's checks on against off (``typeguard.suppress_type_checks``), interleaved in one
process so that a load change on a shared machine hits both alike.

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
        tools/venv/bin/python bench/typecheck_cost.py [--threads 2] [--repeat 7]

"build" is ``build_model`` of egs2/aishell/asr1/conf/train_cif.yaml (V = 4234): the config's
values are checked when it is resolved and the ``@typechecked`` constructors check their
arguments. "step" is a forward, backward and AdamW step of the mini_zh train_cif.yaml model on
16 x 400 frames: typeguard instruments ``__init__`` only, so the step runs the same code either
way (the off/on ratio shows the timing noise). Prints the device line, the medians with checks
off (the reference) and on, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from typeguard import suppress_type_checks

from cifasr.tasks.asr import build_model

ROOT = Path(__file__).resolve().parents[1]
ASR_CONFIG = ROOT / "egs2/aishell/asr1/conf/train_cif.yaml"
STEP_CONFIG = ROOT / "egs2/mini_zh/asr1/conf/train_cif.yaml"


def _build_seconds() -> float:
    start = time.perf_counter()
    build_model(ASR_CONFIG, vocab_size=4234)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"device: CPU, {torch.backends.cpu.get_cpu_capability()}, {args.threads} threads")

    gen = torch.Generator().manual_seed(0)
    speech = torch.randn(16, 400, 80, generator=gen)
    lengths = torch.full((16,), 400)
    text = torch.randint(2, 499, (16, 12), generator=gen)
    text_lengths = torch.full((16,), 12)
    models = {}
    for mode in ("off", "on"):
        if mode == "off":
            with suppress_type_checks():
                models[mode] = build_model(STEP_CONFIG, vocab_size=500).train()
        else:
            models[mode] = build_model(STEP_CONFIG, vocab_size=500).train()
    optimizers = {m: torch.optim.AdamW(models[m].parameters(), lr=1e-5) for m in models}

    def step(mode: str) -> float:
        start = time.perf_counter()
        loss, _, _ = models[mode](speech, lengths, text, text_lengths)
        optimizers[mode].zero_grad()
        loss.backward()
        optimizers[mode].step()
        return time.perf_counter() - start

    step("off"), step("on")  # warm-up
    times: dict[str, dict[str, list[float]]] = {"build": {}, "step": {}}
    for _ in range(args.repeat):
        for mode in ("off", "on"):
            if mode == "off":
                with suppress_type_checks():
                    times["build"].setdefault(mode, []).append(_build_seconds())
            else:
                times["build"].setdefault(mode, []).append(_build_seconds())
            times["step"].setdefault(mode, []).append(step(mode))
    for what, by_mode in times.items():
        off, on = statistics.median(by_mode["off"]), statistics.median(by_mode["on"])
        print(f"{what:6s} off {off:.4f} s  on {on:.4f} s  ratio on/off {on / off:.3f}")


if __name__ == "__main__":
    main()
