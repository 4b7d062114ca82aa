"""The online teacher inside the model gives the same training loss as the dumped features."""

from __future__ import annotations

import kaldiio
import torch

from cifasr.distill.dump import dump_teacher_features
from cifasr.distill.plm import PLMFeatureExtractor, load_plm
from cifasr.tasks.asr import build_model

TEXTS = {"a": "我们今天去北京", "b": "今天天气很好", "c": "北京欢迎你", "d": "他说好的"}


def test_online_teacher_in_the_model_gives_the_dumped_loss(tiny_plm, tmp_path, tiny_config):
    config = dict(tiny_config)
    config["token_list"] = ["<blank>", "<unk>", *sorted(set("".join(TEXTS.values()))), "<sos/eos>"]
    config["distillers"] = {
        "acd": {"teacher_dim": 16, "num_negatives": 8},
        "lrd": {"teacher_dim": 16, "weight": 0.01},
    }
    dumped_model = build_model(config).eval()
    online_model = build_model({**config, "online_teacher": {"plm": str(tiny_plm)}}).eval()
    online_model.load_state_dict(dumped_model.state_dict())
    assert online_model.online_teacher is not None and dumped_model.online_teacher is None

    model, tokenizer = load_plm(tiny_plm)
    report = dump_teacher_features(
        PLMFeatureExtractor(model, tokenizer), TEXTS, tmp_path, dtype="float32"
    )
    assert report.imperfect == [] and report.num_written == len(TEXTS)
    rows = kaldiio.load_scp(str(tmp_path / "feats.scp"))

    utts = list(TEXTS)
    ids = {t: i for i, t in enumerate(config["token_list"])}
    lengths = torch.tensor([len(TEXTS[u]) for u in utts])
    text = torch.full((len(utts), int(lengths.max())), -1)
    plm_lengths = lengths + 1
    plm = torch.zeros(len(utts), int(plm_lengths.max()), 16)
    for b, u in enumerate(utts):
        text[b, : lengths[b]] = torch.tensor([ids[c] for c in TEXTS[u]])
        plm[b, : plm_lengths[b]] = torch.from_numpy(rows[u].copy())
    g = torch.Generator().manual_seed(0)
    frames = 8 * lengths
    speech = torch.randn(len(utts), int(frames.max()), 20, generator=g)

    torch.manual_seed(3)  # the same ACD negatives in both calls
    loss_d, stats_d, _ = dumped_model(
        speech, frames, text, lengths, plm=plm, plm_lengths=plm_lengths
    )
    torch.manual_seed(3)
    loss_o, stats_o, _ = online_model(speech, frames, text, lengths)
    assert stats_d["loss_acd"] > 0 and stats_d["loss_lrd"] > 0
    torch.testing.assert_close(loss_o, loss_d, rtol=1e-5, atol=1e-6)
    for key in ("loss_acd", "loss_lrd", "acd_acc"):
        assert abs(stats_o[key] - stats_d[key]) <= 1e-5 * max(1.0, abs(stats_d[key])), key
