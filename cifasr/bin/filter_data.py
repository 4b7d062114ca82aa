"""Stage 4: length filter of a training/validation data directory.

    python -m cifasr.bin.filter_data --src dump/fbank/org/train --dest dump/fbank/train \\
        --min_duration 0.1 --max_duration 20 --subsampling_factor 8

Drops (and counts, per reason) utterances that are too short, too long, have an empty text, or
have more tokens than the encoder can emit; ``<dest>/.filtered`` lists each dropped key.
"""

from __future__ import annotations

import argparse
import logging
import sys

from cifasr.bin._common import add_log_level, setup_logging, str2bool
from cifasr.data.datadir import DataDirError
from cifasr.data.filter import filter_data_dir
from cifasr.data.kaldi_files import KaldiFileError


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--src", required=True, help="data directory with utt2dur (stage 3)")
    parser.add_argument("--dest", required=True, help="filtered copy (replaced)")
    parser.add_argument("--min_duration", type=float, default=0.1, help="seconds")
    parser.add_argument("--max_duration", type=float, default=20.0, help="seconds (<=0: none)")
    parser.add_argument(
        "--subsampling_factor",
        type=int,
        default=8,
        help="encoder frame subsampling for the text-length check (0: no check)",
    )
    parser.add_argument(
        "--check_text", type=str2bool, default=True, help="drop empty and too long texts"
    )
    add_log_level(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        filter_data_dir(
            args.src,
            args.dest,
            args.min_duration,
            args.max_duration,
            args.subsampling_factor,
            args.check_text,
        )
    except (DataDirError, KaldiFileError, FileNotFoundError) as e:
        logging.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
