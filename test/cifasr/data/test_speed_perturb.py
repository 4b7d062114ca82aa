"""Stage 2: Kaldi-style ids and speakers, sox speed pipes whose audio has the perturbed length."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from cifasr.data.audio import read_audio
from cifasr.data.datadir import DataDirError, combine_data_dirs, validate_data_dir
from cifasr.data.kaldi_files import read_kaldi_map
from cifasr.data.speed_perturb import perturb_data_dir_speed, perturbed_entry

pytestmark = pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")


def test_ids_speakers_and_audio_length(tmp_path: Path, make_wav_data_dir) -> None:
    texts = {"S0002-a": "你好", "S0003-b": "再见"}
    src = make_wav_data_dir(tmp_path, {"S0002-a": 16000, "S0003-b": 8000}, texts)
    (src / "utt2dur").write_text("S0002-a 1.0\nS0003-b 0.5\n")
    dirs = []
    for factor in ("0.9", "1.0", "1.1"):
        dest = tmp_path / f"sp{factor}"
        assert perturb_data_dir_speed(factor, src, dest) == 2
        dirs.append(dest)
    utt2spk = read_kaldi_map(tmp_path / "sp0.9" / "utt2spk")
    assert utt2spk == {"sp0.9-S0002-a": "sp0.9-S0002", "sp0.9-S0003-b": "sp0.9-S0003"}
    expected_text = {f"sp1.1-{u}": t for u, t in texts.items()}
    assert read_kaldi_map(tmp_path / "sp1.1" / "text") == expected_text
    assert read_kaldi_map(tmp_path / "sp0.9" / "utt2dur")["sp0.9-S0002-a"] == "1.111111"
    wav = read_kaldi_map(tmp_path / "sp1.1" / "wav.scp")["sp1.1-S0002-a"]
    assert wav.startswith("sox -R -t wav ") and wav.endswith(" -t wav - speed 1.1 |")
    samples, _ = read_audio(wav)
    assert abs(samples.shape[0] - 16000 / 1.1) <= 2
    np.testing.assert_array_equal(read_audio(wav)[0], samples)  # the same audio on every read
    # Factor 1.0 keeps the audio as is, under sp1.0- ids.
    assert not read_kaldi_map(tmp_path / "sp1.0" / "wav.scp")["sp1.0-S0002-a"].endswith("|")
    assert combine_data_dirs(tmp_path / "train_sp", dirs) == 6
    assert validate_data_dir(tmp_path / "train_sp") == []


def test_pipe_entry_is_chained() -> None:
    assert perturbed_entry("flac -dc a.flac |", "0.9") == (
        "flac -dc a.flac | sox -R -t wav - -t wav - speed 0.9 |"
    )
    assert perturbed_entry("/a b/c.wav", "1.1") == "sox -R -t wav '/a b/c.wav' -t wav - speed 1.1 |"


def test_bad_factor(tmp_path: Path, make_wav_data_dir) -> None:
    src = make_wav_data_dir(tmp_path, {"s-a": 800})
    with pytest.raises(DataDirError, match="must be positive"):
        perturb_data_dir_speed("0", src, tmp_path / "x")
