"""Decode features or audio with a trained CIF model (stage 12 of asr.sh).

    python -m cifasr.bin.asr_inference --asr_train_config exp/asr/config.yaml \\
        --asr_model_file exp/asr/ave_last10epoch.pth --config conf/decode.yaml \\
        --feats_scp dump/fbank/test/feats.scp --output_dir exp/asr/decode/test/logdir/output.1

With ``--onnx_dir exp/asr/onnx [--onnx_precision int8]`` instead of the config and the weights,
the exported graphs run in onnxruntime (the same searches; an LM stays in PyTorch).

Writes ``<output_dir>/1best_recog/{text,token,token_int,score,timestamps}`` (``{n}best_recog``
for every n <= nbest), where ``timestamps`` is a CTM (``utt 1 start duration token``), and logs
the real-time factor. asr.sh splits a set into ``--nj`` jobs and merges their outputs.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.data.audio import read_audio
from cifasr.data.kaldi_files import read_kaldi_entries
from cifasr.data.loader import build_dataloader
from cifasr.inference.speech2text import Result, Speech2Text
from cifasr.utils.config import ConfigError, KeyLocations, load_config, unknown_key_error

logger = logging.getLogger("cifasr.bin.asr_inference")


@dataclass
class DecodeOptions:
    """The decoding config (``conf/decode.yaml``).

    Attributes:
        beam_size: beam width (1: greedy; the original uses 10).
        nbest: hypotheses written per utterance.
        lm_weight: shallow-fusion weight (needs an LM; 0 runs none).
        tail_threshold: CIF tail-firing threshold (0.4 at test in the original).
        batch_bins: padded input frames per batch.
        dtype: ``auto`` (bf16 autocast where the device computes it natively, else float32),
            ``float32``, ``bfloat16`` or ``float16`` (CUDA); see :mod:`cifasr.utils.precision`.
    """

    beam_size: int = 10
    nbest: int = 1
    lm_weight: float = 0.0
    tail_threshold: float = 0.4
    batch_bins: int = 20000
    dtype: str = "auto"

    @classmethod
    def load(cls, path: str | Path | None, overrides: dict) -> DecodeOptions:
        values, locations = load_config(path) if path else ({}, KeyLocations())
        values.update({k: v for k, v in overrides.items() if v is not None})
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                raise unknown_key_error(key, names, locations)
        return cls(**values)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--asr_train_config", help="the experiment's config.yaml (PyTorch backend)")
    p.add_argument("--asr_model_file", help="the weights to decode with (PyTorch backend)")
    p.add_argument(
        "--onnx_dir",
        help="decode with onnxruntime and the graphs of cifasr.bin.export_onnx in this "
        "directory (instead of --asr_train_config/--asr_model_file)",
    )
    p.add_argument(
        "--onnx_precision", choices=["fp32", "int8"], default="fp32", help="graphs of --onnx_dir"
    )
    p.add_argument("--lm_train_config")
    p.add_argument("--lm_file")
    p.add_argument("--config", help="decoding config (beam_size, nbest, lm_weight, ...)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--feats_scp", help="features to decode (stage 3 dump)")
    src.add_argument("--wav_scp", help="audio to decode (features computed on the fly)")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--ngpu", type=int, default=0)
    for f in dataclasses.fields(DecodeOptions):
        p.add_argument(
            f"--{f.name}",
            type=type(f.default),
            default=None,
            help=f"overrides the config (default {f.default})",
        )
    add_log_level(p)
    return p


def feature_batches(
    s2t: Speech2Text, args: argparse.Namespace, batch_bins: int
) -> Iterator[tuple[list[str], list[np.ndarray]]]:
    """(keys, feature matrices) batches, longest first."""
    if args.feats_scp:
        loader, _ = build_dataloader(
            args.feats_scp,
            None,
            batch_bins=batch_bins,
            shuffle=False,
            feat_dim=int(s2t.config["input_size"]),
        )
        for batch in loader:
            lengths = batch["speech_lengths"].tolist()
            yield batch["utt_id"], [batch["speech"][i, :n].numpy() for i, n in enumerate(lengths)]
        return
    entries = read_kaldi_entries(args.wav_scp)
    feats = []
    for e in entries:
        wav, rate = read_audio(e.value)
        try:
            feats.append((e.key, s2t.features(wav, rate)))
        except ValueError as err:
            raise ValueError(f"{args.wav_scp}: line {e.line}: utterance '{e.key}': {err}") from err
    feats.sort(key=lambda kv: -len(kv[1]))
    batch: list[tuple[str, np.ndarray]] = []
    for key, f in feats:
        if batch and (len(batch) + 1) * len(batch[0][1]) > batch_bins:
            yield [k for k, _ in batch], [x for _, x in batch]
            batch = []
        batch.append((key, f))
    if batch:
        yield [k for k, _ in batch], [x for _, x in batch]


def write_results(out_dir: Path, results: dict[str, list[Result]], nbest: int) -> None:
    """``{n}best_recog/{text,token,token_int,score,timestamps}``, sorted by utterance id."""
    for n in range(1, nbest + 1):
        d = out_dir / f"{n}best_recog"
        d.mkdir(parents=True, exist_ok=True)
        files = {
            name: open(d / name, "w", encoding="utf-8")
            for name in ("text", "token", "token_int", "score", "timestamps")
        }
        try:
            for key in sorted(results):
                if len(results[key]) < n:
                    continue
                r = results[key][n - 1]
                files["text"].write(f"{key} {r.text}\n")
                files["token"].write(f"{key} {' '.join(r.tokens)}\n")
                files["token_int"].write(f"{key} {' '.join(map(str, r.token_ids))}\n")
                files["score"].write(f"{key} {r.score:.4f}\n")
                for tok, (start, end) in zip(r.tokens, r.timestamps):
                    files["timestamps"].write(f"{key} 1 {start:.3f} {end - start:.3f} {tok}\n")
        finally:
            for f in files.values():
                f.close()


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(DecodeOptions)}
    try:
        opts = DecodeOptions.load(args.config, overrides)
    except ConfigError as e:
        print(f"asr_inference: {e}", file=sys.stderr)
        return 1
    logger.info("decoding options: %s", yaml.safe_dump(dataclasses.asdict(opts)).strip())
    decode = dict(
        lm_train_config=args.lm_train_config,
        lm_file=args.lm_file,
        beam_size=opts.beam_size,
        nbest=opts.nbest,
        lm_weight=opts.lm_weight,
        tail_threshold=opts.tail_threshold,
        dtype=opts.dtype,
    )
    if args.onnx_dir:
        if args.ngpu > 0:
            print("asr_inference: --onnx_dir decodes on the CPU: use --ngpu 0", file=sys.stderr)
            return 1
        logger.info("backend: onnxruntime, %s graphs of %s", args.onnx_precision, args.onnx_dir)
        s2t = Speech2Text.from_onnx(args.onnx_dir, args.onnx_precision, **decode)
    elif args.asr_train_config and args.asr_model_file:
        device = "cuda" if args.ngpu > 0 else "cpu"
        s2t = Speech2Text(args.asr_train_config, args.asr_model_file, device=device, **decode)
    else:
        print(
            "asr_inference: give --asr_train_config and --asr_model_file, or --onnx_dir",
            file=sys.stderr,
        )
        return 1
    shift = s2t.fbank.frame_shift_ms / 1000.0
    results: dict[str, list[Result]] = {}
    audio_s = 0.0
    start = time.perf_counter()
    for keys, feats in feature_batches(s2t, args, opts.batch_bins):
        for key, nbest in zip(keys, s2t.recognize_features(feats)):
            results[key] = nbest
        audio_s += sum(len(f) for f in feats) * shift
    elapsed = time.perf_counter() - start
    write_results(Path(args.output_dir), results, opts.nbest)
    rtf = elapsed / max(audio_s, 1e-9)
    logger.info(
        "decoded %d utterances, %.1f s of audio in %.1f s: RTF %.4f (beam %d, batch_bins %d)",
        len(results),
        audio_s,
        elapsed,
        rtf,
        opts.beam_size,
        opts.batch_bins,
    )
    # the rtf file says what computed it: the torch precision, or the ONNX graphs' own
    precision = f"onnxruntime-{args.onnx_precision}" if args.onnx_dir else s2t.precision.name
    (Path(args.output_dir) / "rtf").write_text(
        f"utterances {len(results)}\naudio_seconds {audio_s:.2f}\ndecode_seconds {elapsed:.2f}\n"
        f"rtf {rtf:.5f}\nprecision {precision}\n",
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
