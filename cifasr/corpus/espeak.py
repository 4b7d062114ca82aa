"""The espeak-ng command-line synthesiser, as the mini_zh corpus uses it.

Mandarin quirk (espeak-ng 1.51): the ``cmn`` voice turns characters into tone-numbered pinyin and
then reads the digits as English numbers ("ta one"); the ``cmn-latn-pinyin`` voice reads the same
pinyin correctly. Giving that voice pinyin (not characters) also fixes polyphones and the tone
sandhi of 一 and 不, which espeak-ng does not apply; the third-tone sandhi it does apply itself.
"""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import soundfile as sf

MANDARIN_VOICE = "cmn-latn-pinyin"
ESPEAK = "espeak-ng"


def require_espeak() -> str:
    """Path of the espeak-ng binary; raise with an install hint when it is missing."""
    path = shutil.which(ESPEAK)
    if path is None:
        raise FileNotFoundError(
            "cifasr/corpus/espeak.py: espeak-ng is not on PATH; install it (Debian/Ubuntu: "
            "apt-get install espeak-ng) to synthesise the mini_zh corpus"
        )
    return path


def espeak_version() -> str:
    """The first line of ``espeak-ng --version`` (it changes the audio, so stamps record it)."""
    cmd = [require_espeak(), "--version"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[0]


def synthesize(
    text: str, voice: str = MANDARIN_VOICE, rate: int = 175, pitch: int = 50
) -> tuple[np.ndarray, int]:
    """Speak ``text`` with espeak-ng.

    Args:
        text: what to say; for Mandarin, pinyin with tone digits (``"wo3 ai4 ni3 ."``).
        voice: an espeak-ng voice, optionally with a variant (``"cmn-latn-pinyin+f2"``).
        rate: speaking rate in words per minute (espeak-ng ``-s``, 80..450).
        pitch: base pitch 0..99 (espeak-ng ``-p``).

    Returns:
        (samples, sample_rate): int16 samples of shape (T,) at espeak-ng's native rate (22050 Hz).
    """
    cmd = [require_espeak(), "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", text]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(
            f"cifasr/corpus/espeak.py: {' '.join(cmd)!r} failed (rc={proc.returncode}): "
            f"{proc.stderr.decode(errors='replace').strip()}"
        )
    samples, sr = sf.read(io.BytesIO(proc.stdout), dtype="int16")
    if samples.ndim != 1 or samples.size == 0:
        raise RuntimeError(
            f"cifasr/corpus/espeak.py: espeak-ng returned no mono audio for {text!r}"
        )
    return samples, sr


def phonemes(text: str, voice: str = MANDARIN_VOICE) -> str:
    """espeak-ng's phoneme mnemonics for ``text`` (``-x -q``), one line per clause."""
    cmd = [require_espeak(), "-v", voice, "-x", "-q", text]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
