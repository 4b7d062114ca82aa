"""Perplexity of a trained LM on a Kaldi text file (stage 7 of asr.sh).

    python -m cifasr.bin.lm_perplexity --lm_train_config exp/lm/config.yaml \\
        --lm_file exp/lm/valid.loss.best.pth --text dump/fbank/test/text \\
        --output exp/lm/perplexity_test

Writes ``ppl <value>`` and the token counts to ``--output`` and prints the perplexity.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

import torch
import yaml

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.data.text_dataset import build_text_dataloader
from cifasr.data.tokenizer import Tokenizer
from cifasr.tasks.lm import build_lm
from cifasr.train.checkpoint import load_checkpoint, model_state

logger = logging.getLogger("cifasr.bin.lm_perplexity")


@torch.no_grad()
def perplexity(
    lm_train_config: str | Path,
    lm_file: str | Path,
    text: str | Path,
    batch_bins: int = 20000,
    device: str = "cpu",
) -> tuple[float, int, int]:
    """(perplexity, tokens incl. <sos/eos>, unknown tokens) of ``text`` under the LM."""
    config = yaml.safe_load(Path(lm_train_config).read_text(encoding="utf-8"))
    model = build_lm(config)
    model.load_state_dict(model_state(load_checkpoint(lm_file)))
    model.to(device).eval()
    tokenizer = Tokenizer(config["token_list"], config["token_type"], config["bpemodel"])
    loader, _ = build_text_dataloader(text, tokenizer, batch_bins, shuffle=False)
    total, count = 0.0, 0
    for batch in loader:
        loss, _, weight = model(batch["text"].to(device), batch["text_lengths"].to(device))
        total += float(loss) * int(weight)
        count += int(weight)
    return math.exp(total / max(count, 1)), count, tokenizer.num_unk


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--lm_train_config", required=True)
    p.add_argument("--lm_file", required=True)
    p.add_argument("--text", required=True, help="Kaldi text file")
    p.add_argument("--output", help="file to write the result to")
    p.add_argument("--batch_bins", type=int, default=20000)
    p.add_argument("--device", default="cpu")
    add_log_level(p)
    args = p.parse_args(argv)
    setup_logging(args.log_level)
    ppl, count, unk = perplexity(
        args.lm_train_config, args.lm_file, args.text, args.batch_bins, args.device
    )
    line = f"ppl {ppl:.4f}\ntokens {count}\nunk {unk}\n"
    logger.info("%s: perplexity %.3f over %d tokens (%d unknown)", args.text, ppl, count, unk)
    if args.output:
        Path(args.output).write_text(line, encoding="utf-8")
    print(f"{ppl:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
