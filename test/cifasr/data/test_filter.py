"""Stage 4: every dropped utterance is counted under its reason and listed in .filtered."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cifasr.data.datadir import DataDirError, validate_data_dir
from cifasr.data.filter import filter_data_dir
from cifasr.data.kaldi_files import read_kaldi_map


def make_feats_dir(d: Path, rows: dict[str, tuple[float, int, str]]) -> Path:
    """rows: utt -> (seconds, frames, text)."""
    d.mkdir(parents=True)
    (d / "utt2spk").write_text("".join(f"{u} spk\n" for u in sorted(rows)))
    (d / "spk2utt").write_text("spk " + " ".join(sorted(rows)) + "\n")
    items = sorted(rows.items())
    (d / "utt2dur").write_text("".join(f"{u} {s}\n" for u, (s, _, _) in items))
    (d / "utt2num_frames").write_text("".join(f"{u} {f}\n" for u, (_, f, _) in items))
    (d / "text").write_text("".join(f"{u} {t}\n" for u, (_, _, t) in items), encoding="utf-8")
    (d / "feats.scp").write_text("".join(f"{u} x.ark:{i}\n" for i, u in enumerate(sorted(rows))))
    return d


def test_each_reason_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = make_feats_dir(
        tmp_path / "src",
        {
            "a-ok": (1.0, 98, "你好世界"),
            "b-short": (0.05, 3, "你"),
            "c-long": (25.0, 2498, "你好"),
            "d-empty": (1.0, 98, "   "),
            # (98 - 1) // 8 = 12 encoder frames: 11 characters + <sos/eos> fit, 12 do not.
            "e-fits": (1.0, 98, "一二三四五六七八九十甲"),
            "f-toolong": (1.0, 98, "一二 三四五六七八九十甲乙"),
        },
    )
    with caplog.at_level(logging.INFO):
        report = filter_data_dir(src, tmp_path / "dest", 0.1, 20.0, 8)
    assert (report.num_in, report.num_out) == (6, 2)
    assert {r: keys for r, keys in report.dropped.items() if keys} == {
        "too short (< 0.1 s)": ["b-short"],
        "too long (> 20 s)": ["c-long"],
        "empty text": ["d-empty"],
        "text too long (tokens + 1 > (frames - 1) // 8)": ["f-toolong"],
    }
    assert "6 utterances in, 2 out; 1 too short (< 0.1 s); 1 too long (> 20 s)" in caplog.text
    assert list(read_kaldi_map(tmp_path / "dest" / "feats.scp")) == ["a-ok", "e-fits"]
    assert validate_data_dir(tmp_path / "dest", need_wav=False, need_feats=True) == []
    assert read_kaldi_map(tmp_path / "dest" / ".filtered") == {
        "b-short": "too short (< 0.1 s)",
        "c-long": "too long (> 20 s)",
        "d-empty": "empty text",
        "f-toolong": "text too long (tokens + 1 > (frames - 1) // 8)",
    }


def test_missing_duration_names_the_utterance(tmp_path: Path) -> None:
    src = make_feats_dir(tmp_path / "src", {"a": (1.0, 98, "你"), "b": (1.0, 98, "好")})
    (src / "utt2dur").write_text("a 1.0\n")
    message = r"utt2dur: 1 utterance\(s\) of utt2spk missing, e.g. 'b'"
    with pytest.raises(DataDirError, match=message):
        filter_data_dir(src, tmp_path / "dest")
