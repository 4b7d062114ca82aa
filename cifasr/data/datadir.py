"""Kaldi data directories without Kaldi: validate, fix, subset, combine and copy.

A data directory holds utterance-keyed files (``wav.scp``, ``text``, ``utt2spk``, ``feats.scp``,
``utt2num_frames``, ``utt2dur`` and any other ``utt2*``), ``spk2utt`` (always derived from
``utt2spk`` here) and optionally ``spk2gender``. Segmented corpora (``segments``) are not
supported: ``wav.scp`` is keyed by utterance.

Every function that drops utterances counts them by reason and logs the counts; none drops
silently. Writes are sorted (LC_ALL=C) and replace the destination files, so re-running is safe.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cifasr.data.kaldi_files import (
    KaldiFileError,
    read_kaldi_map,
    read_utt2spk,
    scan_kaldi_file,
    utt2spk_to_spk2utt,
    write_kaldi_map,
    write_spk2utt,
)

logger = logging.getLogger(__name__)

# Utterance-keyed files in the order they are checked and reported; any other utt2* joins them.
KNOWN_UTT_FILES = (
    "utt2spk",
    "wav.scp",
    "text",
    "feats.scp",
    "utt2num_frames",
    "utt2dur",
    "utt2num_samples",
)
SPK_FILES = ("spk2gender",)
# Per-directory metadata copied along unchanged.
META_FILES = ("feats_type", "fbank.yaml")
# Shown per problem kind before "... and N more".
MAX_SHOWN = 5


class DataDirError(ValueError):
    """A data directory is unusable; the message names the directory, the file and the keys."""


def utt_files(data_dir: str | Path) -> list[str]:
    """Names of the utterance-keyed files present in ``data_dir`` (known ones first)."""
    d = Path(data_dir)
    names = [n for n in KNOWN_UTT_FILES if (d / n).is_file()]
    names += sorted(
        p.name for p in d.glob("utt2*") if p.is_file() and p.name not in KNOWN_UTT_FILES
    )
    return names


def _check_no_segments(d: Path) -> None:
    if (d / "segments").exists():
        raise DataDirError(
            f"{d}/segments: segmented recordings are not supported; cut the segments into "
            f"their own audio files (e.g. with sox trim) and key wav.scp by utterance"
        )


def _shown(keys: Sequence[str]) -> str:
    head = ", ".join(f"'{k}'" for k in keys[:MAX_SHOWN])
    more = f" and {len(keys) - MAX_SHOWN} more" if len(keys) > MAX_SHOWN else ""
    return head + more


def validate_data_dir(
    data_dir: str | Path,
    need_text: bool = True,
    need_wav: bool = True,
    need_feats: bool = False,
) -> list[str]:
    """List every problem of a data directory (empty list = valid).

    Checks: required files exist; each file is UTF-8, has no empty lines, no duplicate keys,
    no missing values and is sorted; all utterance files have the same keys; ``spk2utt``
    matches ``utt2spk``; numeric files hold numbers.

    Args:
        data_dir: the directory.
        need_text: require ``text``.
        need_wav: require ``wav.scp``.
        need_feats: require ``feats.scp``.

    Returns:
        Human-readable problems, each naming the file and (where there is one) the line and key.
    """
    d = Path(data_dir)
    if not d.is_dir():
        return [f"{d}: no such directory"]
    problems: list[str] = []
    if (d / "segments").exists():
        problems.append(f"{d}/segments: segmented recordings are not supported")
    required = ["utt2spk", "spk2utt"]
    required += ["text"] * need_text + ["wav.scp"] * need_wav + ["feats.scp"] * need_feats
    for name in required:
        if not (d / name).is_file():
            problems.append(f"{d}/{name}: missing")
    key_sets: dict[str, set[str]] = {}
    for name in utt_files(d):
        scan = scan_kaldi_file(d / name)
        by_kind: dict[str, list[str]] = {}
        for p in scan.problems:
            by_kind.setdefault(p.kind, []).append(p.message)
        for messages in by_kind.values():
            problems.extend(messages[:MAX_SHOWN])
            if len(messages) > MAX_SHOWN:
                problems.append(f"{d}/{name}: ... and {len(messages) - MAX_SHOWN} more like that")
        key_sets[name] = {e.key for e in scan.entries}
        if name in ("utt2num_frames", "utt2num_samples", "utt2dur"):
            number = float if name == "utt2dur" else int
            for e in scan.entries:
                try:
                    number(e.value)
                except ValueError:
                    problems.append(
                        f"{d}/{name}: line {e.line}: key '{e.key}': '{e.value}' is not a number"
                    )
                    break
    if "utt2spk" in key_sets:
        reference = key_sets["utt2spk"]
        for name, keys in key_sets.items():
            if name == "utt2spk":
                continue
            missing = sorted(reference - keys)
            extra = sorted(keys - reference)
            if missing:
                problems.append(
                    f"{d}/{name}: {len(missing)} utterance(s) of utt2spk missing: "
                    f"{_shown(missing)}; "
                    f"run utils/fix_data_dir.sh {d}"
                )
            if extra:
                problems.append(
                    f"{d}/{name}: {len(extra)} utterance(s) not in utt2spk: {_shown(extra)}; "
                    f"run utils/fix_data_dir.sh {d}"
                )
        if (d / "spk2utt").is_file():
            try:
                spk2utt = read_kaldi_map(d / "spk2utt")
                utt2spk = read_utt2spk(d / "utt2spk")
            except KaldiFileError as e:
                problems.append(str(e))
            else:
                expected = {s: sorted(u) for s, u in utt2spk_to_spk2utt(utt2spk).items()}
                got = {s: sorted(u.split()) for s, u in spk2utt.items()}
                speakers = expected.keys() | got.keys()
                differing = sorted(s for s in speakers if expected.get(s) != got.get(s))
                if differing:
                    problems.append(
                        f"{d}/spk2utt: does not match utt2spk for speaker(s) {_shown(differing)}; "
                        f"regenerate it with utils/utt2spk_to_spk2utt.sh {d}/utt2spk > {d}/spk2utt"
                    )
        if not reference and not problems:
            problems.append(f"{d}/utt2spk: no utterances")
    return problems


def check_data_dir(data_dir: str | Path, **kwargs: bool) -> None:
    """Raise :class:`DataDirError` listing the problems of :func:`validate_data_dir`, if any."""
    problems = validate_data_dir(data_dir, **kwargs)
    if problems:
        raise DataDirError(f"{data_dir} is not a valid data directory:\n  " + "\n  ".join(problems))


@dataclass
class FixReport:
    """What :func:`fix_data_dir` did. Counts are utterances (or lines, for line problems)."""

    num_in: int = 0
    num_out: int = 0
    missing_from: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    empty_lines: dict[str, int] = field(default_factory=dict)
    empty_values: dict[str, int] = field(default_factory=dict)
    resorted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: in, out and every non-zero reason."""
        parts = [f"{self.num_in} utterances in, {self.num_out} out"]
        for label, counts in (
            ("not in", self.missing_from),
            ("duplicate lines dropped from", self.duplicates),
            ("empty lines dropped from", self.empty_lines),
            ("lines without a value dropped from", self.empty_values),
        ):
            parts += [f"{n} {label} {name}" for name, n in counts.items() if n]
        if self.resorted:
            parts.append(f"re-sorted {', '.join(self.resorted)}")
        return "; ".join(parts)


