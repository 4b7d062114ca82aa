"""Real-time factor of decoding with PyTorch fp32, onnxruntime fp32 and onnxruntime int8.

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
        tools/venv/bin/python bench/onnx_decode.py [--threads 2] [--repeat 5] [--batch 32] \
        [--frames N]

The model is egs2/aishell/asr1/conf/train_cif.yaml with V = 4234 and random weights (the
predictor's bias set so that CIF fires about 3.2 times a second, the AISHELL-1 character rate, as
in bench/decode.py). It is exported once with cifasr.export (fp32 graphs and their int8 dynamic
quantisation) into a temporary directory; then the same batched searches
(cifasr.inference.recognize) run on the PyTorch model and on the onnxruntime sessions, all in this
process with the same thread count, on random 80-dim features of 4-6 s utterances (seeded).

For greedy and beam-10 search at batch 1 (the first 8 utterances, one at a time) and at --batch,
it prints the median seconds, the RTF and the speed-up over PyTorch fp32 measured in the same
run. The backends decode in turns (each once per round, --repeat rounds after a warm-up round),
so that a slow spell of a shared machine does not land on one backend only. Accuracy is not
measured here (random weights): for the CER of each backend on a recipe's test set, decode it
with asr.sh --inference_onnx fp32|int8 (see README.md).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from cifasr.export.onnx_export import export_onnx
from cifasr.inference.onnx_model import OnnxCifModel
from cifasr.inference.recognize import recognize
from cifasr.tasks.asr import build_model, resolve_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "egs2/aishell/asr1/conf/train_cif.yaml"
CHARS_PER_SECOND = 3.2  # AISHELL-1: about 14.4 characters in 4.5 s
VOCAB = 4234


def device_line() -> str:
    """The CPU capability torch dispatches to (AVX2, AVX512, ...) and the thread count."""
    return (
        f"device: cpu, capability {torch.backends.cpu.get_cpu_capability()}, "
        f"threads {torch.get_num_threads()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--beam", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--frames",
        type=int,
        default=None,
        help="every utterance this many frames (default: 400-600 at random); --batch 60 "
        "--frames 500 is the batch the README's FunASR Paraformer comparison used",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = resolve_config(CONFIG)
    tokens = [f"t{i}" for i in range(VOCAB - 3)]
    config["token_list"] = ["<blank>", "<unk>", *tokens, "<sos/eos>"]
    model = build_model(config).eval()
    frame_s = 0.01 * model.encoder.subsampling_factor
    with torch.no_grad():  # fire about CHARS_PER_SECOND times a second
        model.predictor.linear.weight.mul_(0.05)
        p = CHARS_PER_SECOND * frame_s
        model.predictor.linear.bias.fill_(math.log(p / (1 - p)))

    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(400, 601, (args.batch,), generator=gen)
    if args.frames:
        lengths.fill_(args.frames)
    feats = torch.randn(args.batch, int(lengths.max()), 80, generator=gen)
    for b, n in enumerate(lengths.tolist()):
        feats[b, n:] = 0

    print(f"allocator: GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '(unset: glibc default)')}")
    print(device_line())
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(model.state_dict(), Path(tmp) / "model.pth")
        start = time.perf_counter()
        export_onnx(config, Path(tmp) / "model.pth", Path(tmp) / "onnx")
        print(f"export (fp32 + int8, verified): {time.perf_counter() - start:.1f} s")
        sizes = {
            p.name: p.stat().st_size / 2**20 for p in sorted((Path(tmp) / "onnx").glob("*.onnx"))
        }
        print("graphs (MiB): " + ", ".join(f"{k} {v:.1f}" for k, v in sizes.items()))
        backends = {"pytorch fp32": model}
        for precision in ("fp32", "int8"):
            onnx_model = OnnxCifModel(Path(tmp) / "onnx", precision, num_threads=args.threads)
            backends[f"onnxruntime {precision}"] = onnx_model
        for m in backends.values():
            if isinstance(m, OnnxCifModel):
                m.tail_threshold = 0.4
            else:
                m.predictor.tail_threshold = 0.4

        audio_s = lengths.sum().item() / 100
        with torch.no_grad():
            fires = model.compute_outputs(feats, lengths).cif_lengths.sum().item()
        print(
            f"torch {torch.__version__}; {sum(p.numel() for p in model.parameters()):,} "
            f"parameters; batch {args.batch}: {audio_s:.1f} s of audio, "
            f"{fires / audio_s:.2f} CIF fires per second"
        )
        singles = [(feats[i : i + 1, :n], lengths[i : i + 1]) for i, n in enumerate(lengths[:8])]
        print(
            "median s: one batch of --batch utterances, or the first 8 utterances decoded one "
            "at a time (batch 1)"
        )
        print(f"{'search':8s} {'batch':>5s} {'backend':18s} {'median s':>9s} {'RTF':>8s}  speed-up")
        for beam in (1, args.beam):
            for batch, units in ((1, singles), (args.batch, [(feats, lengths)])):
                seconds = sum(n.sum().item() for _, n in units) / 100
                times = interleaved_times(backends, units, beam, args.repeat)
                reference = statistics.median(times["pytorch fp32"])
                for name, ts in times.items():
                    t = statistics.median(ts)
                    search = "greedy" if beam == 1 else f"beam {beam}"
                    print(
                        f"{search:8s} {batch:5d} {name:18s} {t:9.3f} {t / seconds:8.4f}  "
                        f"x{reference / t:5.2f}"
                    )


def interleaved_times(
    backends: dict, units: list[tuple[torch.Tensor, torch.Tensor]], beam: int, repeat: int
) -> dict[str, list[float]]:
    """Seconds to decode every batch of ``units`` (features (B, T, 80), lengths (B,)), ``repeat``
    times per backend after one warm-up, taken in turns (each backend once per round), so that a
    slow spell of a shared machine slows all backends alike instead of one."""
    times: dict[str, list[float]] = {name: [] for name in backends}
    for _ in range(repeat + 1):
        for name, m in backends.items():
            start = time.perf_counter()
            for feats, lengths in units:
                recognize(m, feats, lengths, beam_size=beam)
            times[name].append(time.perf_counter() - start)
    return {name: ts[1:] for name, ts in times.items()}


if __name__ == "__main__":
    main()
