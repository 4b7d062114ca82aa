"""A config value of the wrong type fails naming its key (and the file and line), before or while
the part is built; conforming configs build parts that meet the model's protocols."""

from __future__ import annotations

import re

import pytest
import torch
import yaml
from typeguard import TypeCheckError

from cifasr.bin import asr_train
from cifasr.cif import PREDICTOR_CLASSES
from cifasr.decoder import DECODER_CLASSES
from cifasr.distill import DISTILLER_CLASSES
from cifasr.encoder import ENCODER_CLASSES, ConformerEncoder
from cifasr.frontend.normalize import NORMALIZE_CLASSES
from cifasr.frontend.specaug import SPECAUG_CLASSES
from cifasr.lm import LM_CLASSES
from cifasr.models.cif_asr import CifASRModel
from cifasr.models.losses import CTC
from cifasr.models.protocols import Decoder, Distiller, Encoder, FeatureTransform, Predictor
from cifasr.tasks.asr import MODEL_CHOICES, build_model, resolve_config
from cifasr.tasks.lm import build_lm
from cifasr.utils.config import ConfigError, KeyLocations

NUM_BLOCKS_STR = (
    "key 'encoder_conf.num_blocks': '15' is a str, but encoder 'conformer' needs int; "
    "write 15 (a number, without quotes)"
)


def _write_config(path, config: dict) -> int:
    """Write ``config`` as YAML; return the line of ``encoder_conf.num_blocks``."""
    text = yaml.safe_dump(config, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    start = lines.index("encoder_conf:")
    return next(i for i, line in enumerate(lines) if i > start and "num_blocks" in line) + 1


def test_quoted_number_in_a_yaml_config_names_file_line_and_key(tmp_path, tiny_config):
    config = tiny_config
    config["encoder_conf"]["num_blocks"] = "15"
    path = tmp_path / "train.yaml"
    line = _write_config(path, config)
    for call in (lambda: resolve_config(path), lambda: build_model(path, vocab_size=10)):
        with pytest.raises(ConfigError) as err:
            call()
        assert str(err.value) == f"{path}, line {line}, {NUM_BLOCKS_STR}"


def test_a_mapping_config_names_the_key(tiny_config):
    tiny_config["encoder_conf"]["num_blocks"] = "15"
    with pytest.raises(ConfigError, match=f"^{re.escape(f'<dict>, {NUM_BLOCKS_STR}')}$"):
        build_model(tiny_config, vocab_size=10)


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("predictor_conf", "scale_eps", "1e-8", "YAML reads 1e-8 as a string: write 1.0e-8"),
        ("encoder_conf", "pooling_layers", [1, "2"], "needs Sequence[int] | None"),
        ("decoder_conf", "embed_scale", "big", "needs float | None"),
        ("model_conf", "ctc_weight", "0.5", "write 0.5 without quotes"),
        ("ctc_conf", "zero_infinity", "yes", "but ctc needs bool"),
    ],
)
def test_every_typed_section_is_checked(tiny_config, section, key, value, message):
    tiny_config.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError, match=rf"key '{section}\.{key}': .*{re.escape(message)}"):
        resolve_config(tiny_config)


def test_distiller_and_lm_confs_are_checked(tiny_config):
    tiny_config["distillers"] = {"acd": {"teacher_dim": "16"}}
    with pytest.raises(ConfigError, match=r"key 'distillers.acd.teacher_dim': '16' is a str"):
        resolve_config(tiny_config)
    tokens = ["<blank>", "<unk>", "a", "<sos/eos>"]
    lm_config = {"token_list": tokens, "lm_conf": {"num_blocks": "2"}}
    with pytest.raises(ConfigError, match=r"key 'lm_conf.num_blocks': '2' is a str"):
        build_lm(lm_config)


def test_build_turns_a_constructor_type_error_into_a_config_error():
    # build() is reached without resolve_config here: the @typechecked constructor raises, the
    # builder names the key with the file and line it was given.
    encoder = MODEL_CHOICES[2]
    locations = KeyLocations("conf/train.yaml", {"encoder_conf.num_blocks": 7})
    with pytest.raises(ConfigError) as err:
        encoder.build("conformer", {"num_blocks": "15"}, 80, locations=locations)
    assert str(err.value) == f"conf/train.yaml, line 7, {NUM_BLOCKS_STR}"
    assert isinstance(err.value.__cause__, TypeCheckError)


