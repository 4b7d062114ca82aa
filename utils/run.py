#!/usr/bin/env python3
"""Run a command as parallel local jobs with Kaldi's run.pl interface (our own implementation).

    run.py [options] JOB=1:N <log-file> <command> [<arg> ...]
    run.py [options] <log-file> <command> [<arg> ...]

Every occurrence of the job variable (``JOB`` in ``JOB=1:N``) in the log file name and in the
command is replaced by the job number. Each job runs ``bash -c <command>`` with its standard
output and error in its log file, which also gets the command, start and end times and the exit
code, as with run.pl. Arguments without whitespace are passed to bash as they are (so ``\\|``
and ``\\>`` act as pipes and redirections, as in Kaldi); arguments with whitespace are quoted.

Unlike run.pl, an existing log file is appended to, after a line that marks the restart, so a
job that resumes (training) keeps the log of its earlier, interrupted runs. Stopping run.py
(SIGINT, SIGTERM, SIGHUP) stops its jobs (each runs in a process group of its own), and so does
the end of the process that started run.py (on Linux), so killing a recipe script never leaves
its jobs running.

Options (run.pl's; the cluster-only ones are accepted and ignored on one machine):
    --max-jobs-run N   at most N jobs at once (default: all)
    --num-threads N, --mem SIZE, --gpu N, --config FILE   ignored

Exit status 0 when every job succeeded; otherwise 1, with "run.py: K / N failed, log is in ...".
Standard library only, so it runs with any python3.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

IGNORED_OPTIONS = ("--num-threads", "--mem", "--gpu", "--config", "--max-mem")
JOB_RANGE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+):(\d+)$")
JOB_SINGLE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+)$")
RESTART_MARK = "# ---- restarted: the lines above are an earlier run of this job ----"

_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()
_stopping = threading.Event()


def usage(message: str) -> None:
    """Print the error and the usage, exit 1."""
    print(f"run.py: {message}", file=sys.stderr)
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    sys.exit(1)


def quote_args(args: list[str]) -> str:
    """Join arguments into one shell command the way Kaldi's run.pl does."""
    parts = []
    for a in args:
        if a and not re.search(r"\s", a):
            parts.append(a)
        elif '"' in a:
            parts.append("'" + a.replace("'", "'\\''") + "'")
        else:
            parts.append(f'"{a}"')
    return " ".join(parts)


def run_job(command: str, log: Path) -> int:
    """Run one job with its output appended to ``log``; returns its exit code."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with open(log, "a", encoding="utf-8") as f:
        if f.tell() > 0:
            f.write(f"{RESTART_MARK}\n")
        f.write(f"# {command}\n# Started at {time.ctime(start)}\n#\n")
        f.flush()
        with _running_lock:
            if _stopping.is_set():
                return 128 + signal.SIGTERM
            proc = subprocess.Popen(
                ["bash", "-c", command],
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            _running.add(proc)
        code = proc.wait()
        with _running_lock:
            _running.discard(proc)
        elapsed = time.time() - start
        f.write(f"# Accounting: time={elapsed:.0f} threads=1\n")
        f.write(f"# Ended (code {code}) at {time.ctime()}, elapsed time {elapsed:.0f} seconds\n")
    return code


def _stop_jobs(signum: int, frame: object) -> None:
    """Signal handler: pass the signal on to every running job's process group, give them
    10 s to end, kill what is left, and exit with 128 + the signal number."""
    _stopping.set()
    with _running_lock:
        procs = list(_running)
    for proc in procs:
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            pass
    deadline = time.time() + 10
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.time(), 0.1))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    print(f"run.py: stopped by signal {signum}; its jobs were stopped too", file=sys.stderr)
    sys.exit(128 + signum)


def _stop_with_parent() -> None:
    """On Linux: get SIGTERM when the process that started run.py ends (a killed recipe script),
    so that the jobs stop with it."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str]) -> int:
    max_jobs = 0
    args = list(argv)
    while args and args[0].startswith("--"):
        option = args.pop(0)
        name, _, value = option.partition("=")
        if not value:
            if not args:
                usage(f"option {option} needs a value")
            value = args.pop(0)
        if name.replace("_", "-") == "--max-jobs-run":
            if not value.isdigit():
                usage(f"--max-jobs-run takes a number, got '{value}'")
            max_jobs = int(value)
        elif name.replace("_", "-") not in IGNORED_OPTIONS:
            usage(f"unknown option {name}")
    job_var, first, last = None, 1, 1
    if args and (m := JOB_RANGE.match(args[0]) or JOB_SINGLE.match(args[0])):
        args.pop(0)
        job_var, first = m.group(1), int(m.group(2))
        last = int(m.group(3)) if m.re is JOB_RANGE else first
        if last < first:
            usage(f"empty job range {job_var}={first}:{last}")
    if len(args) < 2:
        usage("expected a log file and a command")
    log_template, command_template = args[0], quote_args(args[1:])
    if job_var is not None and last > first and job_var not in log_template:
        usage(f"the log file '{log_template}' must contain {job_var} when running several jobs")

    def job(n: int) -> int:
        if job_var is None:
            return run_job(command_template, Path(log_template))
        return run_job(
            command_template.replace(job_var, str(n)), Path(log_template.replace(job_var, str(n)))
        )

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_jobs)
    if sys.platform.startswith("linux"):
        _stop_with_parent()
    numbers = list(range(first, last + 1))
    workers = max_jobs if max_jobs > 0 else len(numbers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        codes = list(pool.map(job, numbers))
    failed = sum(1 for c in codes if c != 0)
    if failed:
        shown = log_template.replace(job_var, "*") if job_var and last > first else log_template
        if job_var and last == first:
            shown = log_template.replace(job_var, str(first))
        print(f"run.py: {failed} / {len(codes)} failed, log is in {shown}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
