"""The news text source end to end on tiny packages in the real formats: clause counts, the
pronounceability filter, the seeded split, and a text corpus without any dev/test sentence."""

from __future__ import annotations

import shutil

import pytest

from cifasr.corpus.mini_zh.news import (
    build_news_corpus,
    draw_splits,
    exclude_held_out,
    sentence_pinyin,
)
from cifasr.corpus.mini_zh.prepare import plan_corpus

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")

PD = [
    "迈向充满希望的新世纪",
    "一九九八年新年讲话",
    "中共中央总书记发表新年讲话",
    "我们坚定不移地推进改革",
    "中国人民充满信心",
]
INEWS = [
    "北京今天迎来入冬第一场雪",
    "新能源汽车销量持续增长",
    "气象台发布寒潮蓝色预警信号",
    "市民出行注意安全",
    "本市各区学校照常上课",
    "新能源汽车销量同比增长三成",
    "充满希望的新世纪",
    "名字里有个生僻字\U00020000要查",
]
REVIEWS = ["这本书写得非常精彩值得一读", "物流很快包装也很好"]


def _build(fixture_sources, seed: int = 1, num_train: int = 4):
    downloads, sources = fixture_sources
    return build_news_corpus(downloads, num_train, 2, 2, seed, 8, 20, sources)


@needs_espeak
def test_counts_of_every_step(fixture_sources) -> None:
    st = _build(fixture_sources).stats
    assert st["sources"] == {
        "peoples_daily": {
            "news": True,
            "documents": 4,
            "clauses": 8,
            "non_han": 2,
            "too_short": 0,
            "too_long": 0,
            "duplicates": 1,
            "kept": 5,
        },
        "inews": {
            "news": True,
            "documents": 4,
            "clauses": 9,
            "non_han": 0,
            "too_short": 1,
            "too_long": 0,
            "duplicates": 0,
            "kept": 8,
        },
        "reviews": {
            "news": False,
            "documents": 3,
            "clauses": 3,
            "non_han": 0,
            "too_short": 0,
            "too_long": 0,
            "duplicates": 1,
            "kept": 2,
        },
    }
    p = st["pronounceable"]
    assert (p["pool_in"], p["dropped"], p["pool"]) == (13, 1, 12)
    assert p["dropped_by_char"] == {"\U00020000": 1}
    assert {s: st["asr"][s]["sentences"] for s in ("test", "dev", "train")} == {
        "test": 2,
        "dev": 2,
        "train": 4,
    }
    assert st["text_corpus"]["clauses_in"] == 15
    assert st["text_corpus"]["dropped_equal_dev_test"] == 4


@needs_espeak
def test_no_dev_or_test_sentence_in_train_or_in_the_text_corpus(fixture_sources) -> None:
    corpus = _build(fixture_sources)
    text = {s: [x.text for x in corpus.splits[s]] for s in ("test", "dev", "train")}
    news_pool = set(PD + INEWS[:-1])  # the clause with U+20000 cannot be said
    assert set(text["test"] + text["dev"] + text["train"]) <= news_pool
    assert len(set(text["test"] + text["dev"] + text["train"])) == 8
    held = set(text["test"] + text["dev"])
    # Brute force: every kept clause of every source, less those equal to or containing one.
    expected = [c for c in PD + INEWS + REVIEWS if not any(h in c for h in held)]
    assert sorted(c for _, c in corpus.text_corpus) == sorted(expected)
    ids = [i for i, _ in corpus.text_corpus]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    where = {c: i for i, c in corpus.text_corpus}
    for source, clauses in (("peoples_daily", PD), ("inews", INEWS), ("reviews", REVIEWS)):
        for n, c in enumerate(clauses, 1):
            assert where.get(c, f"{source}-{n:07d}") == f"{source}-{n:07d}"
    # The train sentences stay in the text corpus.
    assert set(text["train"]) <= set(where)


