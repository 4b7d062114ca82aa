"""Average model checkpoints (the original decodes with the mean of the last 10 epochs).

    python -m cifasr.bin.average_checkpoints --exp_dir exp/asr --last 10 --output ave.pth
    python -m cifasr.bin.average_checkpoints --exp_dir exp/asr --best 10 \\
        --criterion valid cer_tf min --output valid.cer_tf.ave_10best.pth
    python -m cifasr.bin.average_checkpoints --inputs a.pth b.pth --output ab.pth

``--last`` uses the ``{N}epoch.pth`` files present; ``--best`` ranks epochs by a validation
statistic from ``checkpoint.pth``'s history. BatchNorm statistics are averaged too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.train.checkpoint import average_checkpoints, load_checkpoint, save_atomic
from cifasr.train.reporter import Reporter

logger = logging.getLogger("cifasr.bin.average_checkpoints")


def epoch_files(exp_dir: Path) -> dict[int, Path]:
    """Epoch number -> ``{N}epoch.pth`` in ``exp_dir``."""
    out = {}
    for p in exp_dir.glob("*epoch.pth"):
        stem = p.name[: -len("epoch.pth")]
        if stem.isdigit():
            out[int(stem)] = p
    return out


def select(exp_dir: Path, last: int, best: int, criterion: list[str] | None) -> list[Path]:
    """The checkpoint files to average, naming what is missing when they are not there."""
    files = epoch_files(exp_dir)
    if not files:
        raise FileNotFoundError(f"{exp_dir}: no {{N}}epoch.pth files (train first, stage 11)")
    if last:
        epochs = sorted(files)[-last:]
        if len(epochs) < last:
            logger.warning("%s: only %d epoch files; averaging those", exp_dir, len(epochs))
        return [files[e] for e in epochs]
    if not criterion or len(criterion) != 3:
        raise ValueError("--best needs --criterion PHASE KEY min|max, e.g. valid cer_tf min")
    reporter = Reporter()
    reporter.load_state_dict(load_checkpoint(exp_dir / "checkpoint.pth")["reporter"])
    ranked = [e for e, _ in reporter.sorted_epochs(*criterion) if e in files][:best]
    if not ranked:
        raise ValueError(f"{exp_dir}: no kept epoch has {'.'.join(criterion[:2])} in its history")
    logger.info("best %d epochs by %s: %s", best, " ".join(criterion), ranked)
    return [files[e] for e in ranked]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--exp_dir", type=Path)
    p.add_argument("--inputs", nargs="+", type=Path, help="explicit checkpoint files")
    p.add_argument("--last", type=int, default=0, help="average the last N epochs")
    p.add_argument("--best", type=int, default=0, help="average the best N epochs")
    p.add_argument("--criterion", nargs=3, metavar=("PHASE", "KEY", "MODE"))
    p.add_argument("--output", type=Path, required=True)
    add_log_level(p)
    args = p.parse_args(argv)
    setup_logging(args.log_level)
    if args.inputs:
        paths = args.inputs
    elif args.exp_dir and (args.last or args.best):
        paths = select(args.exp_dir, args.last, args.best, args.criterion)
    else:
        p.error("give --inputs, or --exp_dir with --last N or --best N")
    save_atomic(average_checkpoints(paths), args.output)
    logger.info("wrote %s (mean of %d checkpoints)", args.output, len(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
