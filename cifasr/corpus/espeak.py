"""The espeak-ng command-line synthesiser, as the mini_zh corpus uses it.

Mandarin quirk (espeak-ng 1.51): the ``cmn`` voice turns characters into tone-numbered pinyin and
then reads the digits as English numbers ("ta one"); the ``cmn-latn-pinyin`` voice reads the same
pinyin correctly. Giving that voice pinyin (not characters) also fixes polyphones and the tone
sandhi of 一 and 不, which espeak-ng does not apply; the third-tone sandhi it does apply itself.

For text that has no hand-made pinyin, ``character_readings`` asks the ``cmn`` voice's dictionary
for each character's reading (one reading per character, without context) and
``speakable_syllables`` checks that the pinyin voice says each syllable with its tone.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterable

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


_REPLACE = re.compile(r"^Replace: (\S+) +(\S+) *$", re.M)
_SYLLABLE = re.compile(r"[a-z]+[1-5]")
# The pitch contour that the cmn-latn-pinyin voice writes (``-x``) for each tone digit.
_TONE_CONTOUR = {"1": "55", "2": "35", "3": "214", "4": "51", "5": "11"}


def character_readings(chars: Iterable[str], voice: str = "cmn") -> dict[str, str]:
    """espeak-ng's dictionary reading of each character it knows, as tone-numbered pinyin.

    One espeak-ng call for all characters: its ``-X`` trace prints ``Replace: <char> <pinyin>``
    for every character its Mandarin dictionary knows. Characters are separated by ``. `` so
    that no two of them form one of the dictionary's word entries: the reading is the
    character's own, without context (a polyphonic character always gets the same one).

    Returns:
        {char: pinyin syllable with tone digit 1-5 (``"xing2"``)}; a character that espeak-ng
        does not know (it would spell out its code point) is absent.
    """
    wanted = sorted(set(chars))
    if not wanted:
        return {}
    cmd = [require_espeak(), "-v", voice, "-X", "-q", "--stdin"]
    proc = subprocess.run(cmd, input=". ".join(wanted), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"cifasr/corpus/espeak.py: {' '.join(cmd)!r} failed (rc={proc.returncode}): "
            f"{proc.stderr.strip()[-500:]}"
        )
    wanted_set = set(wanted)
    return {
        char: reading
        for char, reading in _REPLACE.findall(proc.stdout)
        if char in wanted_set and _SYLLABLE.fullmatch(reading)
    }


def speakable_syllables(syllables: Iterable[str], voice: str = MANDARIN_VOICE) -> set[str]:
    """The pinyin syllables (``"ni3"``) that ``voice`` says as one syllable with their tone.

    One espeak-ng call, one syllable per clause; a syllable passes when its phonemes (``-x``)
    carry exactly one pitch contour and it is its tone's (``ni3`` -> ``n'i214``). Syllables
    the voice cannot say come out without a tone (``m2`` -> ``m``) or spelt letter by letter.
    """
    wanted = sorted({s for s in syllables if _SYLLABLE.fullmatch(s)})
    if not wanted:
        return set()
    cmd = [require_espeak(), "-v", voice, "-x", "-q", "--stdin"]
    out = (
        subprocess.run(
            cmd,
            input="".join(f"{s}.\n" for s in wanted),
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip("\n")
        .split("\n")
    )
    if len(out) != len(wanted):  # clauses merged or split: ask one syllable at a time instead
        out = [phonemes(s, voice) for s in wanted]
    return {
        s
        for s, p in zip(wanted, out, strict=True)
        if re.findall(r"\d+", p) == [_TONE_CONTOUR[s[-1]]]
    }
