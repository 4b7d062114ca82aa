"""What the training entry points (asr_train, lm_train) share: common options, config loading
with command-line overrides, process set-up, the experiment directory, optimiser construction.

Starting in an experiment directory (:func:`start`, rank 0, before any other process reads it):
take its lock (one training per directory), remove temporary files of an interrupted save, then

- ``--resume true`` (default) with a ``checkpoint.pth``: compare ``config.yaml`` with this run's
  config and refuse, naming the differing keys, unless they are only keys that do not change the
  trained weights (:data:`cifasr.train.experiment_dir.RESUME_SAFE_KEYS`); a re-run after a
  config change never silently continues (or keeps) the old model;
- ``--resume false``: move the earlier run's files into ``previous_runs/<time>/`` and train anew;

and write this run's ``config.yaml``.
"""

from __future__ import annotations

import argparse
import copy
import logging
import shlex
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import yaml

from cifasr.data.kaldi_files import KaldiFileError
from cifasr.tasks.asr import OPTIM_CHOICES
from cifasr.train.checkpoint import remove_stale_temp_files
from cifasr.train.distributed import DistInfo, init_distributed
from cifasr.train.experiment_dir import (
    ExperimentBusy,
    ExperimentLock,
    config_differences,
    move_previous_run,
)
from cifasr.train.options import TrainerOptions
from cifasr.train.trainer import set_all_random_seed
from cifasr.utils.cli import apply_overrides, parse_overrides, str2bool
from cifasr.utils.config import ConfigError, KeyLocations, dump_config, load_config
from cifasr.utils.precision import RECORD_KEY as PRECISION_KEY
from cifasr.utils.precision import resolve_precision

logger = logging.getLogger(__name__)

LOG_FORMAT = "[{host}] %(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"

# The lock of this process's experiment directory, held until the process ends.
_LOCKS: list[ExperimentLock] = []


class StartError(RuntimeError):
    """Training cannot start in its experiment directory; the message says why and what to do.

    ``report`` is False on the processes other than rank 0, which stop for the same reason."""

    def __init__(self, message: str, report: bool = True) -> None:
        super().__init__(message)
        self.report = report


def add_common_args(p: argparse.ArgumentParser) -> None:
    """--config, --print_config, --output_dir, --token_list, --ngpu, --resume, --log_level."""
    p.add_argument("--config", help="YAML config")
    p.add_argument("--print_config", action="store_true", help="print the complete config and exit")
    p.add_argument("--output_dir", help="experiment directory")
    p.add_argument("--token_list", help="tokens.txt (stage 5)")
    p.add_argument(
        "--ngpu",
        type=int,
        default=0,
        help="GPUs per process: 1 (one GPU each, NCCL) or 0 (the CPU; gloo with torchrun)",
    )
    p.add_argument(
        "--resume",
        type=str2bool,
        default=True,
        help="true: continue from <output_dir>/checkpoint.pth (refused when the config changed); "
        "false: move an earlier run into <output_dir>/previous_runs/ and train anew",
    )
    p.add_argument("--log_level", default="INFO")


