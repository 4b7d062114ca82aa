"""Kaldi "key value" files (text, wav.scp, utt2spk, feats.scp, utt2num_frames ...): the one reader.

One line per key: ``<key><whitespace><value>``. Keys have no whitespace; a value may be empty
only where a file allows it (``text``). Files are written LC_ALL=C-sorted by key: for UTF-8,
Python's code-point order of ``str`` equals the byte order that ``LC_ALL=C sort`` uses.

Every Kaldi file of the toolkit is read here; what differs between kinds is an option of the one
reader (:func:`read_kaldi_entries`):

- ``text`` (and decoders' hypotheses): :func:`read_text`; a transcript may be empty.
- ``utt2spk``: :func:`read_utt2spk`; exactly one speaker id per utterance.
- ``spk2utt``: :func:`read_kaldi_map`; the value lists the speaker's utterances.
- ``wav.scp``, ``feats.scp``, ``utt2dur``, ``utt2num_frames``: :func:`read_kaldi_map`, or
  :func:`read_kaldi_entries` to keep line numbers; a value is required.
- ``tokens.txt``: :func:`cifasr.data.tokenizer.load_token_list`, whose ``TokenListError`` is a
  :class:`KaldiFileError`.

Every problem raises :class:`KaldiFileError` naming the file, the line number and the key, so a
user can open the file at that line (a missing file is the usual ``FileNotFoundError``).
:func:`scan_kaldi_file` never raises on content: it returns the problems, for tools that repair
(fix_data_dir), list everything at once (validate_data_dir) or drop and count (the AISHELL
transcript).

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "utt2spk")
>>> write_kaldi_map(p, {"b": "s1", "a": "s1"})
>>> read_kaldi_map(p)
{'a': 's1', 'b': 's1'}
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Files whose value may be empty: a transcript can be empty (the filter stage drops it).
EMPTY_VALUE_OK = frozenset({"text"})
# Files whose value is one field: a speaker id has no whitespace (spk2utt would split it).
ONE_FIELD_VALUE = frozenset({"utt2spk"})


class KaldiFileError(ValueError):
    """A Kaldi file (or ``tokens.txt``) is malformed; the message names the file, the line and
    the key, as ``<file>: line <n>: ...``."""


@dataclass
class Entry:
    """One parsed line: key, value and 1-based line number."""

    key: str
    value: str
    line: int


@dataclass
class Problem:
    """One malformed line. ``kind`` is one of: empty_line, not_utf8, empty_value, fields,
    duplicate, unsorted."""

    kind: str
    line: int
    key: str
    message: str


@dataclass
class ScanResult:
    """Entries of a file in file order (duplicates after the first are not included) and the
    problems found."""

    path: Path
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def count(self, kind: str) -> int:
        """Number of problems of one kind."""
        return sum(1 for p in self.problems if p.kind == kind)

    def as_dict(self) -> dict[str, str]:
        """key -> value in file order."""
        return {e.key: e.value for e in self.entries}


def _split_line(raw: str) -> tuple[str, str]:
    parts = raw.split(maxsplit=1)
    key = parts[0]
    value = parts[1].strip() if len(parts) > 1 else ""
    return key, value


def scan_kaldi_file(
    path: str | Path, allow_empty_value: bool | None = None, one_field: bool | None = None
) -> ScanResult:
    """Parse a Kaldi key-value file, collecting problems instead of raising.

    Args:
        path: the file.
        allow_empty_value: whether a key without a value is acceptable; by default only for
            files named ``text``.
        one_field: whether the value must be a single whitespace-free field; by default only for
            files named ``utt2spk``.

    Returns:
        A :class:`ScanResult`. The first occurrence of a duplicated key is kept. Lines that are
        not valid UTF-8 or are empty are reported and skipped.
    """
    path = Path(path)
    if allow_empty_value is None:
        allow_empty_value = path.name in EMPTY_VALUE_OK
    if one_field is None:
        one_field = path.name in ONE_FIELD_VALUE
    result = ScanResult(path)
    first_line: dict[str, int] = {}
    previous_key: str | None = None
    with open(path, "rb") as f:
        for lineno, raw_bytes in enumerate(f, start=1):
            try:
                raw = raw_bytes.decode("utf-8")
            except UnicodeDecodeError as e:
                fields = raw_bytes.split(maxsplit=1)
                bad_key = fields[0].decode("utf-8", "replace") if fields else ""
                result.problems.append(
                    Problem(
                        "not_utf8",
                        lineno,
                        bad_key,
                        f"{path}: line {lineno} (key '{bad_key}') is not valid UTF-8 "
                        f"(byte 0x{raw_bytes[e.start]:02x} at column {e.start + 1}); convert the "
                        f"file to UTF-8, e.g. iconv -f GBK -t UTF-8",
                    )
                )
                continue
            if not raw.strip():
                result.problems.append(
                    Problem("empty_line", lineno, "", f"{path}: line {lineno} is empty")
                )
                continue
            key, value = _split_line(raw)
            if not value and not allow_empty_value:
                result.problems.append(
                    Problem(
                        "empty_value",
                        lineno,
                        key,
                        f"{path}: line {lineno}: key '{key}' has no value",
                    )
                )
                continue
            if one_field and len(value.split()) > 1:
                result.problems.append(
                    Problem(
                        "fields",
                        lineno,
                        key,
                        f"{path}: line {lineno}: key '{key}' has {len(value.split())} fields "
                        f"after it, expected one ('{value}' has whitespace)",
                    )
                )
                continue
            if key in first_line:
                result.problems.append(
                    Problem(
                        "duplicate",
                        lineno,
                        key,
                        f"{path}: line {lineno}: key '{key}' duplicates line {first_line[key]}",
                    )
                )
                continue
            if previous_key is not None and key < previous_key:
                result.problems.append(
                    Problem(
                        "unsorted",
                        lineno,
                        key,
                        f"{path}: not sorted (LC_ALL=C): line {lineno} key '{key}' comes after "
                        f"'{previous_key}'; run utils/fix_data_dir.sh on its directory",
                    )
                )
            first_line[key] = lineno
            previous_key = key
            result.entries.append(Entry(key, value, lineno))
    return result


def read_kaldi_entries(
    path: str | Path,
    allow_empty_value: bool | None = None,
    require_sorted: bool = False,
    one_field: bool | None = None,
) -> list[Entry]:
    """Read a Kaldi key-value file into entries in file order (with their line numbers, for
    messages about a key), raising on the first problem.

    Args:
        path: the file.
        allow_empty_value, one_field: see :func:`scan_kaldi_file`.
        require_sorted: also reject a file not sorted by key.

    Raises:
        FileNotFoundError: the file does not exist.
        KaldiFileError: a line is not UTF-8, is empty, lacks a value, has more than one field
            (with ``one_field``), duplicates a key, or (with ``require_sorted``) is out of order.
    """
    result = scan_kaldi_file(path, allow_empty_value, one_field)
    for problem in result.problems:
        if problem.kind != "unsorted" or require_sorted:
            raise KaldiFileError(problem.message)
    return result.entries


def read_kaldi_map(
    path: str | Path,
    allow_empty_value: bool | None = None,
    require_sorted: bool = False,
    one_field: bool | None = None,
) -> dict[str, str]:
    """:func:`read_kaldi_entries` as ``{key: value}`` in file order (same arguments and errors)."""
    entries = read_kaldi_entries(path, allow_empty_value, require_sorted, one_field)
    return {e.key: e.value for e in entries}


def read_text(path: str | Path, require_sorted: bool = False) -> dict[str, str]:
    """A Kaldi ``text`` file (or a decoder's hypotheses): ``{utt: transcript}`` in file order.

    A line with only an id is an empty transcript, whatever the file is called; blank lines and
    duplicate ids are errors (:func:`read_kaldi_entries`).
    """
    return read_kaldi_map(path, allow_empty_value=True, require_sorted=require_sorted)


def read_utt2spk(path: str | Path, require_sorted: bool = False) -> dict[str, str]:
    """A Kaldi ``utt2spk`` file: ``{utt: speaker}`` in file order; exactly one speaker id per
    line, whatever the file is called (:func:`read_kaldi_entries`)."""
    return read_kaldi_map(path, require_sorted=require_sorted, one_field=True)


def write_kaldi_map(
    path: str | Path, items: Mapping[str, str] | Iterable[tuple[str, str]], sort: bool = True
) -> int:
    """Write ``key value`` lines atomically (a re-run replaces, never appends).

    Args:
        path: destination file.
        items: a mapping or (key, value) pairs; values are written as given (empty allowed).
        sort: sort by key (LC_ALL=C order).

    Returns:
        Number of lines written.
    """
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    if sort:
        pairs.sort(key=lambda kv: kv[0])
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        for key, value in pairs:
            f.write(f"{key} {value}\n" if value != "" else f"{key}\n")
    os.replace(tmp, path)
    return len(pairs)


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> dict[str, list[str]]:
    """Invert utt2spk: speaker -> its utterances in utt2spk order (sorted by speaker)."""
    spk2utt: dict[str, list[str]] = {}
    for utt, spk in utt2spk.items():
        spk2utt.setdefault(spk, []).append(utt)
    return dict(sorted(spk2utt.items()))


def spk2utt_to_utt2spk(spk2utt: Mapping[str, str | list[str]]) -> dict[str, str]:
    """Expand spk2utt (values: space-separated or list of utterances) to utt -> speaker."""
    utt2spk: dict[str, str] = {}
    for spk, utts in spk2utt.items():
        for utt in utts.split() if isinstance(utts, str) else utts:
            utt2spk[utt] = spk
    return dict(sorted(utt2spk.items()))


def write_spk2utt(path: str | Path, utt2spk: Mapping[str, str]) -> int:
    """Write spk2utt derived from utt2spk; returns the number of speakers."""
    spk2utt = utt2spk_to_spk2utt(utt2spk)
    return write_kaldi_map(path, ((s, " ".join(u)) for s, u in spk2utt.items()))