def _clear_data_files(d: Path) -> None:
    for name in utt_files(d) + ["spk2utt", *SPK_FILES, *META_FILES]:
        (d / name).unlink(missing_ok=True)


def fix_data_dir(data_dir: str | Path) -> FixReport:
    """Make a data directory consistent in place (Kaldi's ``utils/fix_data_dir.sh``).

    Keeps only utterances present in every utterance file, keeps the first line of a duplicated
    key, drops empty lines and lines without a value (except in ``text``), sorts every file,
    regenerates ``spk2utt`` and filters ``spk2gender``. The originals are saved in
    ``<data_dir>/.backup/``.

    Raises:
        DataDirError: a file is not UTF-8 (dropping its lines would lose data), there is no
            utt2spk, or the directory has ``segments``.

    Returns:
        A :class:`FixReport`; its summary is also logged.
    """
    d = Path(data_dir)
    _check_no_segments(d)
    if not (d / "utt2spk").is_file():
        raise DataDirError(f"{d}/utt2spk: missing; every data directory needs utt2spk")
    names = utt_files(d)
    report = FixReport()
    maps: dict[str, dict[str, str]] = {}
    for name in names:
        scan = scan_kaldi_file(d / name)
        not_utf8 = [p for p in scan.problems if p.kind == "not_utf8"]
        if not_utf8:
            raise DataDirError(not_utf8[0].message)
        for kind in ("duplicate", "empty_line", "empty_value"):
            dropped = [p.message for p in scan.problems if p.kind == kind]
            for message in dropped[:MAX_SHOWN]:
                logger.warning("fix_data_dir: dropping %s", message)
            if len(dropped) > MAX_SHOWN:
                logger.warning("fix_data_dir: ... and %d more like that", len(dropped) - MAX_SHOWN)
        report.duplicates[name] = scan.count("duplicate")
        report.empty_lines[name] = scan.count("empty_line")
        report.empty_values[name] = scan.count("empty_value")
        if scan.count("unsorted"):
            report.resorted.append(name)
        maps[name] = scan.as_dict()
    all_keys = set().union(*(m.keys() for m in maps.values()))
    keep = set(all_keys)
    for name in names:
        missing = all_keys - maps[name].keys()
        report.missing_from[name] = len(missing)
        if missing:
            logger.warning(
                "fix_data_dir: %s: %d utterance(s) not in %s, dropped: %s",
                d,
                len(missing),
                name,
                _shown(sorted(missing)),
            )
        keep &= maps[name].keys()
    report.num_in, report.num_out = len(all_keys), len(keep)
    backup = d / ".backup"
    backup.mkdir(exist_ok=True)
    for name in [*names, "spk2utt", *SPK_FILES]:
        if (d / name).is_file():
            shutil.copy2(d / name, backup / name)
    for name in names:
        write_kaldi_map(d / name, {k: v for k, v in maps[name].items() if k in keep})
    utt2spk = {k: v for k, v in maps["utt2spk"].items() if k in keep}
    write_spk2utt(d / "spk2utt", utt2spk)
    _filter_spk_files(d, d, set(utt2spk.values()))
    level = logging.WARNING if report.num_out < report.num_in else logging.INFO
    logger.log(level, "fix_data_dir: %s: %s", d, report.summary())
    return report


