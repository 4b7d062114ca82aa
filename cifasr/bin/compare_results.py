"""A paper-style table of error rates: one row per system, one column per decoding/set, with the
seeds' spread and paired bootstrap intervals of each system's difference from a baseline.

    python -m cifasr.bin.compare_results --metric cer \\
        --row "CIF=exp/asr_train_cif_fbank_char,exp/asr_train_cif_seed2_fbank_char" \\
        --row "CIF + HKD=exp/asr_train_cif_hkd_fbank_char,exp/asr_train_cif_hkd_seed2_fbank_char" \\
        --column "dev=decode_asr_model_ave/dev" --column "test (+LM)=decode_lm/test" \\
        --baseline CIF [--output RESULTS.md --title "..." --note "..." --environment]

A row names one experiment directory per training seed (comma-separated); a cell is the error
rate of ``<exp>/<column path>/score_<metric>`` (the ``Err`` of its result.txt), averaged over the
seeds found, with their min-max when there are several; ``-`` when none is scored. With
``--baseline``, a second table gives each other row minus the baseline, in error-rate points,
with a 95% paired bootstrap interval over utterances (``*``: the interval excludes 0). See
:mod:`cifasr.scoring.compare`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cifasr.scoring.compare import collect, render_difference_table, render_error_table
from cifasr.scoring.results_md import environment_lines


def _pair(text: str, what: str) -> tuple[str, str]:
    label, sep, value = text.partition("=")
    if not sep or not label.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"{what} must be LABEL=PATH, got '{text}'")
    return label.strip(), value.strip()


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cifasr.bin.compare_results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--row",
        action="append",
        required=True,
        type=lambda t: _pair(t, "--row"),
        help="LABEL=EXP_DIR[,EXP_DIR of another seed...]",
    )
    p.add_argument(
        "--column",
        action="append",
        required=True,
        type=lambda t: _pair(t, "--column"),
        help="LABEL=DECODE_TAG/SET",
    )
    p.add_argument("--metric", default="cer", choices=["cer", "wer", "ter"])
    p.add_argument("--baseline", help="row label: add the table of differences from it")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--title", help="a '# title' line first")
    p.add_argument("--note", action="append", default=[], help="a paragraph after the title")
    p.add_argument("--environment", action="store_true", help="append the environment list")
    p.add_argument("--output", type=Path, help="also write the text here")
    return p


def render(args: argparse.Namespace) -> str:
    rows = [(label, [Path(d) for d in dirs.split(",") if d]) for label, dirs in args.row]
    comparison = collect(rows, args.column, args.metric)
    parts = []
    if args.title:
        parts.append(f"# {args.title}\n")
    parts += [f"{note}\n" for note in args.note]
    parts.append(render_error_table(comparison))
    if args.baseline:
        parts.append(
            f"{args.metric.upper()} difference from {args.baseline} in points (negative: fewer "
            f"errors), with its 95% paired bootstrap interval over utterances ({args.bootstrap} "
            "resamples; seeds averaged per utterance); * marks an interval that excludes 0.\n"
        )
        parts.append(render_difference_table(comparison, args.baseline, args.bootstrap))
    if args.environment:
        parts.append("## Environment\n\n" + "\n".join(environment_lines()) + "\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    try:
        text = render(args)
    except ValueError as e:
        print(f"compare_results: {e}", file=sys.stderr)
        return 1
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
