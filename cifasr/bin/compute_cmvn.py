"""Stage 10: global CMVN statistics (ESPnet's feats_stats.npz), one job or a merge of jobs.

python -m cifasr.bin.compute_cmvn --feats_scp split/feats.1.scp --out stats.1.npz
python -m cifasr.bin.compute_cmvn --merge stats.1.npz stats.2.npz --out feats_stats.npz
"""

from __future__ import annotations

import argparse
import logging
import sys

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.data.ark import ArkReadError
from cifasr.data.cmvn import accumulate_cmvn, merge_cmvn_files
from cifasr.data.kaldi_files import KaldiFileError


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--feats_scp", help="accumulate the statistics of this scp")
    source.add_argument("--merge", nargs="+", metavar="NPZ", help="sum these job files")
    parser.add_argument("--out", required=True, help="output .npz (count, sum, sum_square)")
    add_log_level(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        stats = accumulate_cmvn(args.feats_scp) if args.feats_scp else merge_cmvn_files(args.merge)
    except (ArkReadError, KaldiFileError, FileNotFoundError, ValueError) as e:
        logging.error("%s", e)
        return 1
    stats.save(args.out)
    if args.merge:
        mean, std = stats.mean_std()
        logging.info(
            "cmvn: %s: %d frames from %d job file(s); mean in [%.2f, %.2f], std in [%.2f, %.2f]",
            args.out,
            stats.count,
            len(args.merge),
            mean.min(),
            mean.max(),
            std.min(),
            std.max(),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