def _filter_spk_files(
    src: Path, dest: Path, speakers: set[str], spk_map: dict[str, str] | None = None
) -> None:
    for name in SPK_FILES:
        if (src / name).is_file():
            values = read_kaldi_map(src / name)
            kept = {(spk_map or {}).get(s, s): v for s, v in values.items() if s in speakers}
            write_kaldi_map(dest / name, kept)


def _copy_meta(src: Path, dest: Path) -> None:
    for name in META_FILES:
        if (src / name).is_file() and src.resolve() != dest.resolve():
            shutil.copy2(src / name, dest / name)


def subset_data_dir(
    src: str | Path, dest: str | Path, utt_list: Iterable[str], strict: bool = False
) -> int:
    """Copy the utterances of ``utt_list`` from ``src`` to ``dest`` (all utterance files).

    Args:
        src: a consistent data directory (see :func:`fix_data_dir`).
        dest: destination; its data files are replaced.
        utt_list: utterance ids to keep.
        strict: raise when an id of ``utt_list`` is not in ``src`` (otherwise counted and logged).

    Returns:
        Number of utterances in ``dest``.
    """
    src, dest = Path(src), Path(dest)
    _check_no_segments(src)
    if src.resolve() == dest.resolve():
        raise DataDirError(f"subset_data_dir: source and destination are both {src}")
    wanted = set(utt_list)
    utt2spk = read_utt2spk(src / "utt2spk")
    unknown = sorted(wanted - utt2spk.keys())
    if unknown:
        message = (
            f"subset_data_dir: {len(unknown)} requested utterance(s) not in {src}/utt2spk: "
            f"{_shown(unknown)}"
        )
        if strict:
            raise DataDirError(message)
        logger.warning(message)
    dest.mkdir(parents=True, exist_ok=True)
    _clear_data_files(dest)
    kept = 0
    for name in utt_files(src):
        values = read_kaldi_map(src / name)
        subset = {k: v for k, v in values.items() if k in wanted}
        kept = len(subset) if name == "utt2spk" else kept
        write_kaldi_map(dest / name, subset)
    kept_utt2spk = {k: v for k, v in utt2spk.items() if k in wanted}
    write_spk2utt(dest / "spk2utt", kept_utt2spk)
    _filter_spk_files(src, dest, set(kept_utt2spk.values()))
    _copy_meta(src, dest)
    logger.info("subset_data_dir: %s -> %s: %d of %d utterances", src, dest, kept, len(utt2spk))
    return kept


