"""Stage 4: drop training/validation utterances the model cannot or should not learn from.

Reasons, checked in this order (an utterance is counted under the first that applies):

1. ``too short``: duration below ``min_duration`` seconds;
2. ``too long``: duration above ``max_duration`` seconds;
3. ``empty text``: an empty or whitespace-only transcript;
4. ``text too long``: more output tokens (plus one for ``<sos/eos>``, which CIF and CTC targets
   include) than encoder frames, ``(num_frames - 1) // subsampling_factor``. CTC cannot align
   such a target and CIF would have to fire more than once per frame. For the original encoder
   (a stride-2 3x3 convolution without padding, then two 2x max-poolings) this is its exact
   output length: floor(floor(floor((T - 1) / 2) / 2) / 2) = floor((T - 1) / 8).

Tokens are counted as non-space characters: exact for ``token_type: char``, an estimate for BPE
(the BPE model is built after this stage, in stage 5).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from cifasr.data.datadir import DataDirError, subset_data_dir
from cifasr.data.kaldi_files import read_kaldi_map, read_utt2spk, write_kaldi_map

logger = logging.getLogger(__name__)

# Written into the destination: every dropped key with its reason, for auditing.
DROPPED_FILE = ".filtered"


@dataclass
class FilterReport:
    """Utterances in, out, and dropped keys by reason."""

    num_in: int = 0
    num_out: int = 0
    dropped: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line with every count (zero counts included, so the log shows each check ran)."""
        parts = [f"{self.num_in} utterances in, {self.num_out} out"]
        parts += [f"{len(keys)} {reason}" for reason, keys in self.dropped.items()]
        return "; ".join(parts)


def count_tokens(text: str) -> int:
    """Output tokens of a transcript for the length check: its non-space characters."""
    return sum(1 for c in text if not c.isspace())


def filter_data_dir(
    src: str | Path,
    dest: str | Path,
    min_duration: float = 0.1,
    max_duration: float = 20.0,
    subsampling_factor: int = 8,
    check_text: bool = True,
) -> FilterReport:
    """Copy ``src`` to ``dest`` without the utterances that fail a check (see module doc).

    Args:
        src: a data directory with utt2dur (seconds) and, for the text checks, text and
            utt2num_frames (as stage 3 writes them).
        dest: destination (replaced); ``dest/.filtered`` lists each dropped key and its reason.
        min_duration: shortest kept utterance in seconds.
        max_duration: longest kept utterance in seconds (<= 0: no limit).
        subsampling_factor: total frame subsampling of the encoder (8 for the original model);
            0 disables the text-length check.
        check_text: apply the two text checks (needs ``text``).

    Returns:
        A :class:`FilterReport`; its summary is logged.
    """
    src, dest = Path(src), Path(dest)
    needed = ["utt2spk", "utt2dur"]
    if check_text:
        needed += ["text"] + (["utt2num_frames"] if subsampling_factor > 0 else [])
    for name in needed:
        if not (src / name).is_file():
            raise DataDirError(
                f"{src}/{name}: missing; the length filter needs it (stage 3 writes it)"
            )
    utts = list(read_utt2spk(src / "utt2spk"))
    tables = {name: read_kaldi_map(src / name) for name in needed[2:]}
    tables["utt2dur"] = read_kaldi_map(src / "utt2dur")
    for name, table in tables.items():
        missing = [u for u in utts if u not in table]
        if missing:
            raise DataDirError(
                f"{src}/{name}: {len(missing)} utterance(s) of utt2spk missing, e.g. "
                f"'{missing[0]}'; run utils/fix_data_dir.sh {src}"
            )
    dur = tables["utt2dur"]
    text = tables.get("text", {})
    frames = tables.get("utt2num_frames", {})
    reasons = [
        f"too short (< {min_duration:g} s)",
        f"too long (> {max_duration:g} s)",
        "empty text",
        f"text too long (tokens + 1 > (frames - 1) // {subsampling_factor})",
    ]
    report = FilterReport(num_in=len(utts), dropped={r: [] for r in reasons})
    kept: list[str] = []
    for utt in utts:
        seconds = float(dur[utt])
        reason = None
        if seconds < min_duration:
            reason = reasons[0]
        elif max_duration > 0 and seconds > max_duration:
            reason = reasons[1]
        elif check_text and not text[utt].strip():
            reason = reasons[2]
        elif check_text and subsampling_factor > 0:
            encoder_frames = (int(frames[utt]) - 1) // subsampling_factor
            if count_tokens(text[utt]) + 1 > encoder_frames:
                reason = reasons[3]
        if reason is None:
            kept.append(utt)
        else:
            report.dropped[reason].append(utt)
    if not check_text:
        for r in reasons[2:]:
            report.dropped.pop(r)
    elif subsampling_factor <= 0:
        report.dropped.pop(reasons[3])
    report.num_out = subset_data_dir(src, dest, kept)
    write_kaldi_map(
        dest / DROPPED_FILE,
        [(utt, reason) for reason, keys in report.dropped.items() for utt in keys],
    )
    level = logging.WARNING if report.num_out < report.num_in else logging.INFO
    logger.log(level, "filter: %s -> %s: %s", src, dest, report.summary())
    return report