@needs_espeak
def test_same_seed_same_corpus_and_dev_test_do_not_depend_on_train_size(fixture_sources) -> None:
    a, b = _build(fixture_sources), _build(fixture_sources)
    assert a.splits == b.splits and a.text_corpus == b.text_corpus
    c = _build(fixture_sources, seed=2)
    assert [s.text for s in c.splits["test"]] != [s.text for s in a.splits["test"]]
    d = _build(fixture_sources, num_train=6)
    assert d.splits["test"] == a.splits["test"] and d.splits["dev"] == a.splits["dev"]


@needs_espeak
def test_sentences_carry_espeak_readings_and_the_bu_sandhi(fixture_sources) -> None:
    corpus = _build(fixture_sources, num_train=8)
    every = {s.text: s for split in corpus.splits.values() for s in split}
    s = every["我们坚定不移地推进改革"]
    assert s.pinyin == (
        "wo3",
        "men5",
        "jian1",
        "ding4",
        "bu4",
        "yi2",
        "de5",
        "tui1",
        "jin4",
        "gai3",
        "ge2",
    )
    assert s.tts == " ".join(s.pinyin) and s.template == "peoples_daily"
    assert sentence_pinyin("不要不会", {"不": "bu4", "要": "yao4", "会": "hui4"}) == (
        "bu2",
        "yao4",
        "bu2",
        "hui4",
    )


def test_too_small_a_pool_is_an_error_naming_the_sizes() -> None:
    with pytest.raises(ValueError, match="5 ASR sentences asked for .* pool has only 4: ask"):
        draw_splits(["甲", "乙", "丙", "丁"], {"train": 3, "dev": 1, "test": 1}, seed=1)


def test_train_skips_sentences_that_quote_a_held_out_one() -> None:
    pool = ["甲乙", "丙丁", "戊己", "庚辛", "甲乙丙", "丙丁戊", "壬癸"]
    drawn, skipped = draw_splits(pool, {"train": 4, "dev": 1, "test": 1}, seed=5)
    # Seed 5 holds out 甲乙丙 and 丙丁: 丙丁戊 quotes 丙丁, so train cannot take it.
    assert (drawn["test"], drawn["dev"], skipped) == (["甲乙丙"], ["丙丁"], 1)
    assert sorted(drawn["train"]) == sorted(["甲乙", "戊己", "庚辛", "壬癸"])
    with pytest.raises(ValueError, match=r"only 7 \(1 quote a dev/test sentence\)"):
        draw_splits(pool, {"train": 5, "dev": 1, "test": 1}, seed=5)


def test_held_out_sentences_and_clauses_quoting_them_leave_the_text_corpus() -> None:
    clauses = [
        ("a-1", "今天天气很好"),
        ("a-2", "他说今天天气很好啊"),
        ("a-3", "明天下雨"),
        ("b-1", "天气很"),
    ]
    kept, equal, containing = exclude_held_out(clauses, {"今天天气很好", "不在语料里"})
    assert kept == [("a-3", "明天下雨"), ("b-1", "天气很")] and (equal, containing) == (1, 1)


def test_plan_uses_the_given_sentences_and_checks_their_number() -> None:
    from cifasr.corpus.mini_zh.grammar import Sentence

    def sents(n: int, tag: str) -> list[Sentence]:
        return [Sentence(f"句子{tag}{i}", ("ju4", "zi5"), "ju4 zi5", "news") for i in range(n)]

    given = {"train": sents(3, "训"), "dev": sents(1, "验"), "test": sents(1, "测")}
    plan = plan_corpus(3, 1, 1, seed=1, sentences=given)
    for split in ("train", "dev", "test"):
        assert sorted(u.sentence.text for u in plan[split]) == sorted(s.text for s in given[split])
    with pytest.raises(ValueError, match="1 dev sentences given for --num_dev=2"):
        plan_corpus(3, 2, 1, seed=1, sentences=given)
