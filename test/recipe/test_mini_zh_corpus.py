"""mini_zh corpus: egs2/mini_zh/asr1/local/data.sh at toy size, and the facts the recipe relies on.

The synthesis tests need espeak-ng (skipped without it); the grammar and audio tests do not.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cifasr.corpus import audio
from cifasr.corpus.mini_zh import grammar, lexicon
from cifasr.corpus.mini_zh.prepare import make_speakers, parse_snr, plan_corpus

REPO = Path(__file__).resolve().parents[2]
DATA_SH = REPO / "egs2" / "mini_zh" / "asr1" / "local" / "data.sh"
TOY = ["--num_train", "30", "--num_dev", "8", "--num_test", "8", "--nj", "2"]
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


def _run_data_sh(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        ["bash", str(DATA_SH), *TOY, "--python", sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _kaldi_map(path: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in path.read_text(encoding="utf-8").splitlines())


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A toy corpus made by the recipe's own local/data.sh."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng missing")
    d = tmp_path_factory.mktemp("mini_zh")
    proc = _run_data_sh(d)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return d


@needs_espeak
def test_kaldi_dirs_are_sorted_and_consistent(toy: Path) -> None:
    for split, n in (("train", 30), ("dev", 8), ("test", 8)):
        d = toy / "data" / split
        for name in ("wav.scp", "text", "utt2spk", "spk2utt"):
            lines = (d / name).read_text(encoding="utf-8").splitlines()
            # LC_ALL=C order is byte order.
            assert lines == sorted(lines, key=lambda s: s.encode()), f"{split}/{name} not sorted"
        utt2spk = _kaldi_map(d / "utt2spk")
        assert len(utt2spk) == n
        assert _kaldi_map(d / "text").keys() == utt2spk.keys() == _kaldi_map(d / "wav.scp").keys()
        spk2utt = {s: u.split() for s, u in _kaldi_map(d / "spk2utt").items()}
        assert {u: s for s, us in spk2utt.items() for u in us} == utt2spk
        assert all(u.startswith(s + "-") for u, s in utt2spk.items())


@needs_espeak
def test_template_text_corpus_is_the_train_text(toy: Path) -> None:
    """--text_source template (the default) has no text beyond its transcripts."""
    other = (toy / "data" / "local" / "other_text" / "text").read_text(encoding="utf-8")
    assert other == (toy / "data" / "train" / "text").read_text(encoding="utf-8")


@needs_espeak
def test_audio_is_16k_16bit_mono(toy: Path) -> None:
    for split in ("train", "dev", "test"):
        for path in _kaldi_map(toy / "data" / split / "wav.scp").values():
            info = sf.info(path)
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            assert 0.5 < info.duration < 12.0


@needs_espeak
def test_splits_have_distinct_sentences_and_unseen_test_speakers(toy: Path) -> None:
    splits = ("train", "dev", "test")
    texts = {s: set(_kaldi_map(toy / "data" / s / "text").values()) for s in splits}
    spks = {s: set(_kaldi_map(toy / "data" / s / "utt2spk").values()) for s in splits}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["dev"]
    assert not texts["dev"] & texts["test"]
    assert not spks["test"] & spks["train"] and not spks["dev"] & spks["train"]
    # Distinct speakers are distinct voices: test voice variants never occur in training.
    voices = {s: {sp.variant for sp in v} for s, v in make_speakers(seed=1).items()}
    assert not voices["test"] & voices["train"] and not voices["dev"] & voices["train"]


@needs_espeak
def test_transcripts_use_only_the_grammar_vocabulary(toy: Path) -> None:
    vocab = grammar.character_vocabulary()
    for split in ("train", "dev", "test"):
        for text in _kaldi_map(toy / "data" / split / "text").values():
            assert set(text) <= vocab, text
            assert grammar.MIN_CHARS <= len(text) <= grammar.MAX_CHARS


@needs_espeak
def test_rerun_does_nothing_and_same_seed_is_bit_identical(toy: Path, tmp_path: Path) -> None:
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in toy.rglob("*") if p.is_file()}
    proc = _run_data_sh(toy)
    assert proc.returncode == 0 and "nothing to do" in proc.stderr, proc.stderr
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in toy.rglob("*") if p.is_file()}
    assert after == before

    assert _run_data_sh(tmp_path).returncode == 0
    for split in ("train", "dev", "test"):
        a = _kaldi_map(toy / "data" / split / "wav.scp")
        b = _kaldi_map(tmp_path / "data" / split / "wav.scp")
        assert a.keys() == b.keys()
        assert all(Path(a[u]).read_bytes() == Path(b[u]).read_bytes() for u in a)
        assert (toy / "data" / split / "text").read_text() == (
            tmp_path / "data" / split / "text"
        ).read_text()


@needs_espeak
def test_changed_options_regenerate(toy: Path, tmp_path: Path) -> None:
    shutil.copytree(toy, tmp_path / "c")
    proc = _run_data_sh(tmp_path / "c", "--seed", "2", "--noise_snr", "none")
    assert proc.returncode == 0, proc.stderr
    old = set(_kaldi_map(toy / "data" / "train" / "text").values())
    new = set(_kaldi_map(tmp_path / "c" / "data" / "train" / "text").values())
    assert old != new
    # No stale wavs from the seed-1 corpus are left beside the new ones.
    listed = {
        Path(p).name
        for s in ("train", "dev", "test")
        for p in _kaldi_map(tmp_path / "c" / "data" / s / "wav.scp").values()
    }
    on_disk = {p.name for p in (tmp_path / "c" / "downloads" / "mini_zh").rglob("*.wav")}
    assert on_disk == listed


def test_bad_noise_option_names_the_option() -> None:
    with pytest.raises(ValueError, match="--noise_snr '40:20'"):
        parse_snr("40:20")
    assert parse_snr("none") is None and parse_snr("15:30") == (15.0, 30.0)


@functools.cache
def _default_sentences() -> list[grammar.Sentence]:
    """The sentences of the default-size corpus (text only: no synthesis)."""
    plan = plan_corpus(3000, 200, 200, seed=1)
    return [u.sentence for split in plan.values() for u in split]


def test_homophones_occur_with_the_shared_reading() -> None:
    """Each homophone set's members all occur, spoken with the set's syllable (tone included)."""
    said: Counter[tuple[str, str]] = Counter()
    for s in _default_sentences():
        assert len(s.pinyin) == len(s.text)
        said.update(zip(s.text, s.pinyin, strict=True))
    for syllable, chars in lexicon.HOMOPHONE_SETS:
        for c in chars:
            assert said[(c, syllable)] >= 5, f"{c} ({syllable}) occurs {said[(c, syllable)]} times"


def test_third_person_pronoun_agrees_with_its_antecedent() -> None:
    """他/她/它 all sound ta1: the sentence's antecedent is what tells them apart."""
    referents = [(p.word.text, p.pronoun) for p in lexicon.PEOPLE + lexicon.ANIMALS if p.pronoun]
    checked = 0
    for s in _default_sentences():
        if s.template not in ("t_pronoun_state", "t_pronoun_say", "t_pronoun_identity", "t_pet"):
            continue
        pron = [c for c in s.text if c in "他她它"]
        assert len(pron) == 1, s.text
        hits = [(s.text.find(w), p) for w, p in referents if w in s.text]
        if s.template == "t_pet":
            assert pron == ["它"], s.text
        else:
            assert hits and pron[0] == min(hits)[1], s.text
        checked += 1
    assert checked > 200