def select_utterances(
    data_dir: str | Path,
    num: int,
    how: str = "even",
) -> list[str]:
    """Pick ``num`` utterance ids of a data directory.

    Args:
        data_dir: the directory.
        num: how many.
        how: "first", "last", "even" (evenly spaced in sorted order, Kaldi's default), or
            "shortest" (by utt2num_frames, else utt2dur).

    Returns:
        The ids, sorted.
    """
    d = Path(data_dir)
    utts = sorted(read_utt2spk(d / "utt2spk"))
    if num >= len(utts):
        return utts
    if how == "first":
        return utts[:num]
    if how == "last":
        return utts[-num:]
    if how == "even":
        step = len(utts) / num
        return [utts[int(i * step)] for i in range(num)]
    if how == "shortest":
        for name, number in (("utt2num_frames", int), ("utt2dur", float)):
            if (d / name).is_file():
                lengths = {k: number(v) for k, v in read_kaldi_map(d / name).items()}
                return sorted(sorted(utts, key=lambda u: (lengths.get(u, float("inf")), u))[:num])
        raise DataDirError(f"{d}: --shortest needs utt2num_frames or utt2dur")
    raise ValueError(f"unknown selection '{how}'; use first, last, even or shortest")


def copy_data_dir(
    src: str | Path,
    dest: str | Path,
    utt_prefix: str = "",
    utt_suffix: str = "",
    spk_prefix: str = "",
    spk_suffix: str = "",
) -> int:
    """Copy a data directory, optionally renaming utterances and speakers.

    Speed perturbation uses this with ``utt_prefix = spk_prefix = "sp0.9-"``: renaming both keeps
    utterances of one speaker together when sorted.

    Returns:
        Number of utterances copied.
    """
    src, dest = Path(src), Path(dest)
    _check_no_segments(src)
    if src.resolve() == dest.resolve():
        raise DataDirError(f"copy_data_dir: source and destination are both {src}")
    dest.mkdir(parents=True, exist_ok=True)
    _clear_data_files(dest)

    def utt(k: str) -> str:
        return f"{utt_prefix}{k}{utt_suffix}"

    def spk(s: str) -> str:
        return f"{spk_prefix}{s}{spk_suffix}"

    utt2spk = read_utt2spk(src / "utt2spk")
    for name in utt_files(src):
        values = read_kaldi_map(src / name)
        if name == "utt2spk":
            values = {k: spk(v) for k, v in values.items()}
        write_kaldi_map(dest / name, {utt(k): v for k, v in values.items()})
    new_utt2spk = {utt(k): spk(v) for k, v in utt2spk.items()}
    write_spk2utt(dest / "spk2utt", new_utt2spk)
    speakers = set(utt2spk.values())
    _filter_spk_files(src, dest, speakers, {s: spk(s) for s in speakers})
    _copy_meta(src, dest)
    logger.info("copy_data_dir: %s -> %s: %d utterances", src, dest, len(utt2spk))
    return len(utt2spk)


