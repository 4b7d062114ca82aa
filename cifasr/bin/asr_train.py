"""Train a CIF ASR model (stage 11 of asr.sh).

    python -m cifasr.bin.asr_train --config conf/train_cif.yaml \\
        --train_feats_scp dump/fbank/train/feats.scp --train_text dump/fbank/train/text \\
        --valid_feats_scp dump/fbank/dev/feats.scp --valid_text dump/fbank/dev/text \\
        --token_list data/zh_token_list/char/tokens.txt --output_dir exp/asr_train_cif

Several processes (DDP), one per device, launched by torchrun:

    torchrun --standalone --nproc_per_node N -m cifasr.bin.asr_train ... --ngpu 1   # N GPUs, NCCL
    torchrun --standalone --nproc_per_node N -m cifasr.bin.asr_train ... --ngpu 0   # CPU, gloo

``--ngpu`` is per process: 1 (each process takes the GPU of its local rank) or 0 (the CPU). asr.sh
``--ngpu N`` does this for stage 11: with CUDA, N NCCL processes with one GPU each; without
CUDA, N gloo CPU processes for N > 1 (each with OMP_NUM_THREADS = cores // N unless set) and one
CPU process for N <= 1. More machines: torchrun's ``--nnodes --node_rank --master_addr
--master_port`` (asr.sh ``--num_nodes --node_rank --master_addr --master_port``). The global
batch is ``batch_bins`` whatever N (each process takes its share of every batch);
``sync_batchnorm: true`` makes BatchNorm statistics those of the global batch.

Any config key can be overridden on the command line: ``--max_epoch 10``,
``--encoder_conf num_blocks=12``, ``--encoder_conf '{num_blocks: 12}'``. Re-running the same
command resumes from ``<output_dir>/checkpoint.pth``; a re-run whose config differs in a key
that changes training is refused (naming the keys): give another ``--output_dir`` or
``--resume false`` (the old run moves to ``<output_dir>/previous_runs/``). One training per
``--output_dir`` at a time (a lock file). ``--init_param`` weights must come from the same token
list (checked against the checkpoint or the ``config.yaml`` beside it).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from cifasr.bin._common import str2bool
from cifasr.bin._train_common import (
    StartError,
    add_common_args,
    build_optimizer,
    config_or_exit,
    load_with_overrides,
    start,
)
from cifasr.data.loader import build_dataloader
from cifasr.data.tokenizer import Tokenizer
from cifasr.frontend.fbank import FbankConfig
from cifasr.inference.recognize import recognize
from cifasr.tasks.asr import build_model, count_parameters, read_token_list, resolve_config
from cifasr.train.checkpoint import (
    TokenListMismatch,
    check_token_list,
    load_checkpoint,
    model_state,
)
from cifasr.train.distributed import DistInfo
from cifasr.train.options import TrainerOptions
from cifasr.train.plot import plot_cif_firing
from cifasr.train.trainer import TrainData, Trainer
from cifasr.train.valid_cer import cer_units
from cifasr.utils.config import ConfigError, dump_config

logger = logging.getLogger("cifasr.bin.asr_train")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common_args(p)
    p.add_argument("--token_type", choices=["char", "bpe"], help="default: the config's (char)")
    p.add_argument("--bpemodel", help="sentencepiece model for --token_type bpe")
    p.add_argument(
        "--fbank_config",
        help="fbank.yaml of the dumped features (stage 3), kept in "
        "config.yaml so that inference on waveforms computes the same features",
    )
    p.add_argument(
        "--cmvn_stats",
        help="feats_stats.npz (stage 10); used when the config's "
        "normalize is global_mvn, ignored otherwise",
    )
    p.add_argument("--train_feats_scp", help="training features (stage 3/4 dump)")
    p.add_argument("--train_text", help="training transcripts (Kaldi text)")
    p.add_argument("--valid_feats_scp", help="validation features")
    p.add_argument("--valid_text", help="validation transcripts")
    p.add_argument(
        "--train_extra_scp",
        action="append",
        default=[],
        metavar="NAME=SCP",
        help="extra per-utterance matrices for training, e.g. plm=dump/plm/x/train/feats.scp",
    )
    p.add_argument("--valid_extra_scp", action="append", default=[], metavar="NAME=SCP")
    p.add_argument("--init_param", help="initialise the model from a checkpoint (weights only)")
    p.add_argument(
        "--ignore_token_list_mismatch",
        type=str2bool,
        default=False,
        help="load --init_param weights even when they were trained with another token list",
    )
    return p


def _update_from_args(args: argparse.Namespace) -> Callable[[dict[str, Any]], None]:
    def update(config: dict[str, Any]) -> None:
        if args.token_list:
            config["token_list"] = read_token_list(args.token_list)
        if args.token_type:
            config["token_type"] = args.token_type
        if args.bpemodel:
            config["bpemodel"] = str(Path(args.bpemodel).resolve())
        if args.fbank_config:
            config["frontend_conf"] = FbankConfig.load(args.fbank_config).to_dict()
        if args.cmvn_stats and config.get("normalize") == "global_mvn":
            conf = dict(config.get("normalize_conf") or {})
            conf["stats_file"] = str(Path(args.cmvn_stats).resolve())
            config["normalize_conf"] = conf

    return update


def _scp_pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--*_extra_scp: expected NAME=PATH, got '{item}'")
        out[name] = path
    return out


def main(argv: list[str] | None = None) -> int:
    parser = get_parser()
    args, rest = parser.parse_known_args(argv)
    config = config_or_exit(
        lambda: load_with_overrides(args, rest, resolve_config, _update_from_args(args)),
        "asr_train",
    )
    if config is None:
        return 1
    if args.print_config:
        sys.stdout.write(dump_config(config))
        return 0
    missing = [
        k
        for k in ("output_dir", "token_list", "train_feats_scp", "train_text")
        if getattr(args, k) is None
    ]
    if missing:
        parser.error("missing " + ", ".join(f"--{k}" for k in missing))

    try:
        info, out_dir, opts = start(args, config, resolve_config)
    except StartError as e:
        if e.report:
            logger.error("%s", e)
        return 1
    try:
        return _train(args, config, info, out_dir, opts)
    except TokenListMismatch as e:
        logger.error("%s", e)
        return 1
    finally:
        if info.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _train(
    args: argparse.Namespace,
    config: dict[str, Any],
    info: DistInfo,
    out_dir: Path,
    opts: TrainerOptions,
) -> int:
    model = build_model(config).to(info.device)
    logger.info("model:\n%s", model)
    logger.info("parameters: %s", f"{count_parameters(model):,}")
    if args.init_param:
        state = load_checkpoint(args.init_param)
        try:
            if not check_token_list(args.init_param, state, config["token_list"]):
                logger.warning("cannot check the token list of %s", args.init_param)
        except TokenListMismatch as e:
            if not args.ignore_token_list_mismatch:
                raise TokenListMismatch(
                    f"--init_param: {e}; pass --ignore_token_list_mismatch true to load it anyway"
                ) from e
            logger.warning("--init_param: %s (loaded anyway: --ignore_token_list_mismatch)", e)
        model.load_state_dict(model_state(state))
        logger.info("initialised from %s", args.init_param)
    optimizer, scheduler = build_optimizer(config, model)
    tokenizer = Tokenizer(config["token_list"], config["token_type"], config["bpemodel"])
    trainer = Trainer(
        model,
        optimizer,
        scheduler,
        opts,
        build_train_data(args, config, opts, info, tokenizer),
        out_dir,
        info,
        decode_fn=lambda m, batch: [
            cer_units(h[0].token_ids, tokenizer)
            for h in recognize(m, batch["speech"], batch["speech_lengths"], beam_size=1)[0]
        ],
        refs_fn=lambda batch: [
            cer_units(row[: int(n)], tokenizer)
            for row, n in zip(batch["text"].tolist(), batch["text_lengths"].tolist())
        ],
        plot_fn=lambda m, b, prefix: plot_cif_firing(m, b, prefix, max_utts=opts.plot_utts),
        token_list=config["token_list"],
    )
    trainer.run()
    return 0


def build_train_data(
    args: argparse.Namespace,
    config: dict[str, Any],
    opts: TrainerOptions,
    info: DistInfo,
    tokenizer: Tokenizer,
) -> TrainData:
    """DataLoaders for training, validation and the validation decode."""
    common = dict(
        tokenizer=tokenizer, feat_dim=config["input_size"], pin_memory=info.device.type == "cuda"
    )
    train_loader, train_sampler = build_dataloader(
        args.train_feats_scp,
        args.train_text,
        batch_bins=opts.batch_bins,
        max_batch_size=opts.max_batch_size,
        extra_scps=_scp_pairs(args.train_extra_scp),
        shuffle=True,
        seed=opts.seed,
        num_workers=opts.num_workers,
        world_size=info.world_size,
        rank=info.rank,
        **common,
    )

    def train_batches(epoch: int, start_batch: int):  # noqa: ANN202 - an iterator
        train_sampler.set_epoch(epoch, start_batch)
        return iter(train_loader)

    valid_batches = decode_batches = None
    if args.valid_feats_scp and args.valid_text:
        bins = opts.valid_batch_bins or opts.batch_bins
        valid_loader, _ = build_dataloader(
            args.valid_feats_scp,
            args.valid_text,
            batch_bins=bins,
            max_batch_size=opts.max_batch_size,
            extra_scps=_scp_pairs(args.valid_extra_scp),
            shuffle=False,
            num_workers=opts.num_workers,
            world_size=info.world_size,
            rank=info.rank,
            **common,
        )
        valid_batches = lambda: valid_loader  # noqa: E731
        subset = opts.valid_decode_utts if opts.valid_decode_utts > 0 else opts.plot_utts
        if subset > 0:
            # The first `subset` utterances (longest first) in batches that do not depend on the
            # number of processes, each process decoding its share of them.
            decode_loader, decode_sampler = build_dataloader(
                args.valid_feats_scp,
                args.valid_text,
                batch_bins=bins,
                max_batch_size=16,
                shuffle=False,
                num_workers=0,
                world_size=info.world_size,
                rank=info.rank,
                **common,
            )
            decode_sampler.keep_first(subset)
            decode_batches = lambda: decode_loader  # noqa: E731
    return TrainData(
        train_batches=train_batches,
        num_train_batches=lambda epoch: train_sampler.num_batches,
        valid_batches=valid_batches,
        decode_batches=decode_batches,
    )


if __name__ == "__main__":
    sys.exit(main())