def test_yi_and_bu_take_their_sandhi_tones() -> None:
    """espeak-ng does not apply them, so the pinyin must: 一个 yi2, 一本 yi4, 不会 bu2."""
    seen: dict[str, set[str]] = {"一个": set(), "一本": set(), "不会": set()}
    for s in _default_sentences():
        for pair in seen:
            for m in re.finditer(pair, s.text):
                seen[pair].add(s.pinyin[m.start()])
    assert seen == {"一个": {"yi2"}, "一本": {"yi4"}, "不会": {"bu2"}}


def test_lexicon_entries_are_checked() -> None:
    with pytest.raises(ValueError, match="lexicon.py: entry '学校 xue2'"):
        lexicon.parse_word("学校 xue2")


def test_every_defined_word_is_reachable_and_vocabulary_is_small() -> None:
    """No dead lexicon entries, and a character set a small model can learn."""
    vocab = grammar.character_vocabulary()
    used = {c for s in _default_sentences() for c in s.text}
    assert used == vocab
    assert 300 <= len(vocab) <= 600


def test_same_seed_same_sentences_other_seed_other_sentences() -> None:
    a = [s.text for s in grammar.generate_sentences(50, seed=7)]
    assert a == [s.text for s in grammar.generate_sentences(50, seed=7)]
    assert a != [s.text for s in grammar.generate_sentences(50, seed=8)]
    assert len(set(a)) == 50


def test_dev_and_test_do_not_depend_on_train_size() -> None:
    small, big = plan_corpus(10, 5, 5, seed=3), plan_corpus(100, 5, 5, seed=3)
    for split in ("dev", "test"):
        assert [u.sentence for u in small[split]] == [u.sentence for u in big[split]]


def test_resample_matches_the_analytic_signal() -> None:
    sr_in, n = 22050, 22050 * 2 + 17
    t = np.arange(n) / sr_in
    x = np.sin(2 * np.pi * 1000 * t) * np.hanning(n)
    y = audio.resample(x, sr_in, 16000)
    assert len(y) == -(-n * 16000 // sr_in)
    t2 = np.arange(len(y)) / 16000
    ref = np.sin(2 * np.pi * 1000 * t2) * np.interp(t2, t, np.hanning(n))
    np.testing.assert_allclose(y, ref, atol=1e-6)
    # A tone above the new Nyquist frequency is removed, not folded back.
    alias = audio.resample(np.sin(2 * np.pi * 10000 * t) * np.hanning(n), sr_in, 16000)
    assert np.abs(alias).max() < 1e-6


@pytest.mark.parametrize("color", ["white", "pink"])
def test_noise_is_added_at_the_requested_snr(color: str) -> None:
    sr = 16000
    speech = np.concatenate([np.zeros(8000), np.sin(np.arange(16000) * 0.3) * 1000, np.zeros(8000)])
    noisy = audio.add_noise(speech, sr, 20.0, np.random.default_rng(0), color)
    snr = 10 * np.log10(audio.active_power(speech, sr) / np.mean((noisy - speech) ** 2))
    assert abs(snr - 20.0) < 1e-6
    again = audio.add_noise(speech, sr, 20.0, np.random.default_rng(0), color)
    np.testing.assert_array_equal(noisy, again)


def test_data_sh_rejects_an_unknown_option(tmp_path: Path) -> None:
    proc = _run_data_sh(tmp_path, "--num_trian", "5")
    assert proc.returncode == 1 and "--num_trian" in proc.stderr
    assert not (tmp_path / "data").exists()


@needs_espeak
def test_data_sh_rejects_an_unknown_text_source(tmp_path: Path) -> None:
    proc = _run_data_sh(tmp_path, "--text_source", "wiki")
    assert proc.returncode != 0
    assert "--text_source: invalid choice: 'wiki' (choose from 'news', 'template')" in proc.stderr
    assert not (tmp_path / "data").exists()
