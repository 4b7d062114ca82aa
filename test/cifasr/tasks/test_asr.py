from pathlib import Path

import pytest
import torch
import yaml

from cifasr.bin import print_config
from cifasr.tasks.asr import build_model, count_parameters, resolve_config
from cifasr.utils.config import ConfigError

REPO = Path(__file__).resolve().parents[3]
TRAIN_CIF = REPO / "egs2/aishell/asr1/conf/train_cif.yaml"


def test_train_cif_has_the_original_parameter_count():
    model = build_model(TRAIN_CIF, vocab_size=4234)
    # docs/architecture.md §7: the count in the original training log, and its derivation per part
    assert count_parameters(model) == 47_208_587
    assert count_parameters(model.encoder) == 40_862_720
    assert count_parameters(model.predictor) == 197_121
    assert count_parameters(model.ctc) == 1_088_138
    assert count_parameters(model.decoder) == 5_060_608


def _shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_print_config_round_trip(tmp_path, capsys):
    assert print_config.main(["--config", str(TRAIN_CIF)]) == 0
    printed = capsys.readouterr().out
    full = yaml.safe_load(printed)
    # every constructor default is there
    assert full["encoder_conf"]["mask_conv_padding"] is True
    assert full["predictor_conf"]["scale_eps"] == pytest.approx(1e-8)
    assert full["max_update"] == 240000
    path = tmp_path / "full.yaml"
    path.write_text(printed, encoding="utf-8")
    assert resolve_config(path) == full
    assert _shapes(build_model(path, 4234)) == _shapes(build_model(TRAIN_CIF, 4234))


def _write(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_conf_key_names_file_line_key_and_closest(tmp_path):
    path = _write(
        tmp_path, "encoder: conformer\nencoder_conf:\n  output_size: 64\n  num_block: 3\n"
    )
    with pytest.raises(ConfigError) as e:
        resolve_config(path)
    msg = str(e.value)
    assert str(path) in msg and "line 4" in msg
    assert "'encoder_conf.num_block'" in msg and "did you mean 'num_blocks'" in msg


def test_unknown_top_level_key_and_choice(tmp_path):
    with pytest.raises(ConfigError, match=r"line 2, key 'max_epochs'.*did you mean 'max_epoch'"):
        resolve_config(_write(tmp_path, "seed: 3\nmax_epochs: 5\n"))
    with pytest.raises(ConfigError, match=r"unknown encoder 'conformr'; did you mean 'conformer'"):
        resolve_config(_write(tmp_path, "encoder: conformr\n"))
    with pytest.raises(ConfigError, match=r"key 'model_conf.ctc_wieght'.*'ctc_weight'"):
        resolve_config({"model_conf": {"ctc_wieght": 0.3}})


def test_print_config_cli_reports_errors(tmp_path, capsys):
    path = _write(tmp_path, "predictor_conf: {treshold: 0.9}\n")
    assert print_config.main(["--config", str(path)]) == 1
    assert "did you mean 'threshold'" in capsys.readouterr().err


def test_vocab_size_from_token_list(tiny_config):
    tiny_config["token_list"] = ["<blank>", "<unk>", "a", "b", "<sos/eos>"]
    model = build_model(tiny_config)
    assert model.vocab_size == 5 and model.sos_eos == 4
    with pytest.raises(ConfigError, match="vocab_size=7"):
        build_model(tiny_config, vocab_size=7)


@pytest.mark.parametrize("row,extra", [("acd", 1), ("lrd", 1), ("hkd", 2)])
def test_distillation_configs_add_only_the_teacher_projections(row, extra):
    base = build_model(TRAIN_CIF, vocab_size=4234)
    model = build_model(TRAIN_CIF.with_name(f"train_cif_{row}.yaml"), vocab_size=4234)
    # docs/architecture.md §7: each projection is Linear(256 -> 768) with bias
    assert count_parameters(model) == 47_208_587 + extra * 197_376
    assert count_parameters(model.distillers) == extra * 197_376
    assert _shapes(base) == {
        k: v for k, v in _shapes(model).items() if not k.startswith("distillers.")
    }
    full = resolve_config(TRAIN_CIF.with_name(f"train_cif_{row}.yaml"))
    assert {k: v for k, v in full.items() if k != "distillers"} == {
        k: v for k, v in resolve_config(TRAIN_CIF).items() if k != "distillers"
    }, "the distillation configs must equal train_cif.yaml apart from the distillers"


def test_exported_hkd_model_has_the_baseline_parameter_count(tmp_path):
    from cifasr.inference.speech2text import build_inference_model
    from cifasr.train.checkpoint import load_checkpoint

    config = resolve_config(TRAIN_CIF.with_name("train_cif_hkd.yaml"))
    config["token_list"] = ["<blank>", "<unk>", *(f"t{i}" for i in range(4231)), "<sos/eos>"]
    model = build_model(config)
    torch.save(model.state_dict(), tmp_path / "hkd.pth")
    exported_config, state, exported = build_inference_model(config, tmp_path / "hkd.pth")
    assert exported_config["distillers"] == {}
    assert count_parameters(exported) == 47_208_587
    assert not any(k.startswith("distillers.") for k in state)
    assert load_checkpoint(tmp_path / "hkd.pth").keys() >= state.keys()


def test_mini_zh_nar_row_changes_only_the_decoder():
    """The "CIF + NAR decoder" row isolates the decoder: encoder, predictor, losses and schedule
    are the CIF baseline's."""
    conf = REPO / "egs2/mini_zh/asr1/conf"
    ar, nar = resolve_config(conf / "train_cif.yaml"), resolve_config(conf / "train_cif_nar.yaml")
    assert (ar["decoder"], nar["decoder"]) == ("cif_ar", "nar")
    differ = {k for k in ar if ar[k] != nar[k]}
    assert differ == {"decoder", "decoder_conf"}
