"""Read the audio of one ``wav.scp`` entry: a file path, or a shell command ending in ``|``.

Commands are how Kaldi expresses on-the-fly processing (speed perturbation:
``sox -t wav a.wav -t wav - speed 0.9 |``); their standard output must be a wav/flac stream.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf


class AudioError(RuntimeError):
    """Audio could not be read or is unusable; the message says what and how to fix it."""


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
        return _decode(io.BytesIO(proc.stdout), f"the output of '{command}'")
    path = Path(entry)
    if not path.is_file():
        raise AudioError(f"audio file {path} does not exist")
    return _decode(str(path), f"audio file {path}")
