"""Normalisation and the clause filter: what is kept, what is dropped, and each drop counted."""

from __future__ import annotations

import pytest

from cifasr.corpus.clauses import ClauseStats, is_han, select_clauses, split_clauses


def test_clauses_are_cut_at_punctuation_and_kept_only_when_all_han() -> None:
    docs = [
        "迈向充满希望的新世纪——一九九八年新年讲话（附图片１张）",  # full-width digit: NFKC
        "１２月３１日，中共中央总书记发表新年讲话。",
        "他说：“好！”我们坚定不移地推进改革\t中国人民充满信心",
        "迈向充满希望的新世纪。",  # a repeat
        "Ｗｉｎｄｏｗｓ系统升级后电脑变慢了",  # Latin letters inside: dropped whole
        "一九九○年的冬天特别寒冷",  # ○ (a symbol, not 〇) inside: dropped whole, not cut
        "⼀个⼈在家",  # Kangxi radicals: NFKC makes them 一 and 人 (then too short)
        "这是一个很长很长很长很长很长很长很长的句子啊",  # 22 characters
    ]
    stats = ClauseStats()
    kept = select_clauses(docs, 8, 20, set(), stats)
    assert kept == [
        "迈向充满希望的新世纪",
        "一九九八年新年讲话",
        "中共中央总书记发表新年讲话",
        "我们坚定不移地推进改革",
        "中国人民充满信心",
    ]
    assert stats.as_dict() == {
        "documents": 8,
        "clauses": 14,
        "non_han": 4,
        "too_short": 3,
        "too_long": 1,
        "duplicates": 1,
        "kept": 5,
    }


def test_duplicates_are_found_across_calls_sharing_seen() -> None:
    seen: set[str] = set()
    a, b = ClauseStats(), ClauseStats()
    assert select_clauses(["甲乙丙丁戊己庚辛，壬癸子丑寅卯辰巳"], 8, 20, seen, a) == [
        "甲乙丙丁戊己庚辛",
        "壬癸子丑寅卯辰巳",
    ]
    assert select_clauses(["壬癸子丑寅卯辰巳。午未申酉戌亥"], 6, 20, seen, b) == ["午未申酉戌亥"]
    assert (b.duplicates, b.kept) == (1, 1)


def test_split_and_han_check() -> None:
    assert split_clauses("你好，世界！ 1998年\n再见") == ["你好", "世界", "1998年", "再见"]
    assert is_han("中国〇") and is_han("\U00020000") and not is_han("中国1") and not is_han("")


def test_bad_length_range_is_refused() -> None:
    with pytest.raises(ValueError, match="clause length range 9..8"):
        select_clauses(["中文"], 9, 8, set(), ClauseStats())
