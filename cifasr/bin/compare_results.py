"""A paper-style table of error rates: one row per experiment, one column per decoding/set.

    python -m cifasr.bin.compare_results --metric cer \\
        --row "CIF=exp/asr_train_cif_fbank_char" \\
        --row "CIF + HKD=exp/asr_train_cif_hkd_fbank_char" \\
        --column "dev=decode_asr_model_ave/dev" --column "test (+LM)=decode_lm_..._ave/test"

Each cell is the ``Err`` of ``<exp>/<column path>/score_<metric>/result.txt`` (sclite's
Sum/Avg row); a missing result is ``-``. Prints the markdown table, or writes it to --output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cifasr.scoring.report import parse_sum_avg


def _pair(text: str, what: str) -> tuple[str, str]:
    label, sep, value = text.partition("=")
    if not sep or not label.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"{what} must be LABEL=PATH, got '{text}'")
    return label.strip(), value.strip()


def error_rate(result_txt: Path) -> str:
    """The ``Err`` field of a result.txt, or ``-`` when it is missing or incomplete."""
    try:
        return parse_sum_avg(result_txt.read_text(encoding="utf-8", errors="replace"))["Err"]
    except (OSError, ValueError, KeyError):
        return "-"


def render_table(
    rows: list[tuple[str, Path]], columns: list[tuple[str, str]], metric: str = "cer"
) -> str:
    """Markdown table: ``| Method | <column labels> |`` with one line per row."""
    head = f"| Method | {' | '.join(label for label, _ in columns)} |"
    rule = "|---|" + "---|" * len(columns)
    lines = [head, rule]
    for label, exp_dir in rows:
        cells = [
            error_rate(exp_dir / path / f"score_{metric}" / "result.txt") for _, path in columns
        ]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--row",
        action="append",
        required=True,
        type=lambda t: _pair(t, "--row"),
        help="LABEL=EXP_DIR",
    )
    p.add_argument(
        "--column",
        action="append",
        required=True,
        type=lambda t: _pair(t, "--column"),
        help="LABEL=DECODE_TAG/SET",
    )
    p.add_argument("--metric", default="cer", choices=["cer", "wer", "ter"])
    p.add_argument("--output", type=Path, help="write the table here (else print it)")
    args = p.parse_args(argv)
    table = render_table([(label, Path(d)) for label, d in args.row], args.column, args.metric)
    if args.output:
        args.output.write_text(table, encoding="utf-8")
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
