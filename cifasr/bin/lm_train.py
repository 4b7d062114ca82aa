"""Train a token language model for shallow fusion (stage 7 of asr.sh).

    python -m cifasr.bin.lm_train --config conf/train_lm.yaml \\
        --train_text dump/fbank/train/text --valid_text dump/fbank/dev/text \\
        --token_list data/zh_token_list/char/tokens.txt --output_dir exp/lm_train_lm

The LM must use the ASR model's token list. Validation reports the loss and perplexity each
epoch; ``python -m cifasr.bin.lm_perplexity`` scores other sets.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from typing import Any

import torch

from cifasr.bin._train_common import (
    StartError,
    add_common_args,
    build_optimizer,
    config_or_exit,
    load_with_overrides,
    start,
)
from cifasr.data.text_dataset import build_text_dataloader
from cifasr.data.tokenizer import Tokenizer
from cifasr.tasks.asr import count_parameters, read_token_list
from cifasr.tasks.lm import build_lm, resolve_lm_config
from cifasr.train.trainer import TrainData, Trainer
from cifasr.utils.config import dump_config

logger = logging.getLogger("cifasr.bin.lm_train")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_args(p)
    p.add_argument("--token_type", choices=["char", "bpe"])
    p.add_argument("--bpemodel")
    p.add_argument("--train_text", help="training text (Kaldi text)")
    p.add_argument("--valid_text", help="validation text")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = get_parser()
    args, rest = parser.parse_known_args(argv)

    def update(config: dict[str, Any]) -> None:
        if args.token_list:
            config["token_list"] = read_token_list(args.token_list)
        if args.token_type:
            config["token_type"] = args.token_type
        if args.bpemodel:
            config["bpemodel"] = args.bpemodel
        # an LM validates on its loss; there is nothing to decode or plot
        config.setdefault("valid_decode_utts", 0)
        config.setdefault("plot_utts", 0)

    config = config_or_exit(
        lambda: load_with_overrides(args, rest, resolve_lm_config, update), "lm_train"
    )
    if config is None:
        return 1
    if args.print_config:
        sys.stdout.write(dump_config(config))
        return 0
    missing = [k for k in ("output_dir", "token_list", "train_text") if getattr(args, k) is None]
    if missing:
        parser.error("missing " + ", ".join(f"--{k}" for k in missing))

    try:
        info, out_dir, opts = start(args, config, resolve_lm_config)
    except StartError as e:
        if e.report:
            logger.error("%s", e)
        return 1
    model = build_lm(config).to(info.device)
    logger.info("LM parameters: %s", f"{count_parameters(model):,}")
    optimizer, scheduler = build_optimizer(config, model)
    tokenizer = Tokenizer(config["token_list"], config["token_type"], config["bpemodel"])
    train_loader, sampler = build_text_dataloader(
        args.train_text,
        tokenizer,
        opts.batch_bins,
        max_batch_size=opts.max_batch_size,
        shuffle=True,
        seed=opts.seed,
        num_workers=opts.num_workers,
        world_size=info.world_size,
        rank=info.rank,
    )

    def train_batches(epoch: int, start_batch: int):  # noqa: ANN202 - an iterator
        sampler.set_epoch(epoch, start_batch)
        return iter(train_loader)

    valid = None
    if args.valid_text:
        valid_loader, _ = build_text_dataloader(
            args.valid_text,
            tokenizer,
            opts.valid_batch_bins or opts.batch_bins,
            max_batch_size=opts.max_batch_size,
            shuffle=False,
            world_size=info.world_size,
            rank=info.rank,
        )
        valid = lambda: valid_loader  # noqa: E731
    data = TrainData(train_batches, lambda epoch: sampler.num_batches, valid)
    trainer = Trainer(
        model, optimizer, scheduler, opts, data, out_dir, info, token_list=config["token_list"]
    )
    trainer.run()
    if info.is_main:
        for rec in trainer.reporter.history[-1:]:
            for phase in ("train", "valid"):
                if phase in rec:
                    logger.info("%s perplexity: %.3f", phase, math.exp(rec[phase]["loss"]))
    if info.distributed:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
