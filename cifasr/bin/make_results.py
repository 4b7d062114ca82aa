"""Write <exp_dir>/RESULTS.md from every <decode_tag>/<dataset>/score_*/result.txt.

    python -m cifasr.bin.make_results --exp_dir exp/asr_train_cif

ESPnet's table format (|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|, one table per decode tag
under ### CER / ### WER / ### TER) plus the environment: date, python, torch and cifasr versions,
git hash, OS. Re-running rewrites the file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.scoring.results_md import write_results_md


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cifasr.bin.make_results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--exp_dir", required=True, help="experiment directory to summarise")
    parser.add_argument("--output", default=None, help="default: <exp_dir>/RESULTS.md")
    add_log_level(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    path = write_results_md(args.exp_dir, args.output)
    sys.stdout.write(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    try:
        main()
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"cifasr.bin.make_results: error: {e}")
