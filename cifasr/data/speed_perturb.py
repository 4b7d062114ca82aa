"""Stage 2: Kaldi-style speed perturbation of a data directory.

The audio is not written out: each wav.scp entry becomes a sox pipe (as in Kaldi's
``perturb_data_dir_speed.sh``, plus sox's repeatable mode), resampled when the features are
computed. Utterance and speaker
ids get the prefix ``sp<factor>-`` (``sp0.9-BAC009S0002W0122``, speaker ``sp0.9-S0002``), so the
perturbed copies of a speaker stay together when sorted and never collide with each other.
"""

from __future__ import annotations

import logging
import shlex
import shutil
from pathlib import Path

from cifasr.data.datadir import DataDirError, copy_data_dir
from cifasr.data.kaldi_files import read_kaldi_map, write_kaldi_map

logger = logging.getLogger(__name__)


def speed_prefix(factor: float | str) -> str:
    """``"sp0.9-"`` for 0.9: the factor as written by the user (``1.0`` stays ``1.0``)."""
    return f"sp{factor}-"


def perturbed_entry(entry: str, factor: float | str) -> str:
    """The wav.scp value that plays ``entry`` at ``factor`` times the speed.

    A path becomes ``sox -R -t wav <path> -t wav - speed <f> |``; a command ``cmd |`` becomes
    ``cmd sox -R -t wav - -t wav - speed <f> |``. Factor 1.0 leaves the entry unchanged. ``-R``
    (repeatable) seeds sox's dither, which it otherwise draws anew on every run, so re-running
    the feature dump gives the same features.
    """
    if float(factor) == 1.0:
        return entry
    entry = entry.strip()
    if entry.endswith("|"):
        return f"{entry} sox -R -t wav - -t wav - speed {factor} |"
    return f"sox -R -t wav {shlex.quote(entry)} -t wav - speed {factor} |"


def perturb_data_dir_speed(factor: float | str, src: str | Path, dest: str | Path) -> int:
    """Copy ``src`` to ``dest`` with ids prefixed ``sp<factor>-`` and wav.scp played faster.

    Args:
        factor: speed factor, e.g. 0.9 (slower, longer) or 1.1; pass it as a string to keep
            its spelling in the ids ("1.0" rather than "1").
        src: a data directory with wav.scp and utt2spk (no features: they are recomputed).
        dest: destination directory (replaced).

    Raises:
        DataDirError: ``src`` has feats.scp only (nothing to perturb), factor <= 0, or sox is
            missing while a factor other than 1.0 is requested.

    Returns:
        Number of utterances written.
    """
    if float(factor) <= 0:
        raise DataDirError(f"perturb_data_dir_speed: speed factor must be positive, got {factor}")
    src, dest = Path(src), Path(dest)
    if not (src / "wav.scp").is_file():
        raise DataDirError(f"{src}/wav.scp: missing; speed perturbation works on audio")
    if float(factor) != 1.0 and shutil.which("sox") is None:
        raise DataDirError(
            "perturb_data_dir_speed: sox is not installed (apt-get install sox, or "
            "tools/setup.sh); or run without speed perturbation (--speed_perturb_factors '')"
        )
    prefix = speed_prefix(factor)
    num = copy_data_dir(src, dest, utt_prefix=prefix, spk_prefix=prefix)
    wav = read_kaldi_map(dest / "wav.scp")
    write_kaldi_map(dest / "wav.scp", {k: perturbed_entry(v, factor) for k, v in wav.items()})
    # Features and durations of the source no longer apply to the perturbed audio.
    stale = ["feats.scp", "utt2num_frames", "utt2num_samples", "feats_type", "fbank.yaml"]
    for name in stale:
        (dest / name).unlink(missing_ok=True)
    if (dest / "utt2dur").is_file():
        dur = read_kaldi_map(dest / "utt2dur")
        write_kaldi_map(
            dest / "utt2dur", {k: f"{float(v) / float(factor):.6f}" for k, v in dur.items()}
        )
    logger.info(
        "perturb_data_dir_speed: %s -> %s: %d utterances at speed %s", src, dest, num, factor
    )
    return num