def combine_data_dirs(dest: str | Path, srcs: Sequence[str | Path]) -> int:
    """Concatenate data directories (Kaldi's ``utils/combine_data.sh``).

    A file is combined when every source has it; a file only some sources have is left out with
    a warning naming it. An utterance id present in two sources is an error.

    Returns:
        Number of utterances in ``dest``.
    """
    dest = Path(dest)
    srcs = [Path(s) for s in srcs]
    if not srcs:
        raise DataDirError("combine_data_dirs: no source directories given")
    for s in srcs:
        _check_no_segments(s)
        if s.resolve() == dest.resolve():
            raise DataDirError(f"combine_data_dirs: destination {dest} is also a source")
        if not (s / "utt2spk").is_file():
            raise DataDirError(f"{s}/utt2spk: missing; every source needs utt2spk")
    per_src = [set(utt_files(s)) for s in srcs]
    common = set.intersection(*per_src)
    for name in sorted(set.union(*per_src) - common):
        lacking = [str(s) for s, names in zip(srcs, per_src) if name not in names]
        logger.warning(
            "combine_data_dirs: leaving out %s: missing from %s", name, ", ".join(lacking)
        )
    dest.mkdir(parents=True, exist_ok=True)
    _clear_data_files(dest)
    num = 0
    for name in [n for n in KNOWN_UTT_FILES if n in common] + sorted(common - set(KNOWN_UTT_FILES)):
        merged: dict[str, str] = {}
        origin: dict[str, Path] = {}
        for s in srcs:
            for k, v in read_kaldi_map(s / name).items():
                if k in merged:
                    raise DataDirError(
                        f"combine_data_dirs: utterance '{k}' is in both {origin[k]}/{name} and "
                        f"{s}/{name}; give the sources distinct ids (utils/copy_data_dir.sh "
                        f"--utt-prefix)"
                    )
                merged[k], origin[k] = v, s
        write_kaldi_map(dest / name, merged)
        if name == "utt2spk":
            write_spk2utt(dest / "spk2utt", merged)
            num = len(merged)
    for name in SPK_FILES:
        if all((s / name).is_file() for s in srcs):
            merged_spk: dict[str, str] = {}
            for s in srcs:
                merged_spk.update(read_kaldi_map(s / name))
            write_kaldi_map(dest / name, merged_spk)
    _copy_meta(srcs[0], dest)
    logger.info("combine_data_dirs: %s <- %s: %d utterances", dest, " + ".join(map(str, srcs)), num)
    return num


def split_scp(scp: str | Path, outputs: Sequence[str | Path]) -> list[int]:
    """Split a Kaldi file into ``len(outputs)`` contiguous, nearly equal parts (in file order).

    Raises:
        DataDirError: fewer lines than outputs (a job would get nothing).

    Returns:
        Lines per output.
    """
    with open(scp, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    n = len(outputs)
    if n < 1:
        raise ValueError("split_scp: no outputs given")
    if len(lines) < n:
        raise DataDirError(
            f"split_scp: {scp} has {len(lines)} lines, fewer than the {n} parts requested; "
            f"use fewer jobs (--nj)"
        )
    sizes = [len(lines) // n + (1 if i < len(lines) % n else 0) for i in range(n)]
    start = 0
    for out, size in zip(outputs, sizes):
        with open(out, "w", encoding="utf-8") as f:
            f.writelines(lines[start : start + size])
        start += size
    return sizes
