"""Stage 5: token list (characters or sentencepiece BPE) from training transcripts.

    python -m cifasr.bin.token_list --token_type char --text dump/fbank/train/text \\
        --out_dir data/zh_token_list/char
    python -m cifasr.bin.token_list --token_type bpe --nbpe 5000 --bpemode bpe \\
        --text dump/fbank/train/text --out_dir data/zh_token_list/bpe_bpe5000

Writes ``<out_dir>/tokens.txt`` (``<blank>``, ``<unk>``, tokens by descending count,
``<sos/eos>``) and, for BPE, ``<out_dir>/bpe.model``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.data.kaldi_files import KaldiFileError
from cifasr.data.token_list import build_bpe_token_list, build_char_token_list
from cifasr.data.tokenizer import TOKEN_TYPES


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--token_type", choices=TOKEN_TYPES, default="char")
    parser.add_argument("--text", required=True, help="Kaldi text of the training set")
    parser.add_argument("--out_dir", required=True, help="directory for tokens.txt (bpe.model)")
    parser.add_argument("--nbpe", type=int, default=5000, help="BPE vocabulary size")
    parser.add_argument("--bpemode", choices=["bpe", "unigram"], default="bpe")
    parser.add_argument("--character_coverage", type=float, default=1.0)
    parser.add_argument("--input_sentence_size", type=int, default=100_000_000)
    parser.add_argument(
        "--space_symbol",
        default=None,
        help="char: keep spaces as this token (default: drop spaces, as for Mandarin)",
    )
    add_log_level(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        if args.token_type == "char":
            build_char_token_list(args.text, args.out_dir, args.space_symbol)
        else:
            build_bpe_token_list(
                args.text,
                args.out_dir,
                args.nbpe,
                args.bpemode,
                args.character_coverage,
                args.input_sentence_size,
            )
    except (KaldiFileError, FileNotFoundError, ValueError) as e:
        logging.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
