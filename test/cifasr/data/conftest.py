"""Fixtures of the data tests: 16-bit wav files, Kaldi data directories, the fake corpus.

The suite runs in pytest's importlib mode, where a test cannot import a sibling module, so the
helpers are handed out as fixtures.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf

RECIPE_TESTS = Path(__file__).resolve().parents[2] / "recipe"


def _write_wav(path: Path, num_samples: int, rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Write a 16-bit wav; returns the samples as they read back (float32 in [-1, 1])."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_samples) / rate
    wave = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 400) * t) + 0.02 * rng.standard_normal(
        num_samples
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave.astype(np.float32), rate, subtype="PCM_16")
    return sf.read(path, dtype="float32")[0]


def _make_wav_data_dir(
    root: Path, lengths: dict[str, int], texts: dict[str, str] | None = None
) -> Path:
    """A data directory ``root/data`` with one wav per utterance (speaker = id before '-')."""
    d = root / "data"
    d.mkdir(parents=True, exist_ok=True)
    wav, utt2spk = [], []
    for i, (utt, n) in enumerate(sorted(lengths.items())):
        path = root / "wav" / f"{utt}.wav"
        _write_wav(path, n, seed=i)
        wav.append(f"{utt} {path}\n")
        utt2spk.append(f"{utt} {utt.split('-')[0]}\n")
    (d / "wav.scp").write_text("".join(wav))
    (d / "utt2spk").write_text("".join(utt2spk))
    spk2utt: dict[str, list[str]] = {}
    for utt in sorted(lengths):
        spk2utt.setdefault(utt.split("-")[0], []).append(utt)
    (d / "spk2utt").write_text("".join(f"{s} {' '.join(u)}\n" for s, u in sorted(spk2utt.items())))
    if texts is not None:
        text = "".join(f"{u} {t}\n" for u, t in sorted(texts.items()))
        (d / "text").write_text(text, encoding="utf-8")
    return d


@pytest.fixture(scope="session")
def write_wav() -> Callable[..., np.ndarray]:
    """``write_wav(path, num_samples, rate=16000, seed=0)``: a 16-bit wav; returns its samples."""
    return _write_wav


@pytest.fixture(scope="session")
def make_wav_data_dir() -> Callable[..., Path]:
    """``make_wav_data_dir(root, {utt: num_samples}, texts=None)``: ``root/data`` with wavs."""
    return _make_wav_data_dir


@pytest.fixture(scope="session")
def fake_aishell_module() -> ModuleType:
    """test/recipe/make_fake_aishell.py, loaded by path (test directories are not packages)."""
    spec = importlib.util.spec_from_file_location(
        "make_fake_aishell", RECIPE_TESTS / "make_fake_aishell.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the module executes.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def feats(tmp_path: Path) -> dict[str, np.ndarray]:
    """Seven random (20 + 7i, 5) float32 matrices u0..u6 written to tmp_path/feats.{ark,scp}."""
    import kaldiio

    rng = np.random.default_rng(0)
    mats = {
        f"u{i}": (rng.standard_normal((20 + 7 * i, 5)) * 3 + 10).astype(np.float32)
        for i in range(7)
    }
    kaldiio.save_ark(str(tmp_path / "feats.ark"), mats, scp=str(tmp_path / "feats.scp"))
    return mats
