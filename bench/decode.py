"""Real-time factor of CIF decoding (encoder + CIF + search) for the train_cif.yaml model.

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
        tools/venv/bin/python bench/decode.py [--threads 2] [--repeat 3] [--device cpu|cuda] \
        [--dtype auto|fp32|bf16|fp16|all]

The model is egs2/aishell/asr1/conf/train_cif.yaml with V = 4234 and random weights; the predictor's
output bias is set so that CIF fires about 3.2 times a second, the AISHELL-1 character rate
(random weights would otherwise fire every other frame and double the decoder's work). Inputs are
random 80-dim features of 4-6 s utterances (seeded). Decoding uses the test-time tail threshold 0.4.

For greedy and beam-10 search at batch 1 and batch 32, in fp32 and in the precisions of ``--dtype``
(default auto: what ``dtype: auto`` resolves to on this device; ``all``: bf16 autocast too, and fp16
on CUDA), after the device line, it prints the median seconds per batch and the RTF (seconds of
compute per second of audio). The reference, run in the same process on the same CIF outputs, is the
original's beam search structure at batch 32 (bench_beam_search.original_ar_beam: the decoder re-run
over the whole prefix at every step, beam bookkeeping per utterance in Python), with the encoder
time added.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path

import torch
from common import add_dtype_argument, precisions_to_time, print_header

from cifasr.inference.recognize import recognize
from cifasr.tasks.asr import build_model
from cifasr.utils.precision import Precision

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "egs2/aishell/asr1/conf/train_cif.yaml"
CHARS_PER_SECOND = 3.2  # AISHELL-1: about 14.4 characters in 4.5 s


def _bench_beam_search():
    """bench_beam_search.py beside this file (its original_ar_beam reference and median_time)."""
    spec = importlib.util.spec_from_file_location("bench_beam", ROOT / "bench/bench_beam_search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--beam", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    add_dtype_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_model(CONFIG, vocab_size=4234).eval().to(device)
    model.predictor.tail_threshold = 0.4
    frame_s = 0.01 * model.encoder.subsampling_factor
    with torch.no_grad():  # fire about CHARS_PER_SECOND times a second
        model.predictor.linear.weight.mul_(0.05)
        p = CHARS_PER_SECOND * frame_s
        model.predictor.linear.bias.fill_(math.log(p / (1 - p)))

    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(400, 601, (args.batch,), generator=gen)
    feats = torch.randn(args.batch, int(lengths.max()), 80, generator=gen)
    for b, n in enumerate(lengths.tolist()):
        feats[b, n:] = 0
    feats, lengths = feats.to(device), lengths.to(device)
    audio_s = lengths.sum().item() / 100
    with torch.no_grad():
        out = model.compute_outputs(feats, lengths)
    fires = out.cif_lengths.sum().item()
    print_header(device, args.dtype)
    print(
        f"{sum(p.numel() for p in model.parameters()):,} parameters; batch {args.batch}: "
        f"{audio_s:.1f} s of audio, {fires / audio_s:.2f} CIF fires per second"
    )

    def run(batch: int, beam: int, precision: Precision):
        x, n = (feats[:1, : lengths[0]], lengths[:1]) if batch == 1 else (feats, lengths)

        def fn():
            with precision.autocast(device.type):
                return recognize(model, x, n, beam_size=beam)

        return fn, n.sum().item() / 100

    bench_beam = _bench_beam_search()
    original_ar_beam, median_seconds = bench_beam.original_ar_beam, bench_beam.median_time
    eos = model.sos_eos

    def reference():
        with torch.no_grad():
            o = model.compute_outputs(feats, lengths)
            return original_ar_beam(model.decoder, o.cif_embeds, o.cif_lengths, args.beam, eos)

    t_ref = median_seconds(reference, max(1, args.repeat // 2), device)
    rtf_ref = t_ref / audio_s
    print(f"{'search':10s} {'batch':>5s} {'dtype':>5s} {'median s':>9s} {'RTF':>8s}  vs ref")
    for precision in precisions_to_time(args.dtype, device):
        dtype_name = precision.name
        for beam in (1, args.beam):
            for batch in (1, args.batch):
                fn, seconds = run(batch, beam, precision)
                t = median_seconds(fn, args.repeat, device)
                name = "greedy" if beam == 1 else f"beam {beam}"
                print(
                    f"{name:10s} {batch:5d} {dtype_name:>5s} {t:9.3f} {t / seconds:8.4f}  "
                    f"x{rtf_ref / (t / seconds):6.2f}"
                )
    print(
        f"reference: original beam-{args.beam} structure, batch {args.batch}, fp32: "
        f"{t_ref:.3f} s, RTF {rtf_ref:.4f}"
    )


if __name__ == "__main__":
    main()
