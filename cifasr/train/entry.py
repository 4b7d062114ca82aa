"""What the training entry points (asr_train, lm_train) share: common options, config loading
with command-line overrides, process set-up, optimiser construction."""

from __future__ import annotations

import argparse
import logging
import shlex
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from cifasr.bin._common import str2bool
from cifasr.tasks.asr import OPTIM_CHOICES
from cifasr.train.distributed import DistInfo, init_distributed
from cifasr.train.options import TrainerOptions
from cifasr.train.trainer import set_all_random_seed
from cifasr.utils.cli import apply_overrides, parse_overrides
from cifasr.utils.config import ConfigError, dump_config, load_config
from cifasr.utils.precision import RECORD_KEY as PRECISION_KEY
from cifasr.utils.precision import resolve_precision

logger = logging.getLogger(__name__)

LOG_FORMAT = "[{host}] %(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"


def add_common_args(p: argparse.ArgumentParser) -> None:
    """--config, --print_config, --output_dir, --token_list, --ngpu, --resume, --log_level."""
    p.add_argument("--config", help="YAML config")
    p.add_argument("--print_config", action="store_true", help="print the complete config and exit")
    p.add_argument("--output_dir", help="experiment directory")
    p.add_argument("--token_list", help="tokens.txt (stage 5)")
    p.add_argument("--ngpu", type=int, default=0, help="GPUs per process (0: CPU)")
    p.add_argument("--resume", type=str2bool, default=True, help="continue from checkpoint.pth")
    p.add_argument("--log_level", default="INFO")


def load_with_overrides(
    args: argparse.Namespace,
    rest: Sequence[str],
    resolve: Callable[[dict[str, Any]], dict[str, Any]],
    update: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The config file, then ``--key value`` overrides, then ``update`` (entry-specific
    options such as the token list), resolved. Raises ConfigError."""
    config: dict[str, Any] = {}
    if args.config:
        config, _ = load_config(args.config)
    config = apply_overrides(config, parse_overrides(rest))
    if update is not None:
        update(config)
    return resolve(config)


def setup_logging(level: str, info: DistInfo) -> None:
    """ESPnet-style log lines; ranks other than 0 log warnings only."""
    host = socket.gethostname() + (f":{info.rank}" if info.distributed else "")
    logging.basicConfig(
        level=level if info.is_main else "WARNING",
        format=LOG_FORMAT.format(host=host),
        force=True,
    )


def start(
    args: argparse.Namespace, config: dict[str, Any]
) -> tuple[DistInfo, Path, TrainerOptions]:
    """Join the process group, set up logging, write ``config.yaml``, seed every RNG."""
    info = init_distributed(args.ngpu)
    setup_logging(args.log_level, info)
    out_dir = Path(args.output_dir)
    opts = TrainerOptions.from_config(config)
    # What `amp` resolves to on this machine, recorded for the reader of config.yaml (another
    # machine may resolve `auto` differently; the key is ignored when the config is read again).
    precision = resolve_precision(opts.amp, info.device)
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        saved = {**config, PRECISION_KEY: precision.record()}
        (out_dir / "config.yaml").write_text(dump_config(saved), encoding="utf-8")
        logger.info("command: %s", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
        logger.info("wrote %s", out_dir / "config.yaml")
    set_all_random_seed(opts.seed)
    return info, out_dir, opts


def build_optimizer(
    config: dict[str, Any], model: torch.nn.Module
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    """The configured optimiser over the model's parameters and its lr scheduler."""
    optim_choice, sched_choice = OPTIM_CHOICES
    optimizer = optim_choice.build(config["optim"], config["optim_conf"], model.parameters())
    scheduler = sched_choice.build(config["scheduler"], config["scheduler_conf"], optimizer)
    return optimizer, scheduler


def config_or_exit(fn: Callable[[], dict[str, Any]], prog: str) -> dict[str, Any] | None:
    """Run a config loader; print a ConfigError as ``prog: message`` and return None."""
    try:
        return fn()
    except ConfigError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return None