def test_constructors_check_their_argument_types_in_python():
    message = r'argument "num_blocks" \(str\) is not an instance of int'
    with pytest.raises(TypeCheckError, match=message):
        ConformerEncoder(80, num_blocks="15")


def test_train_cli_names_the_file_line_or_command_line(tmp_path, capsys, tiny_config):
    config = tiny_config
    config["encoder_conf"]["num_blocks"] = "15"
    path = tmp_path / "train.yaml"
    line = _write_config(path, config)
    assert asr_train.main(["--config", str(path), "--print_config"]) == 1
    assert f"asr_train: {path}, line {line}, {NUM_BLOCKS_STR}" in capsys.readouterr().err
    config["encoder_conf"]["num_blocks"] = 2
    _write_config(path, config)
    argv = ["--config", str(path), "--print_config", "--encoder_conf", 'num_blocks="15"']
    assert asr_train.main(argv) == 1
    assert f"asr_train: the command line, {NUM_BLOCKS_STR}" in capsys.readouterr().err
    assert asr_train.main(["--config", str(path), "--print_config"]) == 0


def test_every_registered_part_meets_the_model_protocols(tiny_config):
    base = tiny_config
    base["specaug"] = "specaug"
    base["distillers"] = {name: {"teacher_dim": 16} for name in DISTILLER_CLASSES}
    for encoder in ENCODER_CLASSES:
        for predictor in PREDICTOR_CLASSES:
            for decoder in DECODER_CLASSES:
                config = {**base, "encoder": encoder, "predictor": predictor, "decoder": decoder}
                if encoder != "conformer":
                    config["encoder_conf"] = {"output_size": 32, "num_blocks": 2}
                    config["encoder_conf"]["pooling_layers"] = [1]
                if predictor != "conv":
                    config["predictor_conf"] = {}
                model = build_model(config, vocab_size=10)
                assert isinstance(model.normalize, FeatureTransform)
                assert isinstance(model.specaug, FeatureTransform)
                assert isinstance(model.encoder, Encoder)
                assert isinstance(model.predictor, Predictor)
                assert isinstance(model.decoder, Decoder)
                assert all(isinstance(d, Distiller) for d in model.distillers.values())


class _NoOutputSize(torch.nn.Module):
    def forward(self, xs: torch.Tensor, xs_lens: torch.Tensor):
        return xs, xs_lens


def _parts(config: dict) -> dict:
    model = build_model(config, vocab_size=10)
    return {name: getattr(model, name) for name in ("normalize", "encoder", "predictor")} | {
        "specaug": None,
        "decoder": model.decoder,
        "ctc": None,
    }


def test_the_model_refuses_a_part_that_breaks_its_contract(tiny_config):
    parts = _parts(tiny_config)
    CifASRModel(10, None, **parts, ctc_weight=0.0)  # the real parts meet it
    with pytest.raises(TypeCheckError, match=r'"encoder" .*no method named \'output_size\''):
        CifASRModel(10, None, **{**parts, "encoder": _NoOutputSize()}, ctc_weight=0.0)
    assert not isinstance(_NoOutputSize(), Encoder)

    def plain_function(x, lengths):
        return x, lengths

    with pytest.raises(TypeError, match="normalize must be a torch.nn.Module"):
        CifASRModel(10, None, **{**parts, "normalize": plain_function}, ctc_weight=0.0)


def test_only_the_constructors_are_checked_so_a_step_costs_the_same():
    # typeguard rewrites the decorated __init__ alone; forward (every training step) is the code
    # as written. bench/typecheck_cost.py times construction and a step with the checks on/off.
    classes = [
        *ENCODER_CLASSES.values(),
        *PREDICTOR_CLASSES.values(),
        *DECODER_CLASSES.values(),
        *DISTILLER_CLASSES.values(),
        *NORMALIZE_CLASSES.values(),
        *SPECAUG_CLASSES.values(),
        *LM_CLASSES.values(),
        CTC,
        CifASRModel,
    ]
    for cls in classes:
        assert "typeguard" in cls.__init__.__code__.co_names, cls
        assert "typeguard" not in cls.forward.__code__.co_names, cls
