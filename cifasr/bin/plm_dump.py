"""Stage 8: dump PLM teacher features aligned to the ASR targets (Kaldi ark/scp).

    python -m cifasr.bin.plm_dump --plm bert-base-chinese --text data/train/text \\
        --token_list data/zh_token_list/char/tokens.txt --token_type char \\
        --output_dir dump/plm/bert-base-chinese/train

Each utterance gets one (N + 1, D) matrix: the PLM vectors of its N ASR tokens, then the
closing special token ([SEP]) for <sos/eos>; no [CLS] (docs/distillation.md §1). Writes feats.ark,
feats.scp (sorted), feats_shape and imperfect_alignments into --output_dir. Run it for the
train, dev and test sets: validation computes the distillation losses too.
"""

from __future__ import annotations

import argparse
import sys

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.data.kaldi_files import read_text
from cifasr.distill.dump import check_token_list, dump_teacher_features
from cifasr.distill.io import DTYPES, TeacherFeatureError
from cifasr.distill.plm import ALIGNMENTS, TOKEN_TYPES, PLMError, PLMFeatureExtractor, load_plm
from cifasr.utils.precision import ALIASES, resolve_precision


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--plm", required=True, help="hub name or save_pretrained directory")
    parser.add_argument(
        "--layer", type=int, default=-1, help="hidden state: -1 = last, 0 = embeddings, k = layer k"
    )
    parser.add_argument("--text", required=True, help="Kaldi text file (utt transcript)")
    parser.add_argument("--token_list", help="ASR tokens.txt: checks the token type, counts <unk>")
    parser.add_argument("--token_type", default="char", choices=TOKEN_TYPES)
    parser.add_argument("--bpemodel", help="sentencepiece model (token_type bpe)")
    parser.add_argument(
        "--alignment",
        default="auto",
        choices=ALIGNMENTS,
        help="auto: positional for char (the original), offsets otherwise",
    )
    parser.add_argument("--output_dir", required=True, help="e.g. dump/plm/<plm>/<set>")
    parser.add_argument("--batch_size", type=int, default=256, help="texts per forward pass")
    parser.add_argument("--dtype", default="float16", choices=tuple(DTYPES), help="on disk")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument(
        "--autocast",
        default="auto",
        choices=tuple(ALIASES),
        help="precision of the PLM: auto = bf16 autocast where the device computes it natively "
        "(rows differ from float32 by ~1%%), else float32; none/fp32 = always float32",
    )
    add_log_level(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        texts = read_text(args.text)
        precision = resolve_precision(args.autocast, args.device, what="--autocast")
        precision.log()
        model, tokenizer = load_plm(args.plm, args.device)
        extractor = PLMFeatureExtractor(
            model,
            tokenizer,
            layer=args.layer,
            token_type=args.token_type,
            alignment=args.alignment,
            bpemodel=args.bpemodel,
            name=args.plm,
            autocast=precision.name,
        )
        if args.token_list:
            check_token_list(args.token_list, extractor, texts)
        dump_teacher_features(extractor, texts, args.output_dir, args.batch_size, args.dtype)
    except (FileNotFoundError, PLMError, TeacherFeatureError, ValueError) as e:
        print(f"plm_dump: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
