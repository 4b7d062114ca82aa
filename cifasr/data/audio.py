"""Read the audio of one ``wav.scp`` entry: a file path, or a shell command ending in ``|``.

Commands are how Kaldi expresses on-the-fly processing (speed perturbation:
``sox -t wav a.wav -t wav - speed 0.9 |``); their standard output must be a wav/flac stream.

A WAV whose data chunk holds fewer bytes than its header declares (a file cut short by a failed
copy or download) is CORRUPT: libsndfile reads what is there without complaint, which would keep
half an utterance with its whole transcript. :func:`read_audio` compares the two and raises
:class:`CorruptAudioError`. Headers of streams written without knowing their length (sox to a
pipe writes 0x7ffff000, some writers 0 or 0xffffffff) declare nothing and are not checked.
"""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf


class AudioError(RuntimeError):
    """Audio could not be read or is unusable; the message says what and how to fix it."""


class CorruptAudioError(AudioError):
    """The audio is damaged, e.g. truncated: fewer sample bytes than its header declares."""


# data-chunk sizes that mean "unknown length" (streamed output) rather than a length
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)
_UNKNOWN_FROM = 0x7FFFF000


def wav_data_sizes(stream: BinaryIO, total_bytes: int) -> tuple[int, int] | None:
    """The data chunk's declared and actual byte counts of a RIFF/WAVE stream.

    Args:
        stream: the stream, positioned at its start (it is read, not rewound).
        total_bytes: the stream's length in bytes.

    Returns:
        (declared bytes, bytes present), or None when the stream is not a RIFF/WAVE file, has no
        data chunk header, or its header declares no length.
    """
    head = stream.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= total_bytes:
        stream.seek(pos)
        chunk = stream.read(8)
        if len(chunk) < 8:
            return None
        chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if chunk_id == b"data":
            if size in _UNKNOWN_SIZES or size >= _UNKNOWN_FROM:
                return None
            return size, total_bytes - pos - 8
        pos += 8 + size + (size & 1)
    return None


def _check_complete(stream: BinaryIO, total_bytes: int, what: str) -> None:
    sizes = wav_data_sizes(stream, total_bytes)
    if sizes is not None and sizes[1] < sizes[0]:
        declared, present = sizes
        raise CorruptAudioError(
            f"{what} is truncated: its header declares {declared} bytes of samples but it holds "
            f"{present} ({100 * present / declared:.0f}%); copy or download it again"
        )


def _decode(data: io.BytesIO | str, what: str) -> tuple[np.ndarray, int]:
    try:
        samples, rate = sf.read(data, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise AudioError(f"cannot decode {what}: {e}") from e
    if samples.shape[1] != 1:
        raise AudioError(
            f"{what} has {samples.shape[1]} channels; expected mono (select one channel, "
            f"e.g. with a wav.scp entry 'sox <file> -t wav - remix 1 |')"
        )
    return samples[:, 0], int(rate)


def read_audio(entry: str, pipe_timeout_s: float = 600.0) -> tuple[np.ndarray, int]:
    """Samples and sampling rate of one wav.scp value.

    Args:
        entry: a path to a wav/flac file, or a shell command ending in ``|`` that writes one to
            standard output.
        pipe_timeout_s: seconds a command may run.

    Returns:
        ((samples,) float32 in [-1, 1], sampling rate in Hz).

    Raises:
        CorruptAudioError: a WAV with fewer sample bytes than its header declares.
        AudioError: missing or unreadable file, failing command, undecodable data, not mono.
    """
    entry = entry.strip()
    if entry.endswith("|"):
        command = entry[:-1].strip()
        try:
            proc = subprocess.run(
                command, shell=True, capture_output=True, timeout=pipe_timeout_s, check=False
            )
        except subprocess.TimeoutExpired as e:
            raise AudioError(f"command '{command}' ran longer than {pipe_timeout_s} s") from e
        if proc.returncode != 0:
            stderr = proc.stderr.decode("utf-8", "replace").strip()
            raise AudioError(f"command '{command}' failed (exit {proc.returncode}): {stderr}")
        if not proc.stdout:
            raise AudioError(f"command '{command}' wrote no audio")
        what = f"the output of '{command}'"
        _check_complete(io.BytesIO(proc.stdout), len(proc.stdout), what)
        return _decode(io.BytesIO(proc.stdout), what)
    path = Path(entry)
    if not path.is_file():
        raise AudioError(f"audio file {path} does not exist")
    with open(path, "rb") as f:
        _check_complete(f, path.stat().st_size, f"audio file {path}")
    return _decode(str(path), f"audio file {path}")
