"""Stage 3: fbank features of a wav.scp into an ark/scp pair (one job of the recipe's --nj).

    python -m cifasr.bin.compute_fbank --wav_scp split/wav.1.scp --out_ark data/feats.1.ark \\
        --out_scp split/feats.1.scp --out_num_frames split/utt2num_frames.1 \\
        --out_dur split/utt2dur.1 [--fbank_config conf/fbank.yaml] [--sample_rate 16000]
    python -m cifasr.bin.compute_fbank --print_config [--fbank_config ...] > fbank.yaml

Settings come from ``cifasr.frontend.fbank.FbankConfig`` (the defaults, or --fbank_config),
overridden by --sample_rate / --num_mel_bins when given.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

import yaml

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.data.fbank_dump import ON_ERROR_CHOICES, FbankDumpError, dump_fbank
from cifasr.data.kaldi_files import KaldiFileError
from cifasr.frontend.fbank import FbankConfig


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--wav_scp", help="input wav.scp")
    parser.add_argument("--out_ark", help="output ark (replaced)")
    parser.add_argument("--out_scp", help="output feats.scp")
    parser.add_argument("--out_num_frames", help="output utt2num_frames")
    parser.add_argument("--out_dur", help="output utt2dur (seconds)")
    parser.add_argument("--fbank_config", help="YAML of FbankConfig fields")
    parser.add_argument("--sample_rate", type=int, help="override the expected sample rate (Hz)")
    parser.add_argument("--num_mel_bins", type=int, help="override the number of mel bins")
    parser.add_argument(
        "--on_error",
        choices=ON_ERROR_CHOICES,
        default="fail",
        help="bad audio: fail at once, or skip it (logged and counted) (default: %(default)s)",
    )
    parser.add_argument(
        "--print_config", action="store_true", help="print the resolved config as YAML and exit"
    )
    add_log_level(parser)
    return parser


def resolve_config(args: argparse.Namespace) -> FbankConfig:
    """FbankConfig from --fbank_config and the overrides."""
    config = FbankConfig.load(args.fbank_config) if args.fbank_config else FbankConfig()
    overrides = {
        k: getattr(args, k) for k in ("sample_rate", "num_mel_bins") if getattr(args, k) is not None
    }
    return dataclasses.replace(config, **overrides)


def main(argv: list[str] | None = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        config = resolve_config(args)
    except (ValueError, OSError) as e:
        logging.error("%s", e)
        return 1
    if args.print_config:
        sys.stdout.write(yaml.safe_dump(config.to_dict(), sort_keys=False))
        return 0
    for name in ("wav_scp", "out_ark", "out_scp"):
        if getattr(args, name) is None:
            parser.error(f"--{name} is required (unless --print_config)")
    try:
        dump_fbank(
            args.wav_scp,
            args.out_ark,
            args.out_scp,
            args.out_num_frames,
            args.out_dur,
            config,
            args.on_error,
        )
    except (FbankDumpError, KaldiFileError, FileNotFoundError) as e:
        logging.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
