"""Audio helpers for synthesised corpora: band-limited resampling and seeded additive noise.

numpy only (no scipy, no sox), deterministic: the same input and generator give the same samples.
"""

from __future__ import annotations

from math import gcd

import numpy as np


def resample(x: np.ndarray, sr_in: int, sr_out: int, rolloff: float = 0.95) -> np.ndarray:
    """Band-limited resampling by FFT (a brick-wall low-pass with a raised-cosine edge).

    The signal is zero-padded to a whole number of resampling periods (q input samples, p output
    samples, p/q = sr_out/sr_in in lowest terms; a 5-smooth count of them, for FFT speed), and
    the resampled padding is cut off again. The FFT treats the signal as periodic, which is
    harmless for utterances that start and end in silence.

    Args:
        x: samples of shape (T,), any real dtype.
        sr_in, sr_out: sample rates in Hz.
        rolloff: fraction of the lower Nyquist frequency where the cosine taper starts (0..1].

    Returns:
        float64 samples of shape (ceil(T * sr_out / sr_in),).
    """
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"cifasr/corpus/audio.py: sample rates must be > 0, got {sr_in}, {sr_out}")
    x = np.asarray(x, dtype=np.float64)
    if sr_in == sr_out:
        return x.copy()
    g = gcd(sr_in, sr_out)
    p, q = sr_out // g, sr_in // g
    # Whole periods, and a 5-smooth number of them so both FFT lengths factor well.
    n_in = _next_smooth(-(-len(x) // q)) * q
    n_out = n_in // q * p
    spec = np.fft.rfft(x, n_in)
    n_bins = n_out // 2 + 1
    out_spec = np.zeros(n_bins, dtype=np.complex128)
    m = min(n_bins, len(spec))
    out_spec[:m] = spec[:m]
    # Taper the top of the kept band: a hard cut rings (Gibbs) around every transient.
    nyq_bins = min(n_in, n_out) // 2
    start = int(rolloff * nyq_bins)
    if nyq_bins > start:
        k = np.arange(start, min(nyq_bins, n_bins) + 1)
        out_spec[k] *= 0.5 * (1 + np.cos(np.pi * (k - start) / (nyq_bins - start)))
        out_spec[min(nyq_bins, n_bins - 1) + 1 :] = 0
    # Drop the resampled padding: the output covers the input's span, no more.
    n_keep = -(-len(x) * p // q)
    return np.fft.irfft(out_spec, n_out)[:n_keep] * (n_out / n_in)


def _next_smooth(n: int) -> int:
    """The least integer >= n with no prime factor above 5."""
    while True:
        m = n
        for f in (2, 3, 5):
            while m % f == 0:
                m //= f
        if m == 1:
            return n
        n += 1


def colored_noise(n: int, rng: np.random.Generator, color: str = "white") -> np.ndarray:
    """Unit-power noise of shape (n,): ``white`` (flat) or ``pink`` (power ~ 1/f)."""
    noise = rng.standard_normal(n)
    if color == "pink":
        spec = np.fft.rfft(noise)
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0  # keep DC finite; it is removed below
        spec /= np.sqrt(f)
        spec[0] = 0
        noise = np.fft.irfft(spec, n)
    elif color != "white":
        raise ValueError(f"cifasr/corpus/audio.py: noise color {color!r}: use 'white' or 'pink'")
    # Exactly unit power, so the SNR asked for is the SNR delivered.
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def active_power(x: np.ndarray, sr: int, frame_s: float = 0.025, floor_db: float = 30.0) -> float:
    """Mean power of the frames within ``floor_db`` of the loudest (speech, not the silences)."""
    n = max(1, int(frame_s * sr))
    t = len(x) // n * n
    if t == 0:
        return float(np.mean(np.square(x, dtype=np.float64)))
    frames = np.mean(np.square(x[:t].reshape(-1, n), dtype=np.float64), axis=1)
    peak = frames.max()
    if peak <= 0:
        return 0.0
    return float(frames[frames >= peak * 10 ** (-floor_db / 10)].mean())


def add_noise(
    x: np.ndarray, sr: int, snr_db: float, rng: np.random.Generator, color: str = "white"
) -> np.ndarray:
    """Add noise at ``snr_db`` relative to the active-speech power of ``x`` (shape (T,))."""
    p = active_power(x, sr)
    noise = colored_noise(len(x), rng, color)
    return x + noise * np.sqrt(p / 10 ** (snr_db / 10))
