"""Print the complete ASR config: every key, every constructor default.

    python -m cifasr.bin.print_config --config conf/train_cif.yaml > full.yaml

Building a model from the printed YAML gives the same parameter names and shapes as building it
from the original config.
"""

from __future__ import annotations

import argparse
import sys

from cifasr.tasks.asr import resolve_config
from cifasr.utils.config import ConfigError, dump_config


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--config", help="YAML config (omit to print the defaults alone)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    try:
        config = resolve_config(args.config if args.config else {})
    except ConfigError as e:
        print(f"print_config: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(dump_config(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
