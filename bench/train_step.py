"""Training-step time of the train_cif.yaml model (47.2M parameters) at a 30,000-frame batch.

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
        tools/venv/bin/python bench/train_step.py [--threads 2] [--repeat 3] [--device cpu|cuda] \
        [--dtype auto|fp32|bf16|fp16|all]

One optimiser step = forward (all losses), backward, gradient clipping and AdamW, exactly as the
trainer does it (cifasr.train.trainer.train_step is not called, to keep the trainer's logging
and reporting out of the timing). The batch is 60 utterances of 500 frames (5 s, 80-dim random
features) with 16 characters each (AISHELL-1's rate), V = 4234. Prints the device line and
what ``amp: auto`` resolves to on it, then the median seconds per step and the audio seconds
processed per wall second for fp32 (the reference) and the precisions of ``--dtype`` (default
auto: the resolved one; ``all``: bf16 autocast, and fp16 with a GradScaler on CUDA), each with
its speed-up over fp32 measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from common import add_dtype_argument, precisions_to_time, print_header

from cifasr.tasks.asr import build_model, count_parameters

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "egs2/aishell/asr1/conf/train_cif.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, default=30000, help="input frames per batch")
    parser.add_argument("--utt_frames", type=int, default=500)
    add_dtype_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_model(CONFIG, vocab_size=4234).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    batch = args.frames // args.utt_frames
    tokens = round(args.utt_frames / 100 * 3.2)
    gen = torch.Generator().manual_seed(0)
    speech = torch.randn(batch, args.utt_frames, 80, generator=gen).to(device)
    speech_lengths = torch.full((batch,), args.utt_frames, device=device)
    text = torch.randint(2, 4233, (batch, tokens), generator=gen).to(device)
    text_lengths = torch.full((batch,), tokens, device=device)
    audio_s = batch * args.utt_frames / 100
    print_header(device, args.dtype)
    print(
        f"{count_parameters(model):,} parameters; batch {batch} x {args.utt_frames} frames "
        f"({audio_s:.0f} s of audio), {tokens} tokens each"
    )

    def step(dtype: torch.dtype | None, scaler: torch.amp.GradScaler | None) -> None:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss, _, _ = model(speech, speech_lengths, text, text_lengths)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    reference = None
    for precision in precisions_to_time(args.dtype, device):
        dtype, use_scaler = precision.autocast_dtype, precision.grad_scaler
        name = {"fp32": "fp32", "bf16": "bf16 autocast", "fp16": "fp16 autocast + GradScaler"}[
            precision.name
        ]
        scaler = torch.amp.GradScaler(device.type) if use_scaler else None
        step(dtype, scaler)  # warm-up
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            step(dtype, scaler)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        reference = reference or median
        print(
            f"{name:28s} median {median:7.3f} s/step   {audio_s / median:7.1f} audio-s/s   "
            f"x{reference / median:5.2f} vs fp32"
        )


if __name__ == "__main__":
    main()
