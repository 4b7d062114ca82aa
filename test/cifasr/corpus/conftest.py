"""Tiny stand-ins of the registry packages, in their real formats, for the corpus tests."""

from __future__ import annotations

import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import pytest

from cifasr.corpus.fetch import PackageFile, sha256_of
from cifasr.corpus.text_sources import (
    TextSource,
    _text,
    read_inews_pickle,
    read_plain_lines,
    read_tagged_text,
)

# People's Daily format: word/tag tokens, two spaces apart, one paragraph a line.
TAGGED = (
    "迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  ——/w  一九九八年/t  新年/t  讲话/n  （/w  附/v  "
    "图片/n  １/m  张/q  ）/w\n"
    "\n"
    "１２月/t  ３１日/t  ，/w  中共中央/nt  总书记/n  发表/v  新年/t  讲话/n  。/w\n"
    "我们/r  坚定/a  不/d  移/v  地/u  推进/v  改革/vn  ，/w  "
    "中国/ns  人民/n  充满/v  信心/n  。/w\n"
    "迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  。/w\n"
)
# inews format: a pickle of (titles, contents, labels).
INEWS = (
    ["北京今天迎来入冬第一场雪", "新能源汽车销量持续增长"],
    [
        "气象台发布寒潮蓝色预警信号，市民出行注意安全。本市各区学校照常上课。",
        "今年前十个月，新能源汽车销量同比增长三成，充满希望的新世纪。名字里有个生僻字\U00020000要查",
    ],
    [1, 2],
)
REVIEWS = "这本书写得非常精彩值得一读\n物流很快包装也很好\n这本书写得非常精彩值得一读\n"


def make_tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def make_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


@pytest.fixture
def fixture_sources(tmp_path: Path) -> tuple[Path, tuple[TextSource, ...]]:
    """(download dir holding a tiny sdist and wheel, the sources that read them)."""
    downloads = tmp_path / "packages"
    downloads.mkdir()
    make_tar(
        downloads / "pd-1.0.tar.gz",
        {
            "pd-1.0/tag/199801.txt": TAGGED.encode(),
            "pd-1.0/sentiment/pos.txt": REVIEWS.encode(),
        },
    )
    make_zip(
        downloads / "inews-1.0-py3-none-any.whl",
        {"inews/train.pkl": pickle.dumps(INEWS, protocol=3)},
    )
    sdist = PackageFile("pd==1.0", "pd-1.0.tar.gz", sha256_of(downloads / "pd-1.0.tar.gz"))
    wheel = PackageFile(
        "inews==1.0",
        "inews-1.0-py3-none-any.whl",
        sha256_of(downloads / "inews-1.0-py3-none-any.whl"),
    )
    sources = (
        TextSource(
            "peoples_daily", sdist, ("pd-1.0/tag/199801.txt",), _text(read_tagged_text), news=True
        ),
        TextSource("inews", wheel, ("inews/train.pkl",), read_inews_pickle, news=True),
        TextSource(
            "reviews", sdist, ("pd-1.0/sentiment/pos.txt",), _text(read_plain_lines), news=False
        ),
    )
    return downloads, sources