def load_with_overrides(
    args: argparse.Namespace,
    rest: Sequence[str],
    resolve: Callable[[dict[str, Any], KeyLocations], dict[str, Any]],
    update: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The config file, then ``--key value`` overrides, then ``update`` (entry-specific
    options such as the token list), resolved. Raises ConfigError, naming the file and line of
    a key from the file, or the command line for an overridden one."""
    config: dict[str, Any] = {}
    locations = KeyLocations("the command line")
    if args.config:
        config, locations = load_config(args.config)
    from_file = copy.deepcopy(config)
    config = apply_overrides(config, parse_overrides(rest))
    if update is not None:
        update(config)
    overridden = _changed_keys(from_file, config)
    return resolve(config, locations.overridden(overridden))


def _changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose value differs (inside ``*_conf`` mappings, key by key)."""
    changed = []
    for key, value in after.items():
        old = before.get(key)
        if key.endswith("_conf") and isinstance(value, Mapping) and isinstance(old, Mapping):
            changed += [f"{key}.{k}" for k, v in value.items() if k not in old or old[k] != v]
        elif key not in before or old != value:
            changed.append(key)
    return changed


def setup_logging(level: str, info: DistInfo) -> None:
    """ESPnet-style log lines; ranks other than 0 log warnings only."""
    host = socket.gethostname() + (f":{info.rank}" if info.distributed else "")
    logging.basicConfig(
        level=level if info.is_main else "WARNING",
        format=LOG_FORMAT.format(host=host),
        force=True,
    )


def start(
    args: argparse.Namespace,
    config: dict[str, Any],
    resolve: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> tuple[DistInfo, Path, TrainerOptions]:
    """Join the process group, set up logging, prepare the experiment directory (see the module
    docstring), write ``config.yaml``, seed every RNG.

    Args:
        args: the parsed common options (``--output_dir``, ``--ngpu``, ``--resume``, ...).
        config: this run's resolved config.
        resolve: the resolver of ``config`` (applied to the saved ``config.yaml`` too, so that
            keys added by a newer version with their defaults are no difference).

    Raises:
        StartError: (on every process) the directory is locked by another training, or its
            checkpoint was trained with another config.
    """
    info = init_distributed(args.ngpu)
    setup_logging(args.log_level, info)
    out_dir = Path(args.output_dir)
    opts = TrainerOptions.from_config(config)
    # What `amp` resolves to on this machine, recorded for the reader of config.yaml (another
    # machine may resolve `auto` differently; the key is ignored when the config is read again).
    precision = resolve_precision(opts.amp, info.device)
    message = None
    if info.is_main:
        try:
            saved = {**config, PRECISION_KEY: precision.record()}
            prepare_output_dir(out_dir, saved, args.resume, resolve)
        except StartError as e:
            message = str(e)
        else:
            logger.info(
                "command: %s", " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
            )
    if info.distributed:
        # rank 0's verdict to every process; no process reads the directory before it is ready
        box = [message]
        dist.broadcast_object_list(box, src=0)
        message = box[0]
        if info.is_main and message is None:
            logger.info("%d processes (%s)", info.world_size, dist.get_backend())
    if message is not None:
        raise StartError(message, report=info.is_main)
    set_all_random_seed(opts.seed)
    return info, out_dir, opts


def prepare_output_dir(
    out_dir: Path,
    config: dict[str, Any],
    resume: bool,
    resolve: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Lock ``out_dir``, clean it up, check or move aside an earlier run, write ``config.yaml``.

    Raises:
        StartError: locked by another process, or a checkpoint of another config.
    """
    try:
        lock = ExperimentLock(out_dir)
    except ExperimentBusy as e:
        raise StartError(str(e)) from e
    _LOCKS.append(lock)
    remove_stale_temp_files(out_dir)
    checkpoint = out_dir / "checkpoint.pth"
    saved = out_dir / "config.yaml"
    if resume and checkpoint.exists():
        if saved.is_file():
            differences = _differences(saved, config, resolve)
            if differences:
                lock.release()
                _LOCKS.remove(lock)
                raise StartError(
                    f"{checkpoint} was trained with another config ({saved}); this run differs "
                    f"in: {'; '.join(differences)}. Resuming would continue the old model as if "
                    f"it had been trained with the new config. Train in a new --output_dir "
                    f"(asr.sh: --asr_tag), or give --resume false to move the old run into "
                    f"{out_dir / 'previous_runs'}/ and train anew"
                )
        else:
            logger.warning(
                "%s has no config.yaml: cannot check that its config is this one", out_dir
            )
    elif not resume or list(out_dir.glob("*epoch.pth")):
        # --resume false, or model files without the checkpoint to resume them: a new run
        moved = move_previous_run(out_dir)
        if moved is not None:
            logger.info("moved the files of an earlier run in %s to %s", out_dir, moved)
    saved.write_text(dump_config(config), encoding="utf-8")
    logger.info("wrote %s", saved)


def _differences(
    saved: Path,
    config: dict[str, Any],
    resolve: Callable[[dict[str, Any]], dict[str, Any]] | None,
) -> list[str]:
    """What differs (in keys that matter for resuming) between ``saved`` and ``config``."""
    try:
        old, _ = load_config(saved)
        if resolve is not None:
            old = resolve(old)
    except ConfigError as e:
        return [f"{saved} cannot be read as a config of this version ({e})"]
    new = yaml.safe_load(dump_config(config))
    return config_differences(yaml.safe_load(dump_config(old)), new)


def build_optimizer(
    config: dict[str, Any], model: torch.nn.Module
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    """The configured optimiser over the model's parameters and its lr scheduler."""
    optim_choice, sched_choice = OPTIM_CHOICES
    optimizer = optim_choice.build(config["optim"], config["optim_conf"], model.parameters())
    scheduler = sched_choice.build(config["scheduler"], config["scheduler_conf"], optimizer)
    return optimizer, scheduler


def config_or_exit(fn: Callable[[], dict[str, Any]], prog: str) -> dict[str, Any] | None:
    """Run a config loader; print a ConfigError (or a malformed ``--token_list``) as
    ``prog: message`` and return None."""
    try:
        return fn()
    except (ConfigError, KaldiFileError) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return None
