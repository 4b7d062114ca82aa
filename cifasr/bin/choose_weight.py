"""Choose a decoding weight (e.g. the LM weight) on a development set.

    python -m cifasr.bin.choose_weight --exp_dir exp/asr_train_cif_fbank_char \\
        --decode_tag "tune_lm_weight_{}" --set dev --weights 0.2 0.4 0.6 --output exp/lm_weight

Reads ``<exp_dir>/<decode_tag with {} = weight>/<set>/score_<metric>`` for every weight, logs each
error rate, and writes the weight with the lowest one (the smallest weight among equal ones) to
``--output``; a recipe reads it back with ``$(cat exp/lm_weight)``. Only the development set
decides: never a test set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cifasr.scoring.compare import choose_weight, read_utterance_errors


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cifasr.bin.choose_weight",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--exp_dir", type=Path, required=True)
    p.add_argument("--decode_tag", required=True, help="decode tag with {} for the weight")
    p.add_argument("--set", default="dev", help="the development set")
    p.add_argument("--weights", nargs="+", required=True, help="as written in the decode tags")
    p.add_argument("--metric", default="cer", choices=["cer", "wer", "ter"])
    p.add_argument("--output", type=Path, required=True, help="receives the chosen weight")
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    if "{}" not in args.decode_tag:
        print("choose_weight: --decode_tag needs {} where the weight goes", file=sys.stderr)
        return 2
    rates: dict[float, float] = {}
    names: dict[float, str] = {}
    for text in args.weights:
        score_dir = args.exp_dir / args.decode_tag.format(text) / args.set / f"score_{args.metric}"
        try:
            rates[float(text)] = read_utterance_errors(score_dir).error_rate
        except (OSError, ValueError) as e:
            print(f"choose_weight: weight {text}: {e}", file=sys.stderr)
            return 1
        names[float(text)] = text
        print(f"weight {text}: {args.set} {args.metric.upper()} {rates[float(text)]:.2f}%")
    best = choose_weight(rates)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(names[best] + "\n", encoding="utf-8")
    print(f"chosen: {names[best]} ({args.set} {args.metric.upper()} {rates[best]:.2f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
