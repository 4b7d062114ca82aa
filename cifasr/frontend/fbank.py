"""Kaldi-compatible log-mel filterbank features, the single source of truth for feature settings.

Stage 3 of the recipe (feature dump) and inference on raw waveforms both call
:func:`compute_fbank` / :meth:`FbankConfig.compute`, so training and decoding can never disagree
on a setting. The computation is kaldi-native-fbank, a C++ port of Kaldi's ``compute-fbank-feats``.

Defaults are Kaldi's (and the original recipe's, docs/architecture.md §2.1: 80 bins, 25 ms window,
10 ms shift, 16 kHz, povey window,
pre-emphasis 0.97, DC removal, snip_edges) except ``dither``: Kaldi's default is 1.0, ours 0.0, so
that dumped features are reproducible bit for bit. The original recipe called
``torchaudio.compliance.kaldi.fbank`` without a dither argument; that default was Kaldi's 1.0 in
torchaudio before 0.5 and is 0.0 since (pytorch/audio#453, 2020), and the torchaudio version of the
original run is not recorded, so its dither is not known. Set ``dither: 1.0`` in the fbank config
for Kaldi's behaviour.

>>> import numpy as np
>>> feats = compute_fbank(np.zeros(16000, dtype=np.float32) + 0.01)
>>> feats.shape  # 1 + (16000 - 400) // 160 frames
(98, 80)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kaldi_native_fbank as knf
import numpy as np
import yaml

# Kaldi reads 16-bit PCM as integers: a waveform in [-1, 1] is scaled back to that range so the
# log energies (and hence the features) equal Kaldi's.
INT16_SCALE = 32768.0


@dataclass(frozen=True)
class FbankConfig:
    """Every setting of the filterbank; saved next to dumped features as ``fbank.yaml``.

    Args:
        sample_rate: expected sampling rate in Hz; audio at another rate is an error, never
            silently resampled.
        num_mel_bins: number of mel bins (feature dimension).
        frame_length_ms: window length in milliseconds.
        frame_shift_ms: hop in milliseconds.
        dither: Gaussian dither added to the (int16-scaled) samples; 0.0 = deterministic.
        preemph_coeff: pre-emphasis coefficient.
        remove_dc_offset: subtract each frame's mean before windowing.
        window_type: "povey", "hamming", "hanning", "rectangular" or "blackman".
        round_to_power_of_two: FFT size rounded up to a power of two.
        snip_edges: frames only where the window fits entirely, giving
            ``1 + (samples - window) // shift`` frames (Kaldi's default).
        low_freq: lowest mel-bin edge in Hz.
        high_freq: highest mel-bin edge in Hz; <= 0 counts back from the Nyquist frequency.
        use_energy: append a log-energy coefficient (dimension becomes num_mel_bins + 1).
        energy_floor: floor of the energy when use_energy is on.
        use_log_fbank: log of the mel energies (else linear).
        use_power: power spectrum (else magnitude).
    """

    sample_rate: int = 16000
    num_mel_bins: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    dither: float = 0.0
    preemph_coeff: float = 0.97
    remove_dc_offset: bool = True
    window_type: str = "povey"
    round_to_power_of_two: bool = True
    snip_edges: bool = True
    low_freq: float = 20.0
    high_freq: float = 0.0
    use_energy: bool = False
    energy_floor: float = 0.0
    use_log_fbank: bool = True
    use_power: bool = True

    @property
    def feat_dim(self) -> int:
        """Number of feature coefficients per frame."""
        return self.num_mel_bins + int(self.use_energy)

    @property
    def window_samples(self) -> int:
        """Window length in samples (400 at 16 kHz, 25 ms)."""
        return int(self.sample_rate * self.frame_length_ms / 1000.0)

    @property
    def shift_samples(self) -> int:
        """Hop in samples (160 at 16 kHz, 10 ms)."""
        return int(self.sample_rate * self.frame_shift_ms / 1000.0)

    def num_frames(self, num_samples: int) -> int:
        """Frames produced from ``num_samples`` samples (Kaldi's NumFrames)."""
        window, shift = self.window_samples, self.shift_samples
        if self.snip_edges:
            return 0 if num_samples < window else 1 + (num_samples - window) // shift
        return (num_samples + shift // 2) // shift

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields (YAML-friendly)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "<dict>") -> FbankConfig:
        """Build from a dict, rejecting unknown keys with a message naming ``source``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(
                f"{source}: unknown fbank setting(s) {unknown}; known: {sorted(names)}"
            )
        return cls(**values)

    def save(self, path: str | Path) -> None:
        """Write the config as YAML (every field, so the file is complete on its own)."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> FbankConfig:
        """Read a YAML written by :meth:`save` (missing keys take their defaults)."""
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a mapping of fbank settings, got {type(values)}")
        return cls.from_dict(values, source=str(path))

    def knf_options(self) -> knf.FbankOptions:
        """The equivalent kaldi-native-fbank options."""
        opts = knf.FbankOptions()
        frame = opts.frame_opts
        frame.samp_freq = float(self.sample_rate)
        frame.frame_length_ms = float(self.frame_length_ms)
        frame.frame_shift_ms = float(self.frame_shift_ms)
        frame.dither = float(self.dither)
        frame.preemph_coeff = float(self.preemph_coeff)
        frame.remove_dc_offset = bool(self.remove_dc_offset)
        frame.window_type = self.window_type
        frame.round_to_power_of_two = bool(self.round_to_power_of_two)
        frame.snip_edges = bool(self.snip_edges)
        mel = opts.mel_opts
        mel.num_bins = int(self.num_mel_bins)
        mel.low_freq = float(self.low_freq)
        mel.high_freq = float(self.high_freq)
        opts.use_energy = bool(self.use_energy)
        opts.energy_floor = float(self.energy_floor)
        opts.use_log_fbank = bool(self.use_log_fbank)
        opts.use_power = bool(self.use_power)
        return opts

    def compute(self, waveform: np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        """Features of one mono waveform.

        Args:
            waveform: (samples,) float in [-1, 1] (scaled by 2^15 here, as Kaldi reads int16),
                or int16 samples (used as they are).
            sample_rate: rate of ``waveform`` in Hz; must equal ``self.sample_rate`` when given.

        Returns:
            (frames, feat_dim) float32, ``frames = self.num_frames(samples)`` (0 rows for audio
            shorter than one window).
        """
        if sample_rate is not None and int(sample_rate) != self.sample_rate:
            raise ValueError(
                f"waveform sampled at {sample_rate} Hz but the fbank config expects "
                f"{self.sample_rate} Hz; resample the audio or change sample_rate"
            )
        wav = np.asarray(waveform)
        if wav.ndim != 1:
            raise ValueError(f"expected a mono waveform of shape (samples,), got {wav.shape}")
        if wav.dtype == np.int16:
            samples = wav.astype(np.float32)
        else:
            samples = (wav.astype(np.float32) * INT16_SCALE).astype(np.float32, copy=False)
        n = self.num_frames(samples.shape[0])
        if n == 0:
            return np.zeros((0, self.feat_dim), dtype=np.float32)
        fbank = knf.OnlineFbank(self.knf_options())
        fbank.accept_waveform(float(self.sample_rate), samples)
        fbank.input_finished()
        ready = fbank.num_frames_ready
        out = np.empty((ready, self.feat_dim), dtype=np.float32)
        # One C++ call per frame: kaldi-native-fbank has no batch getter (a few % of the time).
        for i in range(ready):
            out[i] = fbank.get_frame(i)
        return out


def compute_fbank(
    waveform: np.ndarray,
    sample_rate: int = 16000,
    num_mel_bins: int = 80,
    frame_length_ms: float = 25.0,
    frame_shift_ms: float = 10.0,
    dither: float = 0.0,
    **kaldi_options: Any,
) -> np.ndarray:
    """Kaldi-compatible log-mel fbank of one waveform.

    Args:
        waveform: (samples,) float in [-1, 1] (scaled by 2^15 internally) or int16.
        sample_rate: sampling rate of ``waveform`` in Hz.
        num_mel_bins: feature dimension.
        frame_length_ms: window length in ms.
        frame_shift_ms: hop in ms.
        dither: dither amount (0.0 = deterministic; Kaldi's default would be 1.0).
        **kaldi_options: any other :class:`FbankConfig` field (``snip_edges``, ``low_freq``...).

    Returns:
        (frames, num_mel_bins) float32 with ``frames = 1 + (samples - 400) // 160`` at the
        defaults (0 rows when shorter than one window).
    """
    config = FbankConfig(
        sample_rate=sample_rate,
        num_mel_bins=num_mel_bins,
        frame_length_ms=frame_length_ms,
        frame_shift_ms=frame_shift_ms,
        dither=dither,
        **kaldi_options,
    )
    return config.compute(waveform)
