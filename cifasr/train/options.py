"""Trainer options: the top-level training keys of an ASR config, with their defaults.

The trainer reads this dataclass, never argparse. Defaults are ESPnet-like; the original recipe's
values are set in ``egs2/aishell/asr1/conf/train_cif.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from cifasr.utils.config import ConfigError, KeyLocations
from cifasr.utils.precision import normalize_request


@dataclass
class TrainerOptions:
    """Training-loop settings.

    Attributes:
        seed: seed of every RNG (torch, numpy, python, batch order).
        max_epoch: epochs to train.
        max_update: stop after this many optimiser updates (0: no limit).
        batch_bins: per-update frame budget, batch size x longest utterance in input frames
            (fairseq's --max-tokens; the original uses 30000 per GPU).
        max_batch_size: cap on utterances per batch (0: none).
        valid_batch_bins: frame budget of validation batches (0: same as batch_bins).
        num_workers: DataLoader worker processes.
        accum_grad: batches accumulated per optimiser update.
        grad_clip: max global gradient norm (0: no clipping; original 1.0).
        amp: ``auto`` (bf16 autocast where the device computes bf16 natively: CUDA sm_80+,
            CPUs with AMX/AVX512-BF16; fp16 with a GradScaler on older GPUs; else fp32),
            ``fp32`` (also ``none``), ``bf16``, or ``fp16`` (CUDA only). See
            :mod:`cifasr.utils.precision`.
        log_interval: updates between log lines.
        save_every_steps: also write checkpoint.pth every K updates (0: only each epoch).
        keep_last_epochs: keep this many ``{N}epoch.pth`` (original 20).
        keep_nbest_models: keep this many best checkpoints by ``best_model_criterion``.
        best_model_criterion: ``[phase, key, min|max]`` triples; the first one tracks the best
            model (original: teacher-forced dev CER).
        average_last_epochs: after training, average the last N epochs (original 10; 0: none).
        patience: stop after this many epochs without improvement (0: never; original 40).
        max_bad_steps: stop after this many consecutive NaN/Inf steps.
        valid_decode_utts: utterances of the validation set decoded greedily each epoch for a
            real CER (0: none).
        plot_utts: validation utterances whose CIF firing is plotted each epoch (0: none).
        use_tensorboard: write TensorBoard logs when tensorboard is installed.
        find_unused_parameters: DDP option (needed when some parameters get no gradient).
        sync_batchnorm: with several processes, BatchNorm layers normalise with the statistics
            of the global batch (all processes) instead of each process's share, so N processes
            train what one process does with the same global batch; off: per-process statistics
            (the original multi-GPU recipe). No effect with one process.
    """

    seed: int = 1
    max_epoch: int = 100
    max_update: int = 0
    batch_bins: int = 30000
    max_batch_size: int = 0
    valid_batch_bins: int = 0
    num_workers: int = 2
    accum_grad: int = 1
    grad_clip: float = 1.0
    amp: str = "auto"
    log_interval: int = 100
    save_every_steps: int = 0
    keep_last_epochs: int = 20
    keep_nbest_models: int = 10
    best_model_criterion: list[list[str]] = field(
        default_factory=lambda: [["valid", "cer_tf", "min"], ["valid", "acc", "max"]]
    )
    average_last_epochs: int = 10
    patience: int = 0
    max_bad_steps: int = 20
    valid_decode_utts: int = 100
    plot_utts: int = 3
    use_tensorboard: bool = True
    find_unused_parameters: bool = False
    sync_batchnorm: bool = False

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every option with its default, in declaration order."""
        return {f.name: getattr(cls(), f.name) for f in fields(cls)}

    @classmethod
    def resolve_keys(
        cls, config: Mapping[str, Any], locations: KeyLocations | None = None
    ) -> dict[str, Any]:
        """Every option's value in ``config`` or its default; ``amp`` checked.

        Raises:
            ConfigError: an unknown ``amp`` value, naming the file and line.
        """
        out = {key: config.get(key, default) for key, default in cls.defaults().items()}
        try:
            normalize_request(out["amp"])
        except ValueError as e:
            where = (locations or KeyLocations()).where("amp")
            raise ConfigError(f"{where}: {e}") from None
        return out

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TrainerOptions:
        """The options found among a resolved config's top-level keys."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in names})
