"""Kaldi data-directory tools (what utils/*.sh call).

python -m cifasr.bin.data_dir validate [--no_text] [--no_wav] [--need_feats] DIR
python -m cifasr.bin.data_dir fix DIR
python -m cifasr.bin.data_dir subset SRC DEST (--utt_list FILE | --spk_list FILE |
                                               --first N | --last N | --shortest N | --even N)
python -m cifasr.bin.data_dir copy [--utt_prefix P] [--spk_prefix P] ... SRC DEST
python -m cifasr.bin.data_dir combine DEST SRC [SRC ...]
python -m cifasr.bin.data_dir perturb_speed FACTOR SRC DEST
python -m cifasr.bin.data_dir spk2utt [UTT2SPK]            (stdout; stdin without a file)
python -m cifasr.bin.data_dir split_scp SCP OUT1 [OUT2 ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.data.datadir import (
    DataDirError,
    combine_data_dirs,
    copy_data_dir,
    fix_data_dir,
    select_utterances,
    split_scp,
    subset_data_dir,
    validate_data_dir,
)
from cifasr.data.kaldi_files import KaldiFileError, read_utt2spk, utt2spk_to_spk2utt
from cifasr.data.speed_perturb import perturb_data_dir_speed


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_log_level(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="list every problem of a data directory")
    p.add_argument("dir")
    p.add_argument("--no_text", "--no-text", action="store_true", help="text is optional")
    p.add_argument("--no_wav", "--no-wav", action="store_true", help="wav.scp is optional")
    p.add_argument("--need_feats", "--need-feats", action="store_true", help="require feats.scp")

    p = sub.add_parser("fix", help="keep utterances present in every file; sort; spk2utt")
    p.add_argument("dir")

    p = sub.add_parser("subset", help="copy some utterances to a new directory")
    p.add_argument("src")
    p.add_argument("dest")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--utt_list", "--utt-list", help="file with one utterance id per line")
    how.add_argument("--spk_list", "--spk-list", help="file with one speaker id per line")
    for name in ("first", "last", "shortest", "even"):
        how.add_argument(f"--{name}", type=int, metavar="N", help=f"the {name} N utterances")

    p = sub.add_parser("copy", help="copy, optionally renaming utterances and speakers")
    p.add_argument("src")
    p.add_argument("dest")
    for name in ("utt_prefix", "utt_suffix", "spk_prefix", "spk_suffix"):
        p.add_argument(f"--{name}", f"--{name.replace('_', '-')}", default="")

    p = sub.add_parser("combine", help="concatenate directories")
    p.add_argument("dest")
    p.add_argument("srcs", nargs="+")

    p = sub.add_parser("perturb_speed", help="sp<factor>- copy with a sox speed pipe")
    p.add_argument("factor")
    p.add_argument("src")
    p.add_argument("dest")

    p = sub.add_parser("spk2utt", help="utt2spk -> spk2utt on stdout")
    p.add_argument("utt2spk", nargs="?", default="-")

    p = sub.add_parser("split_scp", help="split a file into contiguous parts")
    p.add_argument("scp")
    p.add_argument("outputs", nargs="+")
    return parser


def _read_list(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.split()[0] for line in f if line.strip()]


def _run(args: argparse.Namespace) -> int:
    if args.command == "validate":
        problems = validate_data_dir(
            args.dir,
            need_text=not args.no_text,
            need_wav=not args.no_wav,
            need_feats=args.need_feats,
        )
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return 1
        print(f"{args.dir}: valid", file=sys.stderr)
    elif args.command == "fix":
        fix_data_dir(args.dir)
    elif args.command == "subset":
        if args.utt_list:
            utts = _read_list(args.utt_list)
        elif args.spk_list:
            speakers = set(_read_list(args.spk_list))
            utt2spk = read_utt2spk(Path(args.src) / "utt2spk")
            utts = [u for u, s in utt2spk.items() if s in speakers]
        else:
            how = next(n for n in ("first", "last", "shortest", "even") if getattr(args, n))
            utts = select_utterances(args.src, getattr(args, how), how)
        subset_data_dir(args.src, args.dest, utts)
    elif args.command == "copy":
        copy_data_dir(
            args.src,
            args.dest,
            args.utt_prefix,
            args.utt_suffix,
            args.spk_prefix,
            args.spk_suffix,
        )
    elif args.command == "combine":
        combine_data_dirs(args.dest, args.srcs)
    elif args.command == "perturb_speed":
        perturb_data_dir_speed(args.factor, args.src, args.dest)
    elif args.command == "spk2utt":
        utt2spk = read_utt2spk("/dev/stdin" if args.utt2spk == "-" else args.utt2spk)
        for spk, utts in utt2spk_to_spk2utt(utt2spk).items():
            print(spk, " ".join(utts))
    elif args.command == "split_scp":
        split_scp(args.scp, args.outputs)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        return _run(args)
    except (DataDirError, KaldiFileError, FileNotFoundError) as e:
        logging.error("%s", e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
