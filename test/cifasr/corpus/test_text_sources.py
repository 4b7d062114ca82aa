"""Readers of the registry packages' text: POS-tagged lines, inews pickles, archive members."""

from __future__ import annotations

import collections
import os
import pickle
from pathlib import Path

import pytest

from cifasr.corpus.text_sources import (
    decode_utf8,
    read_source,
    safe_unpickle,
    strip_pos_tags,
)


def test_tagged_and_pickled_sources_read_as_documents(fixture_sources) -> None:
    downloads, (pd, inews, reviews) = fixture_sources
    assert read_source(pd, downloads / pd.package.filename) == [
        "迈向充满希望的新世纪——一九九八年新年讲话（附图片１张）",
        "１２月３１日，中共中央总书记发表新年讲话。",
        "我们坚定不移地推进改革，中国人民充满信心。",
        "迈向充满希望的新世纪。",
    ]
    assert read_source(inews, downloads / inews.package.filename) == [
        "北京今天迎来入冬第一场雪",
        "新能源汽车销量持续增长",
        "气象台发布寒潮蓝色预警信号，市民出行注意安全。本市各区学校照常上课。",
        "今年前十个月，新能源汽车销量同比增长三成，充满希望的新世纪。名字里有个生僻字\U00020000要查",
    ]
    assert read_source(reviews, downloads / reviews.package.filename) == [
        "这本书写得非常精彩值得一读",
        "物流很快包装也很好",
        "这本书写得非常精彩值得一读",
    ]


def test_a_token_without_tag_names_its_line() -> None:
    with pytest.raises(ValueError, match=r"199801.txt line 3: token '中国' is not 'word/tag'"):
        strip_pos_tags("中国  人民/n", "199801.txt line 3")


def test_a_missing_member_names_the_archive(fixture_sources) -> None:
    downloads, (pd, *_) = fixture_sources
    with pytest.raises(FileNotFoundError, match=r"pd-1.0.tar.gz has no file nope.txt"):
        read_source(
            pd.__class__(pd.name, pd.package, ("nope.txt",), pd.reader, True),
            downloads / pd.package.filename,
        )


def test_non_utf8_text_names_the_file_and_offset() -> None:
    with pytest.raises(ValueError, match=r"199801.txt is not UTF-8 \(byte 3: invalid start byte"):
        decode_utf8("中".encode() + "国".encode("gbk"), "199801.txt")


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_the_unpickler_refuses_every_global() -> None:
    # Plain data loads.
    plain = (["标题"], ["内容"], [1])
    assert safe_unpickle(pickle.dumps(plain), "x.pkl") == plain
    # A callable that would run on load, and a harmless class: both refused, nothing runs.
    for obj in (_Boom(), collections.OrderedDict(a=1)):
        with pytest.raises(ValueError, match=r"x.pkl: not a plain-data pickle \(refused global"):
            safe_unpickle(pickle.dumps(obj), "x.pkl")


def test_inews_pickle_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    from cifasr.corpus.text_sources import read_inews_pickle

    with pytest.raises(ValueError, match="three equally long lists"):
        read_inews_pickle(pickle.dumps((["a"], ["b", "c"], [1])), "train.pkl")
    with pytest.raises(ValueError, match="train.pkl: item 1 is int, not str"):
        read_inews_pickle(pickle.dumps((["a"], [2], [1])), "train.pkl")
