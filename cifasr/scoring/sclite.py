"""Find and run NIST sclite the way ESPnet's stage 13 does."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

logger = logging.getLogger(__name__)

# Debian/Ubuntu's `sctk` package installs sclite here, off PATH.
SCLITE_FALLBACKS = (Path("/usr/lib/sctk/bin/sclite"),)


def find_sclite() -> str | None:
    """Path of an executable sclite: on PATH first, then the Debian ``sctk`` location."""
    found = shutil.which("sclite")
    if found:
        return found
    for candidate in SCLITE_FALLBACKS:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def run_sclite(sclite: str, workdir: str | Path, ref: str = "ref.trn", hyp: str = "hyp.trn") -> str:
    """Run ``sclite -r REF trn -h HYP trn -i rm -o all stdout`` inside ``workdir``.

    The trn paths are passed relative to ``workdir`` so the system name in the report is
    ``hyp.trn`` wherever the experiment lives (and equals the built-in scorer's). Returns
    sclite's stdout; a non-zero exit raises ``RuntimeError`` with sclite's stderr.
    """
    cmd = [sclite, "-r", ref, "trn", "-h", hyp, "trn", "-i", "rm", "-o", "all", "stdout"]
    proc = subprocess.run(
        cmd,
        cwd=workdir,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"sclite failed (exit {proc.returncode}) in {workdir}: {' '.join(cmd)}\n{proc.stderr}"
        )
    if proc.stderr.strip():
        # sclite reports some input problems on stderr and still exits 0.
        logger.warning("sclite: %s", proc.stderr.strip())
    return proc.stdout
