"""Stage 3: features in the ark equal compute_fbank; each bad audio gives a message naming the
wav.scp line and the key, or (with on_error="skip") a counted skip."""

from __future__ import annotations

import shutil
from pathlib import Path

import kaldiio
import numpy as np
import pytest

from cifasr.data.audio import AudioError, CorruptAudioError, read_audio
from cifasr.data.fbank_dump import FbankDumpError, dump_fbank
from cifasr.data.kaldi_files import read_kaldi_map
from cifasr.frontend.fbank import FbankConfig, compute_fbank

LENGTHS = {"s1-a": 16000, "s1-b": 4567, "s2-a": 400}


def _dump(d: Path, on_error: str = "fail"):
    return dump_fbank(
        d / "wav.scp",
        d / "feats.ark",
        d / "feats.scp",
        d / "utt2num_frames",
        d / "utt2dur",
        FbankConfig(),
        on_error,
    )


def test_ark_holds_compute_fbank_of_each_wav(tmp_path: Path, make_wav_data_dir) -> None:
    d = make_wav_data_dir(tmp_path, LENGTHS)
    report = _dump(d)
    assert (report.num_in, report.num_out, report.skipped) == (3, 3, {})
    feats = dict(kaldiio.load_scp(str(d / "feats.scp")))
    assert list(read_kaldi_map(d / "feats.scp")) == sorted(LENGTHS)
    for utt, n in LENGTHS.items():
        samples, rate = read_audio(read_kaldi_map(d / "wav.scp")[utt])
        np.testing.assert_array_equal(feats[utt], compute_fbank(samples, rate))
        assert feats[utt].shape == (1 + (n - 400) // 160, 80)
    frames = read_kaldi_map(d / "utt2num_frames")
    assert {u: int(v) for u, v in frames.items()} == {
        u: 1 + (n - 400) // 160 for u, n in LENGTHS.items()
    }
    dur = read_kaldi_map(d / "utt2dur")
    assert {u: float(v) for u, v in dur.items()} == pytest.approx(
        {u: n / 16000 for u, n in LENGTHS.items()}, abs=1e-6
    )


def test_rerun_overwrites(tmp_path: Path, make_wav_data_dir) -> None:
    d = make_wav_data_dir(tmp_path, LENGTHS)
    _dump(d)
    first = (d / "feats.ark").read_bytes()
    _dump(d)
    assert (d / "feats.ark").read_bytes() == first
    assert len((d / "feats.scp").read_text().splitlines()) == 3


def test_missing_wav_names_line_and_key(tmp_path: Path, make_wav_data_dir) -> None:
    d = make_wav_data_dir(tmp_path, LENGTHS)
    (tmp_path / "wav" / "s1-b.wav").unlink()
    with pytest.raises(FbankDumpError) as err:
        _dump(d)
    message = str(err.value)
    assert f"{d / 'wav.scp'}: line 2: utterance 's1-b'" in message
    assert "s1-b.wav does not exist" in message and "--on_error skip" in message


def test_unreadable_wav(tmp_path: Path, make_wav_data_dir) -> None:
    d = make_wav_data_dir(tmp_path, LENGTHS)
    (tmp_path / "wav" / "s2-a.wav").write_bytes(b"RIFF not really a wav file")
    with pytest.raises(FbankDumpError, match=r"line 3: utterance 's2-a': cannot decode audio file"):
        _dump(d)


def test_other_sample_rate(tmp_path: Path, make_wav_data_dir, write_wav) -> None:
    d = make_wav_data_dir(tmp_path, LENGTHS)
    write_wav(tmp_path / "wav" / "s1-a.wav", 8000, rate=8000)
    with pytest.raises(FbankDumpError) as err:
        _dump(d)
    expected = "line 1: utterance 's1-a': audio is 8000 Hz but the fbank config expects 16000 Hz"
    assert expected in str(err.value)


def test_zero_length_audio(tmp_path: Path, make_wav_data_dir, write_wav) -> None:
    d = make_wav_data_dir(tmp_path, LENGTHS)
    write_wav(tmp_path / "wav" / "s1-b.wav", 0)
    with pytest.raises(FbankDumpError) as err:
        _dump(d)
    expected = "utterance 's1-b': audio has 0 samples, fewer than one 25 ms window (400 samples)"
    assert expected in str(err.value)


def test_skip_mode_counts_and_leaves_out(tmp_path: Path, make_wav_data_dir, write_wav) -> None:
    d = make_wav_data_dir(tmp_path, LENGTHS)
    write_wav(tmp_path / "wav" / "s1-b.wav", 399)
    (tmp_path / "wav" / "s2-a.wav").unlink()
    report = _dump(d, on_error="skip")
    assert (report.num_in, report.num_out) == (3, 1)
    assert report.skipped == {"too short": ["s1-b"], "unreadable audio": ["s2-a"]}
    assert list(read_kaldi_map(d / "feats.scp")) == ["s1-a"]
    assert list(read_kaldi_map(d / "utt2num_frames")) == ["s1-a"]


def test_multichannel_audio_is_an_error(tmp_path: Path) -> None:
    import soundfile as sf

    sf.write(tmp_path / "st.wav", np.zeros((800, 2), np.float32), 16000, subtype="PCM_16")
    with pytest.raises(AudioError, match="has 2 channels; expected mono"):
        read_audio(str(tmp_path / "st.wav"))


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")
def test_pipe_entries_are_read(tmp_path: Path, write_wav) -> None:
    write_wav(tmp_path / "a.wav", 16000)
    samples, rate = read_audio(f"sox -t wav {tmp_path / 'a.wav'} -t wav - speed 1.1 |")
    assert rate == 16000 and abs(samples.shape[0] - 16000 / 1.1) <= 2
    with pytest.raises(AudioError, match=r"command 'sox .*missing.wav.*' failed \(exit"):
        read_audio(f"sox -t wav {tmp_path / 'missing.wav'} -t wav - |")


def _cut(path: Path, num_bytes: int) -> None:
    """Keep the first ``num_bytes`` of a file, as a failed copy would (the header says more)."""
    path.write_bytes(path.read_bytes()[:num_bytes])


def test_truncated_wav_is_corrupt_not_kept_shorter(tmp_path: Path, make_wav_data_dir) -> None:
    # 16000 samples = 32000 data bytes after the 44-byte header; keep half of them
    d = make_wav_data_dir(tmp_path, LENGTHS)
    _cut(tmp_path / "wav" / "s1-a.wav", 44 + 16000)
    with pytest.raises(FbankDumpError) as err:
        _dump(d)
    assert (
        "line 1: utterance 's1-a': audio file " in str(err.value)
        and "is truncated: its header declares 32000 bytes of samples but it holds 16000 (50%)"
        in str(err.value)
    )


def test_truncated_wavs_are_counted_as_corrupt_in_skip_mode(
    tmp_path: Path, make_wav_data_dir
) -> None:
    d = make_wav_data_dir(tmp_path, LENGTHS)
    _cut(tmp_path / "wav" / "s1-a.wav", 44 + 16000)
    _cut(tmp_path / "wav" / "s1-b.wav", 300)  # fewer samples than one window: still corrupt
    report = _dump(d, on_error="skip")
    assert report.skipped == {"corrupt audio": ["s1-a", "s1-b"]}
    assert list(read_kaldi_map(d / "feats.scp")) == ["s2-a"]


def test_truncated_wav_through_a_pipe_is_corrupt(tmp_path: Path, write_wav) -> None:
    write_wav(tmp_path / "a.wav", 8000)
    _cut(tmp_path / "a.wav", 44 + 8000)
    with pytest.raises(CorruptAudioError, match="the output of 'cat .*a.wav' is truncated"):
        read_audio(f"cat {tmp_path / 'a.wav'} |")
