"""The LM task: ``lm: transformer`` + ``lm_conf``, the optimiser and the trainer options.

lm: transformer
lm_conf: {attention_dim: 256, num_blocks: 4}
optim: adamw
optim_conf: {lr: 1.0e-3}
max_epoch: 20
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cifasr.lm import LM_CLASSES
from cifasr.models.lm_model import LanguageModel
from cifasr.tasks.asr import OPTIM_CHOICES, read_token_list
from cifasr.tasks.choices import ClassChoices
from cifasr.train.options import TrainerOptions
from cifasr.utils.config import ConfigError, KeyLocations, as_config, unknown_key_error
from cifasr.utils.precision import RECORD_KEY as PRECISION_KEY

LM_CHOICE = ClassChoices("lm", LM_CLASSES, default="transformer", fixed=("vocab_size",))
_PLAIN_DEFAULTS: dict[str, Any] = {"token_list": None, "token_type": "char", "bpemodel": None}


def resolve_lm_config(
    config: str | Path | Mapping[str, Any], locations: KeyLocations | None = None
) -> dict[str, Any]:
    """The complete LM config (every default filled in); unknown keys and wrong-typed values
    are errors naming the file, line and key (``locations`` says where a mapping's keys were
    written)."""
    cfg, own_locations = as_config(config)
    locations = locations or own_locations
    # PRECISION_KEY: the precision asr_train/lm_train recorded; informative, not read back
    known = set(_PLAIN_DEFAULTS) | set(TrainerOptions.defaults()) | {PRECISION_KEY}
    for choice in (LM_CHOICE, *OPTIM_CHOICES):
        known |= {choice.name, choice.conf_key}
    for key in cfg:
        if key not in known:
            raise unknown_key_error(key, known, locations)
    out: dict[str, Any] = {k: cfg.get(k, v) for k, v in _PLAIN_DEFAULTS.items()}
    for choice in (LM_CHOICE, *OPTIM_CHOICES):
        name, conf = choice.resolve(cfg, locations)
        out[choice.name] = name
        out[choice.conf_key] = conf
    out.update(TrainerOptions.resolve_keys(cfg, locations))
    # an LM has no decode CER or CIF plots, and its best model is the lowest validation loss
    if "best_model_criterion" not in cfg:
        out["best_model_criterion"] = [["valid", "loss", "min"]]
    return out


def build_lm(config: str | Path | Mapping[str, Any]) -> LanguageModel:
    """The trainable :class:`~cifasr.models.lm_model.LanguageModel` a config describes."""
    raw, locations = as_config(config)
    cfg = resolve_lm_config(raw, locations)
    if cfg["token_list"] is None:
        raise ConfigError("build_lm: the LM config needs a token_list")
    vocab_size = len(read_token_list(cfg["token_list"]))
    lm = LM_CHOICE.build(cfg["lm"], cfg["lm_conf"], vocab_size, locations=locations)
    return LanguageModel(lm, vocab_size)
