"""Training pictures: the CIF firing plot of a validation batch and the per-epoch curves."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cifasr.tasks.asr import build_model
from cifasr.train import plot

pytest.importorskip("matplotlib")


def test_cif_firing_plot_per_utterance_and_curves(tmp_path, tiny_config):
    tiny_config["token_list"] = ["<blank>", "<unk>", *"你好世界", "<sos/eos>"]
    model = build_model(tiny_config)
    lengths = torch.tensor([64, 48])
    batch = {
        "utt_id": ["u1", "u2"],
        "speech": torch.randn(2, 64, 20),
        "speech_lengths": lengths,
        "text": torch.tensor([[2, 3, 4], [5, 2, -1]]),
        "text_lengths": torch.tensor([3, 2]),
    }
    plot.plot_cif_firing(model, batch, tmp_path / "images" / "3epoch", max_utts=2)
    for utt in ("u1", "u2"):
        png = tmp_path / "images" / f"3epoch_{utt}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = [
        {"epoch": 1, "train": {"loss": 3.0}, "valid": {"loss": 3.5, "cer": 0.9}},
        {"epoch": 2, "train": {"loss": 2.0}, "valid": {"loss": 2.5, "cer": 0.5}},
    ]
    plot.plot_curves(history, tmp_path / "curves")
    assert sorted(p.name for p in (tmp_path / "curves").iterdir()) == ["cer.png", "loss.png"]


def test_chinese_tokens_are_drawn_with_a_cjk_font_or_labelled_by_id():
    plot._pyplot()
    has_font = any(Path(p).is_file() for p in plot.CJK_FONT_FILES)
    if has_font:
        assert plot._cjk_font  # an installed CJK file is registered and used
    expected = "你" if plot._cjk_font else "#7"
    assert plot._label("你", 7) == expected
    assert plot._label("ok", 8) == "ok"
