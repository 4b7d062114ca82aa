"""Stage-3 throughput: seconds of audio turned into fbank features per second, on one core.

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \\
        tools/venv/bin/python bench/fbank.py [--utts 40] [--seconds 4.5] [--repeats 5]

Three measurements on the same synthetic 16 kHz utterances (AISHELL-1 averages about 4.5 s):

* reference: kaldi-native-fbank alone on in-memory samples (OnlineFbank + get_frame);
* compute_fbank: cifasr.frontend.fbank on the same in-memory samples;
* stage 3: cifasr.data.fbank_dump.dump_fbank on a wav.scp (read wav, fbank, write ark/scp),
  which is what each of the recipe's --nj jobs runs.

Prints medians over the repeats and the ratios against the reference measured in this run. One
process, so the figures are per core; stage 3 scales with --nj up to the number of cores.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np
import soundfile as sf
from common import print_header

from cifasr.data.fbank_dump import dump_fbank
from cifasr.frontend.fbank import FbankConfig, compute_fbank


def reference_fbank(samples_int16_scale: np.ndarray) -> np.ndarray:
    """kaldi-native-fbank called directly with the docs/architecture.md §2.1 options."""
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.mel_opts.num_bins = 80
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(16000, samples_int16_scale)
    fb.input_finished()
    return np.stack([fb.get_frame(i) for i in range(fb.num_frames_ready)])


def timed(fn, repeats: int) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` runs (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--utts", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=4.5, help="mean utterance length")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    lengths = (rng.uniform(0.5, 1.5, args.utts) * args.seconds * 16000).astype(int)
    waves = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in lengths]
    audio_seconds = float(lengths.sum()) / 16000

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        lines = []
        for i, w in enumerate(waves):
            path = tmp_path / f"u{i:04d}.wav"
            sf.write(path, w, 16000, subtype="PCM_16")
            lines.append(f"u{i:04d} {path}\n")
        (tmp_path / "wav.scp").write_text("".join(lines))
        # Compare like with like: the in-memory runs use the samples as the wav files hold them.
        waves = [sf.read(tmp_path / f"u{i:04d}.wav", dtype="float32")[0] for i in range(args.utts)]
        scaled = [w * 32768.0 for w in waves]
        config = FbankConfig()

        t_ref = timed(lambda: [reference_fbank(w) for w in scaled], args.repeats)
        t_ours = timed(lambda: [compute_fbank(w) for w in waves], args.repeats)
        t_stage = timed(
            lambda: dump_fbank(
                tmp_path / "wav.scp",
                tmp_path / "feats.ark",
                tmp_path / "feats.scp",
                tmp_path / "utt2num_frames",
                tmp_path / "utt2dur",
                config,
            ),
            args.repeats,
        )
        np.testing.assert_array_equal(compute_fbank(waves[0]), reference_fbank(scaled[0]))

    print_header("cpu")
    print("precision: fp32 (Kaldi fbank; no autocast involved)")
    print(
        f"{args.utts} utterances, {audio_seconds:.1f} s of 16 kHz audio, median of "
        f"{args.repeats} runs, 1 process"
    )
    print(f"{'':32s}{'wall s':>9s}{'audio s/s':>12s}{'vs reference':>14s}")
    for name, t in (
        ("reference: kaldi-native-fbank", t_ref),
        ("cifasr compute_fbank", t_ours),
        ("stage 3: wav -> ark/scp", t_stage),
    ):
        print(f"{name:32s}{t:9.3f}{audio_seconds / t:12.0f}{t_ref / t:13.2f}x")


if __name__ == "__main__":
    main()
