"""Run a recipe step once: skip it when it already succeeded with the same command, the same
input files and the same earlier steps (see :mod:`cifasr.recipe.stamps`).

    python -m cifasr.bin.once [--stamp_dir exp/.done] [--after STEP]... [--log FILE] NAME -- CMD...
    python -m cifasr.bin.once --stamp_dir exp/.done --times      # wall time of every step

A step that runs writes its output to ``--log`` (appended) when given, and on success leaves the
stamp ``<stamp_dir>/NAME``; a step whose command, input files or earlier steps changed runs again,
and so does every step after it. On failure it prints the error lines of the log and exits with
the command's status. Remove ``<stamp_dir>/NAME`` to redo a step, or the directory to redo all.

``--fresh DIR``: the step's results live in DIR (a training's experiment directory). When the step
succeeded before with other inputs (a changed config, say), DIR is moved aside to
``DIR.old_<time>`` first, so that it starts anew instead of resuming the finished run; a step that
was interrupted (no stamp) still resumes from DIR.
"""

from __future__ import annotations

import argparse
import datetime
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from cifasr.recipe.stamps import (
    StampError,
    check_name,
    is_done,
    read_stamp,
    read_stamps,
    step_key,
    timing_table,
    write_stamp,
)

_ERROR_LINE = re.compile(r"ERROR|Error|Traceback")


def _say(message: str) -> None:
    now = datetime.datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    print(f"{now} (once) {message}", flush=True)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cifasr.bin.once",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--stamp_dir", type=Path, default=Path("exp/.done"))
    p.add_argument("--after", action="append", default=[], metavar="STEP", help="earlier step")
    p.add_argument("--log", type=Path, help="append the command's output here")
    p.add_argument("--fresh", type=Path, metavar="DIR", help="move DIR aside when inputs changed")
    p.add_argument("--times", action="store_true", help="print the timing table and exit")
    p.add_argument("name", nargs="?", help="the step's name (its stamp file)")
    return p


def run_step(
    name: str,
    command: list[str],
    stamp_dir: Path,
    after: list[str],
    log: Path | None,
    fresh: Path | None = None,
) -> int:
    """Run ``command`` unless the stamp says it is done; returns its exit status."""
    stamp = stamp_dir / check_name(name)
    key = step_key(command, [stamp_dir / check_name(a) for a in after])
    if is_done(stamp, key):
        _say(f"{name}: done before, skipped (remove {stamp} to redo)")
        return 0
    if fresh is not None and read_stamp(stamp) is not None and fresh.exists():
        old = fresh.with_name(f"{fresh.name}.old_{time.strftime('%Y%m%dT%H%M%S')}")
        fresh.rename(old)
        _say(f"{name}: its inputs changed since it last succeeded; moved {fresh} to {old}")
    stamp.unlink(missing_ok=True)  # a failed rerun must not leave the old success behind
    _say(f"{name}: {' '.join(command)}" + (f" (log: {log})" if log else ""))
    started = time.time()
    out = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "a", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT if out else None)
    except OSError as e:
        _say(f"{name} failed: cannot run {command[0]}: {e}")
        return 127
    # A TERM or HUP sent to this process (e.g. the recipe being stopped) stops the step too.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: proc.send_signal(signum))
    try:
        status = proc.wait()
    finally:
        if out is not None:
            out.close()
    finished = time.time()
    if status != 0:
        _say(f"{name} failed (exit {status}) after {finished - started:.0f} s")
        if log is not None:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
            errors = [line for line in lines if _ERROR_LINE.search(line)][:20] or lines[-10:]
            print(f"see {log}:", *errors, sep="\n", file=sys.stderr)
        return status
    write_stamp(stamp, key, started, finished)
    _say(f"{name}: done in {finished - started:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, command = argv[:split], argv[split + 1 :]
    parser = get_parser()
    args = parser.parse_args(argv)
    if args.times:
        sys.stdout.write(timing_table(read_stamps(args.stamp_dir)))
        return 0
    if args.name is None or not command:
        parser.error("give NAME -- COMMAND... (or --times)")
    try:
        return run_step(args.name, command, args.stamp_dir, args.after, args.log, args.fresh)
    except StampError as e:
        print(f"once: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
