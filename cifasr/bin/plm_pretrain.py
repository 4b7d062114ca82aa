"""Pre-train a tiny character BERT (masked LM) on the training transcripts, as the PLM teacher of
recipes that cannot download one (mini_zh).

    python -m cifasr.bin.plm_pretrain --text data/train/text --output_dir exp/plm_tiny \\
        --hidden_size 128 --num_layers 2 --max_steps 2000

The output directory loads with AutoModel/AutoTokenizer.from_pretrained and is passed to stage 8
as --plm exp/plm_tiny, exactly like bert-base-chinese in the aishell recipe. Use the train text
only: dev and test transcripts must not leak into the teacher.
"""

from __future__ import annotations

import argparse
import sys

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.data.kaldi_files import read_text
from cifasr.distill.pretrain import PretrainConfig, pretrain_char_bert


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--text", required=True, help="Kaldi text file of the training set")
    parser.add_argument("--valid_text", help="Kaldi text file for a held-out MLM score (optional)")
    parser.add_argument("--output_dir", required=True, help="save_pretrained directory")
    defaults = PretrainConfig()
    for name, value in vars(defaults).items():
        kind = int if name == "intermediate_size" else type(value)
        parser.add_argument(f"--{name}", type=kind, default=value, help=f"default {value}")
    add_log_level(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    cfg = PretrainConfig(**{k: getattr(args, k) for k in vars(PretrainConfig())})
    try:
        texts = list(read_text(args.text).values())
        valid = list(read_text(args.valid_text).values()) if args.valid_text else None
        pretrain_char_bert(texts, args.output_dir, cfg, valid)
    except (FileNotFoundError, ValueError) as e:
        print(f"plm_pretrain: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
