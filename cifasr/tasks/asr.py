"""The ASR task: which parts a config may choose, how a config is completed, and the model build.

A config is ESPnet-shaped::

    encoder: conformer
    encoder_conf: {output_size: 256, num_blocks: 15, pooling_layers: [5, 10]}
    predictor: conv
    decoder: cif_ar
    model_conf: {ctc_weight: 0.5, quantity_weight: 1.0, lsm_weight: 0.1}
    optim: adamw
    optim_conf: {lr: 3.0e-4, weight_decay: 0.01}
    scheduler: tri_stage
    max_epoch: 248

:func:`resolve_config` fills in every constructor default (what ``--print_config`` prints) and
rejects unknown keys with the file, line, key and closest valid key; :func:`build_model` builds
the :class:`~cifasr.models.cif_asr.CifASRModel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cifasr.cif import PREDICTOR_CLASSES
from cifasr.data.tokenizer import load_token_list
from cifasr.decoder import DECODER_CLASSES
from cifasr.distill import DISTILLER_CLASSES
from cifasr.encoder import ENCODER_CLASSES
from cifasr.frontend.fbank import FbankConfig
from cifasr.frontend.normalize import NORMALIZE_CLASSES
from cifasr.frontend.specaug import SPECAUG_CLASSES
from cifasr.models.cif_asr import CifASRModel
from cifasr.models.losses import CTC
from cifasr.tasks.choices import (
    ClassChoices,
    build_from_conf,
    conf_type_error,
    constructor_defaults,
)
from cifasr.train.options import TrainerOptions
from cifasr.train.scheduler import SCHEDULER_CLASSES
from cifasr.utils.config import ConfigError, KeyLocations, as_config, unknown_key_error
from cifasr.utils.precision import RECORD_KEY as PRECISION_KEY

OPTIMIZER_CLASSES = {
    "adam": torch.optim.Adam,
    # Decoupled weight decay (p <- p - lr * wd * p before the Adam step), as the original's
    # fairseq Adam does (docs/training.md §3).
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}

MODEL_CHOICES = (
    ClassChoices("normalize", NORMALIZE_CLASSES, default=None, optional=True),
    ClassChoices("specaug", SPECAUG_CLASSES, default=None, optional=True),
    ClassChoices("encoder", ENCODER_CLASSES, default="conformer", fixed=("input_size",)),
    ClassChoices("predictor", PREDICTOR_CLASSES, default="conv", fixed=("input_size",)),
    ClassChoices(
        "decoder", DECODER_CLASSES, default="cif_ar", fixed=("vocab_size", "encoder_output_size")
    ),
)
OPTIM_CHOICES = (
    # torch's optimisers annotate betas as a tuple (a list in YAML): their confs are not typed
    ClassChoices("optim", OPTIMIZER_CLASSES, default="adamw", fixed=("params",), check_types=False),
    ClassChoices(
        "scheduler",
        SCHEDULER_CLASSES,
        default=None,
        optional=True,
        fixed=("optimizer", "last_epoch"),
    ),
)
# Arguments of the parts that the builder passes itself, never taken from a config.
_MODEL_FIXED = (
    "vocab_size",
    "token_list",
    "normalize",
    "specaug",
    "encoder",
    "predictor",
    "decoder",
    "ctc",
    "distillers",
)
_CTC_FIXED = ("vocab_size", "encoder_output_size")
_DISTILLER_FIXED = ("input_size",)

# Plain top-level keys (not class choices) with their defaults, in printing order.
_PLAIN_DEFAULTS: dict[str, Any] = {
    "token_list": None,
    "token_type": "char",
    "bpemodel": None,
    "input_size": 80,
    # the fbank settings of the dumped features; inference on waveforms computes the same
    "frontend_conf": None,
    # distillation with a frozen PLM run inside the training step instead of dumped features:
    # the arguments of cifasr.distill.teacher.OnlinePLMTeacher, e.g. {plm: exp/plm_tiny}
    "online_teacher": None,
}
_TEACHER_FIXED = ("token_type", "bpemodel", "device")


def _check_conf(
    conf: Any,
    defaults: Mapping[str, Any],
    key: str,
    locations: KeyLocations,
    what: str,
    cls: type | None = None,
) -> dict[str, Any]:
    """Validate a plain ``*_conf`` mapping against constructor defaults (and, given ``cls``, the
    constructor's type annotations); return it completed."""
    conf = conf or {}
    if not isinstance(conf, Mapping):
        raise ConfigError(f"{locations.where(key)}: must be a mapping")
    for k in conf:
        if k not in defaults:
            raise unknown_key_error(k, defaults, locations, prefix=key, what=what)
    if cls is not None:
        error = conf_type_error(cls, conf, key, locations, what)
        if error is not None:
            raise error
    return {**defaults, **conf}


def _resolve_distillers(value: Any, locations: KeyLocations) -> dict[str, dict[str, Any]]:
    """``distillers: {acd: {...}, lrd: {...}}`` with every argument completed."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{locations.where('distillers')}: must map distiller names "
            f"({', '.join(DISTILLER_CLASSES)})"
            " to their arguments, e.g. {acd: {weight: 1.0}}"
        )
    out = {}
    for name, conf in value.items():
        if name not in DISTILLER_CLASSES:
            raise unknown_key_error(
                name, DISTILLER_CLASSES, locations, prefix="distillers", what="distillers"
            )
        defaults = constructor_defaults(DISTILLER_CLASSES[name], _DISTILLER_FIXED)
        out[name] = _check_conf(
            conf,
            defaults,
            f"distillers.{name}",
            locations,
            f"distiller '{name}'",
            DISTILLER_CLASSES[name],
        )
    return out


def read_token_list(token_list: str | Path | list[str]) -> list[str]:
    """A token list given inline or as a ``tokens.txt`` path (read by
    :func:`cifasr.data.tokenizer.load_token_list`, which checks the ESPnet layout).

    Raises:
        ConfigError: the file cannot be read.
        TokenListError: the file is malformed (naming the file and line).
    """
    if isinstance(token_list, (list, tuple)):
        return [str(t) for t in token_list]
    path = Path(token_list)
    try:
        return load_token_list(path)
    except OSError as e:
        raise ConfigError(f"token_list: cannot read {path} ({e.strerror}); run stage 5") from e


def resolve_config(
    config: str | Path | Mapping[str, Any], locations: KeyLocations | None = None
) -> dict[str, Any]:
    """The complete config: every key present, every constructor default filled in.

    Args:
        config: a YAML path or a mapping.
        locations: where the keys of a mapping were written (for messages); a path's own lines
            are used by default.

    Returns:
        A new dict; loading its YAML dump and resolving it again gives the same dict.

    Raises:
        ConfigError: unknown keys or choices (naming the file, the line, the key and the closest
            valid key), malformed ``*_conf`` values, values whose type is not the one the
            constructor takes (``num_blocks: "15"``).
    """
    cfg, own_locations = as_config(config)
    locations = locations or own_locations
    # PRECISION_KEY: the precision asr_train/lm_train recorded; informative, not read back
    known = set(_PLAIN_DEFAULTS) | set(TrainerOptions.defaults()) | {PRECISION_KEY}
    known |= {"ctc_conf", "model_conf", "distillers"}
    for choice in MODEL_CHOICES + OPTIM_CHOICES:
        known |= {choice.name, choice.conf_key}
    for key in cfg:
        if key not in known:
            raise unknown_key_error(key, known, locations)

    out: dict[str, Any] = {k: cfg.get(k, v) for k, v in _PLAIN_DEFAULTS.items()}
    out["frontend_conf"] = _check_conf(
        cfg.get("frontend_conf"), FbankConfig().to_dict(), "frontend_conf", locations, "the fbank"
    )
    if out["token_type"] not in ("char", "bpe"):
        raise ConfigError(f"{locations.where('token_type')}: must be char or bpe")
    for choice in MODEL_CHOICES:
        name, conf = choice.resolve(cfg, locations)
        out[choice.name] = name
        out[choice.conf_key] = conf
    out["ctc_conf"] = _check_conf(
        cfg.get("ctc_conf"),
        constructor_defaults(CTC, _CTC_FIXED),
        "ctc_conf",
        locations,
        "ctc",
        CTC,
    )
    out["model_conf"] = _check_conf(
        cfg.get("model_conf"),
        constructor_defaults(CifASRModel, _MODEL_FIXED),
        "model_conf",
        locations,
        "the model",
        CifASRModel,
    )
    out["distillers"] = _resolve_distillers(cfg.get("distillers"), locations)
    if out["online_teacher"] is not None:
        from cifasr.distill.teacher import OnlinePLMTeacher  # imports transformers

        defaults = constructor_defaults(OnlinePLMTeacher, _TEACHER_FIXED)
        out["online_teacher"] = _check_conf(
            out["online_teacher"],
            defaults,
            "online_teacher",
            locations,
            "the online teacher",
            OnlinePLMTeacher,
        )
        if "plm" not in cfg["online_teacher"]:
            raise ConfigError(f"{locations.where('online_teacher')}: needs plm (a name or path)")
    for choice in OPTIM_CHOICES:
        name, conf = choice.resolve(cfg, locations)
        out[choice.name] = name
        out[choice.conf_key] = conf
    out.update(TrainerOptions.resolve_keys(cfg, locations))
    return out


def build_model(
    config: str | Path | Mapping[str, Any],
    vocab_size: int | None = None,
    locations: KeyLocations | None = None,
) -> CifASRModel:
    """Build the CIF ASR model a config describes.

    Args:
        config: a YAML path or a mapping (resolved with :func:`resolve_config`).
        vocab_size: V; when None it is the length of the config's ``token_list``.
        locations: where the keys of a mapping were written (for messages).

    Returns:
        The model in training mode (the original config with V = 4234 has 47,208,587 parameters).

    Raises:
        ConfigError: as :func:`resolve_config`; a wrong-typed value names its key (and the file
            and line of a YAML config).
    """
    raw, own_locations = as_config(config)
    locations = locations or own_locations
    cfg = resolve_config(raw, locations)
    tokens = read_token_list(cfg["token_list"]) if cfg["token_list"] is not None else None
    if vocab_size is None:
        if tokens is None:
            raise ConfigError("build_model: give vocab_size or a token_list in the config")
        vocab_size = len(tokens)
    elif tokens is not None and len(tokens) != vocab_size:
        raise ConfigError(
            f"build_model: vocab_size={vocab_size} but the token_list has {len(tokens)} tokens"
        )
    parts: dict[str, Any] = {}
    normalize, specaug, encoder_c, predictor_c, decoder_c = MODEL_CHOICES
    at = {"locations": locations}
    parts["normalize"] = normalize.build(cfg["normalize"], cfg["normalize_conf"], **at)
    parts["specaug"] = specaug.build(cfg["specaug"], cfg["specaug_conf"], **at)
    encoder = encoder_c.build(cfg["encoder"], cfg["encoder_conf"], cfg["input_size"], **at)
    enc_size = encoder.output_size()
    parts["encoder"] = encoder
    parts["predictor"] = predictor_c.build(cfg["predictor"], cfg["predictor_conf"], enc_size, **at)
    decoder = decoder_c.build(cfg["decoder"], cfg["decoder_conf"], vocab_size, enc_size, **at)
    parts["decoder"] = decoder
    model_conf = cfg["model_conf"]
    parts["ctc"] = (
        build_from_conf(CTC, (vocab_size, enc_size), cfg["ctc_conf"], "ctc_conf", locations, "ctc")
        if model_conf["ctc_weight"] > 0
        else None
    )
    parts["distillers"] = {
        name: build_from_conf(
            DISTILLER_CLASSES[name],
            (_distiller_input_size(name, enc_size, cfg["decoder_conf"]["attention_dim"]),),
            conf,
            f"distillers.{name}",
            locations,
            f"distiller '{name}'",
        )
        for name, conf in cfg["distillers"].items()
    }
    model = build_from_conf(
        CifASRModel,
        (vocab_size, tokens),
        {**parts, **model_conf},
        "model_conf",
        locations,
        "the model",
    )
    if cfg["online_teacher"] is not None and cfg["distillers"]:
        from cifasr.data.tokenizer import Tokenizer
        from cifasr.distill.teacher import OnlinePLMTeacher  # imports transformers

        if tokens is None:
            raise ConfigError("online_teacher: needs the token_list in the config")
        tokenizer = Tokenizer(tokens, cfg["token_type"], cfg["bpemodel"])
        model.online_teacher = OnlinePLMTeacher(
            **cfg["online_teacher"], token_type=cfg["token_type"], bpemodel=cfg["bpemodel"]
        )
        model.text_of = tokenizer.ids2text
    return model


def _distiller_input_size(name: str, enc_size: int, decoder_dim: int) -> int:
    """ACD reads CIF outputs (the encoder size); LRD reads decoder states (its model size)."""
    return enc_size if DISTILLER_CLASSES[name].reads == "cif" else decoder_dim


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (buffers such as BatchNorm statistics excluded)."""
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "MODEL_CHOICES",
    "OPTIM_CHOICES",
    "OPTIMIZER_CLASSES",
    "build_model",
    "count_parameters",
    "read_token_list",
    "resolve_config",
]
