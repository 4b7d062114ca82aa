"""cifasr.frontend.fbank equals kaldi-native-fbank called directly, with Kaldi's frame count."""

from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np
import pytest

from cifasr.frontend.fbank import FbankConfig, compute_fbank


def _direct_knf(samples_int16_scale: np.ndarray, num_bins: int = 80) -> np.ndarray:
    """kaldi-native-fbank with the docs/architecture.md §2.1 settings written out by hand."""
    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = 16000
    opts.frame_opts.frame_length_ms = 25
    opts.frame_opts.frame_shift_ms = 10
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.frame_opts.window_type = "povey"
    opts.mel_opts.num_bins = num_bins
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(16000, samples_int16_scale.tolist())
    fb.input_finished()
    return np.stack([np.asarray(fb.get_frame(i)) for i in range(fb.num_frames_ready)])


@pytest.fixture
def waveform() -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(12345) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(
        np.float32
    )


def test_equals_direct_kaldi_native_fbank_on_int16_scaled_audio(waveform: np.ndarray) -> None:
    ours = compute_fbank(waveform)
    reference = _direct_knf(waveform * 32768.0)
    assert ours.dtype == np.float32
    assert ours.shape == reference.shape == (1 + (12345 - 400) // 160, 80)
    np.testing.assert_array_equal(ours, reference.astype(np.float32))


def test_int16_input_is_used_unscaled(waveform: np.ndarray) -> None:
    pcm = np.round(waveform * 32767).astype(np.int16)
    np.testing.assert_array_equal(
        compute_fbank(pcm), compute_fbank(pcm.astype(np.float32) / 32768.0)
    )


@pytest.mark.parametrize("samples", [0, 399, 400, 401, 559, 560, 16000, 16161])
def test_frame_count_is_kaldis(samples: int) -> None:
    wav = np.full(samples, 0.01, dtype=np.float32)
    expected = 0 if samples < 400 else 1 + (samples - 400) // 160
    assert compute_fbank(wav).shape == (expected, 80)
    assert FbankConfig().num_frames(samples) == expected


def test_other_options_pass_through(waveform: np.ndarray) -> None:
    feats = compute_fbank(waveform, num_mel_bins=40, snip_edges=False)
    assert feats.shape == ((12345 + 80) // 160, 40)
    opts = FbankConfig(num_mel_bins=40, snip_edges=False).knf_options()
    assert opts.frame_opts.snip_edges is False and opts.mel_opts.num_bins == 40


def test_sample_rate_mismatch_is_an_error(waveform: np.ndarray) -> None:
    with pytest.raises(ValueError, match="8000 Hz but the fbank config expects 16000 Hz"):
        FbankConfig().compute(waveform, sample_rate=8000)


def test_config_yaml_round_trip_and_unknown_key(tmp_path) -> None:
    config = FbankConfig(num_mel_bins=64, dither=0.5)
    config.save(tmp_path / "fbank.yaml")
    assert FbankConfig.load(tmp_path / "fbank.yaml") == config
    (tmp_path / "bad.yaml").write_text("num_mel_bin: 80\n")
    with pytest.raises(ValueError, match=r"bad.yaml: unknown fbank setting\(s\) \['num_mel_bin'\]"):
        FbankConfig.load(tmp_path / "bad.yaml")


def test_default_dither_is_zero_so_dumps_are_reproducible(waveform: np.ndarray) -> None:
    assert FbankConfig().dither == 0.0
    np.testing.assert_array_equal(compute_fbank(waveform), compute_fbank(waveform))
