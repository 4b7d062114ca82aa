"""Stage 3: wav.scp -> Kaldi ark/scp of fbank features, with utt2num_frames and utt2dur.

One call handles one job's share of wav.scp (the recipe splits wav.scp into ``--nj`` parts and
runs a job per part). Output order is wav.scp order; ``feats.scp`` points into the ark by byte
offset (``<key> <ark path>:<offset>``), the format kaldiio and Kaldi read.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from kaldiio.matio import write_array

from cifasr.data.audio import AudioError, CorruptAudioError, read_audio
from cifasr.data.kaldi_files import read_kaldi_entries
from cifasr.frontend.fbank import FbankConfig

logger = logging.getLogger(__name__)

ON_ERROR_CHOICES = ("fail", "skip")


class FbankDumpError(RuntimeError):
    """An utterance could not be turned into features; names wav.scp, the line and the key."""


@dataclass
class DumpReport:
    """Counts of one dump: utterances in and out, skipped ones by reason, audio and frames."""

    num_in: int = 0
    num_out: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)
    audio_seconds: float = 0.0
    frames: int = 0
    wall_seconds: float = 0.0

    def summary(self) -> str:
        """One line with every count."""
        parts = [f"{self.num_in} utterances in, {self.num_out} out"]
        parts += [f"{len(keys)} skipped ({reason})" for reason, keys in self.skipped.items()]
        parts.append(f"{self.audio_seconds:.1f} s of audio, {self.frames} frames")
        if self.wall_seconds > 0:
            parts.append(f"{self.audio_seconds / self.wall_seconds:.0f}x real time")
        return ", ".join(parts)


class _Bad(Exception):
    """A per-utterance failure with a short reason used for counting."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _features(entry: str, config: FbankConfig) -> tuple[np.ndarray, int]:
    """Features and sample count of one wav.scp value; raises :class:`_Bad`."""
    try:
        samples, rate = read_audio(entry)
    except CorruptAudioError as e:
        raise _Bad("corrupt audio", str(e)) from e
    except AudioError as e:
        raise _Bad("unreadable audio", str(e)) from e
    if rate != config.sample_rate:
        raise _Bad(
            "wrong sample rate",
            f"audio is {rate} Hz but the fbank config expects {config.sample_rate} Hz; resample "
            f"the corpus (e.g. sox in.wav -r {config.sample_rate} out.wav) or set --fs to {rate}",
        )
    if config.num_frames(samples.shape[0]) == 0:
        raise _Bad(
            "too short",
            f"audio has {samples.shape[0]} samples, fewer than one "
            f"{config.frame_length_ms:g} ms window ({config.window_samples} samples)",
        )
    return config.compute(samples), samples.shape[0]


def dump_fbank(
    wav_scp: str | Path,
    out_ark: str | Path,
    out_scp: str | Path,
    out_num_frames: str | Path | None = None,
    out_dur: str | Path | None = None,
    config: FbankConfig | None = None,
    on_error: str = "fail",
) -> DumpReport:
    """Compute fbank features of every utterance of ``wav_scp`` into one ark.

    Args:
        wav_scp: Kaldi wav.scp (``<utt> <path>`` or ``<utt> <command> |``).
        out_ark: ark file to write (replaced).
        out_scp: feats.scp to write; entries name ``out_ark`` exactly as given (relative paths
            stay relative to the directory the recipe runs in, as in Kaldi and ESPnet).
        out_num_frames: utt2num_frames to write (frames).
        out_dur: utt2dur to write (seconds, from the sample count).
        config: fbank settings (default :class:`FbankConfig`).
        on_error: "fail" raises on the first bad utterance; "skip" logs it, leaves it out of the
            outputs and counts it in the report.

    Raises:
        FbankDumpError: (with on_error="fail") missing/unreadable/corrupt (truncated) audio,
            another sample rate, audio shorter than one window; the message names wav.scp, the
            line and the key.
    """
    if on_error not in ON_ERROR_CHOICES:
        raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, got '{on_error}'")
    config = config or FbankConfig()
    report = DumpReport()
    start = time.perf_counter()
    entries = read_kaldi_entries(wav_scp)
    report.num_in = len(entries)
    scp_lines: list[str] = []
    frame_lines: list[str] = []
    dur_lines: list[str] = []
    ark_name = str(out_ark)
    with open(out_ark, "wb") as ark:
        for e in entries:
            try:
                feats, num_samples = _features(e.value, config)
            except _Bad as bad:
                message = f"{wav_scp}: line {e.line}: utterance '{e.key}': {bad}"
                if on_error == "fail":
                    raise FbankDumpError(
                        message + " (use --on_error skip to leave such utterances out)"
                    ) from bad
                logger.warning("skipping: %s", message)
                report.skipped.setdefault(bad.reason, []).append(e.key)
                continue
            ark.write(f"{e.key} ".encode())
            offset = ark.tell()
            write_array(ark, feats)
            scp_lines.append(f"{e.key} {ark_name}:{offset}\n")
            frame_lines.append(f"{e.key} {feats.shape[0]}\n")
            seconds = num_samples / config.sample_rate
            dur_lines.append(f"{e.key} {seconds:.6f}\n")
            report.num_out += 1
            report.frames += feats.shape[0]
            report.audio_seconds += seconds
    for path, lines in ((out_scp, scp_lines), (out_num_frames, frame_lines), (out_dur, dur_lines)):
        if path is not None:
            Path(path).write_text("".join(lines), encoding="utf-8")
    report.wall_seconds = time.perf_counter() - start
    logger.info("dump_fbank: %s: %s", wav_scp, report.summary())
    return report
