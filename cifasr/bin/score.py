"""Score decoded text against the reference, sclite-style (recipe stage 13).

    python -m cifasr.bin.score --ref data/test/text --hyp exp/asr/decode/test/text \\
        --utt2spk data/test/utt2spk --output_dir exp/asr/decode/test/score_cer

Writes ref.trn, hyp.trn and result.txt (SPKR / Sum/Avg tables, then the per-utterance
REF/HYP/Eval alignment dump) into --output_dir and prints the SPKR and Sum/Avg lines.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.data.tokenizer import load_token_list
from cifasr.scoring.scorer import SCORERS, score_text, summary_lines
from cifasr.scoring.trn import TOKEN_TYPES


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cifasr.bin.score",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--ref", required=True, help="reference Kaldi text (utt_id text...)")
    parser.add_argument("--hyp", required=True, help="hypothesis Kaldi text (utt_id text...)")
    parser.add_argument(
        "--utt2spk",
        default=None,
        help="utt2spk for the SPKR table; default: utt id up to its first '-' or '_'",
    )
    parser.add_argument("--output_dir", required=True, help="gets ref.trn, hyp.trn, result.txt")
    parser.add_argument(
        "--scorer",
        default="auto",
        choices=SCORERS,
        help="auto: sclite if found (PATH or /usr/lib/sctk/bin/sclite), else builtin",
    )
    parser.add_argument("--sclite", default=None, help="path of the sclite binary to use")
    parser.add_argument(
        "--token_type",
        default="char",
        choices=TOKEN_TYPES,
        help="char: each non-space character (<unk>-style symbols stay whole), for CER; "
        "word: whitespace-separated words, for WER",
    )
    parser.add_argument(
        "--remove_tokens",
        nargs="*",
        default=[],
        help="tokens removed from reference and hypothesis before scoring, e.g. '<unk>'",
    )
    parser.add_argument(
        "--token_list",
        default=None,
        help="map tokens outside this tokens.txt to <unk> on both sides before scoring, as the "
        "original HieraDist scoring did; default: no mapping (ESPnet's), so an out-of-vocabulary "
        "reference character is an error whatever the hypothesis says",
    )
    add_log_level(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    summary = score_text(
        ref=args.ref,
        hyp=args.hyp,
        output_dir=args.output_dir,
        utt2spk=args.utt2spk,
        scorer=args.scorer,
        token_type=args.token_type,
        remove_tokens=args.remove_tokens,
        sclite=args.sclite,
        vocabulary=load_token_list(args.token_list) if args.token_list else None,
    )
    logging.info("wrote %s (scorer: %s)", summary.result_path, summary.scorer)
    report = summary.result_path.read_text(encoding="utf-8", errors="surrogateescape")
    for line in summary_lines(report):
        print(line)


if __name__ == "__main__":
    try:
        main()
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        sys.exit(f"cifasr.bin.score: error: {e}")
