import numpy as np
import pytest
import torch
import yaml

from cifasr.bin import asr_inference, merge_decode, pack
from cifasr.inference import Speech2Text
from cifasr.tasks.asr import build_model, resolve_config
from cifasr.tasks.lm import build_lm
from cifasr.utils.config import dump_config


@pytest.fixture
def exp(tmp_path, tiny_config):
    """A randomly initialised tiny model saved as an experiment (config.yaml + weights)."""
    tiny_config["input_size"] = 80
    tiny_config["token_list"] = ["<blank>", "<unk>", *"你好世界天气", "<sos/eos>"]
    config = resolve_config(tiny_config)
    (tmp_path / "config.yaml").write_text(dump_config(config), encoding="utf-8")
    torch.manual_seed(1)
    model = build_model(config)
    torch.save(model.state_dict(), tmp_path / "model.pth")
    lm_config = {
        "token_list": config["token_list"],
        "lm_conf": {"attention_dim": 16, "attention_heads": 2, "linear_units": 32, "num_blocks": 1},
    }
    (tmp_path / "lm.yaml").write_text(yaml.safe_dump(lm_config, allow_unicode=True), "utf-8")
    torch.save(build_lm(lm_config).state_dict(), tmp_path / "lm.pth")
    return tmp_path


def _wave(seconds, seed):
    return np.random.default_rng(seed).uniform(-0.3, 0.3, int(16000 * seconds)).astype(np.float32)


def test_waveform_gives_nbest_with_timestamps_inside_the_utterance(exp):
    s2t = Speech2Text(exp / "config.yaml", exp / "model.pth", beam_size=3, nbest=2)
    wave = _wave(1.7, 0)
    nbest = s2t(wave)
    assert len(nbest) == 2 and nbest[0].score >= nbest[1].score
    text, tokens, token_ids, timestamps, _ = nbest[0]
    assert text == "".join(tokens) and len(token_ids) == len(timestamps)
    assert tokens, "expected a non-empty hypothesis from the random model"
    duration = len(wave) / 16000
    flat = [t for span in timestamps for t in span]
    assert flat == sorted(flat) and 0 <= flat[0] and flat[-1] <= duration + 1e-6


def test_batched_decoding_equals_one_by_one(exp):
    s2t = Speech2Text(exp / "config.yaml", exp / "model.pth", beam_size=4)
    feats = [s2t.features(_wave(s, i)) for i, s in enumerate((1.3, 0.6, 2.1, 0.9))]
    batched = s2t.recognize_features(feats)
    for f, together in zip(feats, batched):
        alone = s2t.recognize_features([f])[0]
        assert [r.token_ids for r in alone] == [r.token_ids for r in together]
        assert [r.timestamps for r in alone] == [r.timestamps for r in together]
        assert alone[0].score == pytest.approx(together[0].score, abs=1e-4)


def test_lm_weight_zero_equals_no_lm(exp):
    feats = [Speech2Text(exp / "config.yaml", exp / "model.pth").features(_wave(1.5, 3))]
    plain = Speech2Text(exp / "config.yaml", exp / "model.pth", beam_size=3)
    with_lm = Speech2Text(
        exp / "config.yaml",
        exp / "model.pth",
        exp / "lm.yaml",
        exp / "lm.pth",
        beam_size=3,
        lm_weight=0.0,
    )
    fused = Speech2Text(
        exp / "config.yaml",
        exp / "model.pth",
        exp / "lm.yaml",
        exp / "lm.pth",
        beam_size=3,
        lm_weight=0.5,
    )
    a, b = plain.recognize_features(feats)[0][0], with_lm.recognize_features(feats)[0][0]
    assert a.token_ids == b.token_ids and a.score == b.score
    assert fused.recognize_features(feats)[0][0].score != a.score
    with pytest.raises(ValueError, match="no LM was given"):
        Speech2Text(exp / "config.yaml", exp / "model.pth", lm_weight=0.3)


def test_pack_then_from_pretrained_gives_the_same_results(exp, tmp_path):
    zip_path = pack.pack(
        tmp_path / "out" / "model.zip",
        exp / "config.yaml",
        exp / "model.pth",
        exp / "lm.yaml",
        exp / "lm.pth",
    )
    direct = Speech2Text(
        exp / "config.yaml",
        exp / "model.pth",
        exp / "lm.yaml",
        exp / "lm.pth",
        beam_size=2,
        lm_weight=0.3,
    )
    packed = Speech2Text.from_pretrained(zip_path, beam_size=2, lm_weight=0.3)
    wave = _wave(1.2, 7)
    assert direct(wave) == packed(wave)
    again = Speech2Text.from_pretrained(tmp_path / "out" / "model", beam_size=2, lm_weight=0.3)
    assert again(wave) == direct(wave)


def test_asr_inference_jobs_merge_to_the_single_job_output(exp, tmp_path):
    import kaldiio

    s2t = Speech2Text(exp / "config.yaml", exp / "model.pth")
    keys = [f"utt{i}" for i in range(5)]
    scps = []
    for part, ks in enumerate((keys, keys[:2], keys[2:])):
        d = tmp_path / f"feats{part}"
        d.mkdir()
        with kaldiio.WriteHelper(f"ark,scp:{d / 'feats.ark'},{d / 'feats.scp'}") as w:
            for k in ks:
                w(k, s2t.features(_wave(0.5 + int(k[-1]) * 0.3, int(k[-1]))))
        scps.append(d / "feats.scp")
    common = [
        "--asr_train_config",
        str(exp / "config.yaml"),
        "--asr_model_file",
        str(exp / "model.pth"),
        "--beam_size",
        "2",
    ]
    for i, scp in enumerate(scps):
        assert (
            asr_inference.main(
                [*common, "--feats_scp", str(scp), "--output_dir", str(tmp_path / f"out{i}")]
            )
            == 0
        )
    merge_decode.merge([tmp_path / "out1", tmp_path / "out2"], tmp_path / "merged")
    for f in ("text", "token", "token_int", "score", "timestamps"):
        assert (tmp_path / "merged" / f).read_text() == (
            tmp_path / "out0/1best_recog" / f
        ).read_text()
    rtf = (tmp_path / "merged" / "rtf").read_text()
    # the precision `dtype: auto` resolved to on this machine travels into the merged summary
    assert "rtf" in rtf and f"precision {s2t.precision.name}\n" in rtf
    ctm = (tmp_path / "merged" / "timestamps").read_text().splitlines()
    assert all(len(line.split()) == 5 and line.split()[1] == "1" for line in ctm)


def test_unknown_decode_option_names_the_key(exp, tmp_path, capsys):
    conf = tmp_path / "decode.yaml"
    conf.write_text("beam_size: 4\nbeam: 3\n")
    code = asr_inference.main(
        [
            "--asr_train_config",
            str(exp / "config.yaml"),
            "--asr_model_file",
            str(exp / "model.pth"),
            "--config",
            str(conf),
            "--feats_scp",
            "x",
            "--output_dir",
            str(tmp_path / "o"),
        ]
    )
    assert code == 1
    assert "line 2, key 'beam'" in capsys.readouterr().err
