"""Stage 1 for AISHELL-1: (download,) unpack and write data/{train,dev,test}.

    python -m cifasr.bin.prepare_aishell --corpus_root downloads --out_dir data

``--corpus_root`` is the directory that holds ``data_aishell/`` (packed or unpacked) or
``data_aishell.tgz``; with ``--download true`` a missing corpus is downloaded there from
openslr resource 33 first.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cifasr.bin._common import add_log_level, setup_logging, str2bool
from cifasr.data.aishell import (
    ARCHIVE,
    ARCHIVE_BYTES,
    TRANSCRIPT,
    URL,
    AishellError,
    download_aishell,
    prepare_aishell,
)
from cifasr.data.kaldi_files import KaldiFileError


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus_root", required=True, help="directory holding data_aishell/")
    parser.add_argument("--out_dir", default="data", help="where {train,dev,test}/ go")
    parser.add_argument(
        "--download",
        type=str2bool,
        default=False,
        help="download the corpus into --corpus_root when it is not there (default: false)",
    )
    parser.add_argument("--url", default=URL, help="download URL (default: %(default)s)")
    parser.add_argument(
        "--check_size",
        type=str2bool,
        default=True,
        help=f"check the archive is {ARCHIVE_BYTES} bytes (default: true)",
    )
    add_log_level(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    root = Path(args.corpus_root)
    try:
        have_corpus = (root / TRANSCRIPT).is_file() or (root / ARCHIVE).is_file()
        if not have_corpus and args.download:
            download_aishell(root, args.url, ARCHIVE_BYTES if args.check_size else None)
        prepare_aishell(root, args.out_dir)
    except (AishellError, KaldiFileError) as e:
        logging.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
