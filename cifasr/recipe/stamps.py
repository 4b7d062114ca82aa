"""Stamps that make a recipe step run once: a step whose command, input files and earlier steps
are unchanged since it last succeeded is skipped.

A step's *key* hashes its command line, the contents of every existing file the command names
(configs, text, scp files) and the keys of the steps it comes after, so a change anywhere
upstream reruns the step and everything after it. The stamp ``<stamp_dir>/<name>`` is a small
JSON file: the key, when the step started and finished, and its wall time, which
:func:`read_stamps` collects into the per-step timing table of a recipe run.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class StampError(ValueError):
    """A step name that cannot be a stamp file, or an ``after`` step that never ran."""


@dataclass(frozen=True)
class Stamp:
    """What a finished step leaves behind.

    Attributes:
        name: the step's name (the stamp file's name).
        key: hash of the command, its input files and the earlier steps' keys.
        started: ISO time the step started.
        finished: ISO time it finished.
        seconds: its wall time.
    """

    name: str
    key: str
    started: str
    finished: str
    seconds: float


def check_name(name: str) -> str:
    """``name`` if it is usable as a file name (letters, digits, ``_.+-``), else StampError."""
    if not _NAME.match(name):
        raise StampError(
            f"step name '{name}': use letters, digits and _.+- only (it names a stamp file)"
        )
    return name


def read_stamp(path: Path) -> Stamp | None:
    """The stamp at ``path``; None when there is none or it is unreadable (the step reruns)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Stamp(**{k: data[k] for k in Stamp.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def step_key(command: Sequence[str], after: Sequence[Path]) -> str:
    """The key of a step running ``command`` after the steps whose stamps are ``after``.

    Raises:
        StampError: an ``after`` stamp is missing (that step has not succeeded).
    """
    h = hashlib.sha1()
    for arg in command:
        h.update(arg.encode("utf-8", "surrogateescape") + b"\0")
    for arg in command:
        path = Path(arg)
        if path.is_file():
            h.update(b"file\0" + arg.encode("utf-8", "surrogateescape") + b"\0")
            h.update(hashlib.sha1(path.read_bytes()).digest())
    for path in after:
        stamp = read_stamp(path)
        if stamp is None:
            raise StampError(f"{path}: missing; step '{path.name}' must succeed first")
        h.update(b"after\0" + stamp.key.encode())
    return h.hexdigest()


def is_done(stamp_path: Path, key: str) -> bool:
    """Whether the step already succeeded with this key."""
    stamp = read_stamp(stamp_path)
    return stamp is not None and stamp.key == key


def write_stamp(stamp_path: Path, key: str, started: float, finished: float) -> Stamp:
    """Record a success (times are ``time.time()`` values); written atomically."""
    stamp = Stamp(stamp_path.name, key, _iso(started), _iso(finished), round(finished - started, 2))
    stamp_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = stamp_path.with_name(f".{stamp_path.name}.tmp")
    tmp.write_text(json.dumps(asdict(stamp)) + "\n", encoding="utf-8")
    tmp.replace(stamp_path)
    return stamp


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")


def read_stamps(stamp_dir: Path) -> list[Stamp]:
    """Every readable stamp of a directory, in the order the steps started."""
    stamps = [s for p in sorted(Path(stamp_dir).glob("*")) if (s := read_stamp(p)) is not None]
    return sorted(stamps, key=lambda s: (s.started, s.name))


def timing_table(stamps: Sequence[Stamp]) -> str:
    """Markdown: each step's wall time and start, then the elapsed time from the first start to
    the last finish (steps that ran side by side overlap)."""
    if not stamps:
        return "No finished steps.\n"
    parse = datetime.datetime.fromisoformat
    first = min(parse(s.started) for s in stamps)
    last = max(parse(s.finished) for s in stamps)
    lines = ["| step | wall time | started at |", "|---|---|---|"]
    for s in stamps:
        offset = (parse(s.started) - first).total_seconds()
        lines.append(f"| {s.name} | {_span(s.seconds)} | +{_span(offset)} |")
    lines.append(f"| **elapsed** | **{_span((last - first).total_seconds())}** | |")
    return "\n".join(lines) + "\n"


def _span(seconds: float) -> str:
    minutes, sec = divmod(round(seconds), 60)
    return f"{minutes} min {sec:02d} s" if minutes else f"{sec} s"
