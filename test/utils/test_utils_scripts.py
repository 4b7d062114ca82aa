"""utils/: run.py keeps Kaldi's run.pl interface, parse_options.sh parses ESPnet-style options,
and the data-directory wrappers work from the shell."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

UTILS = Path(__file__).resolve().parents[2] / "utils"


def sh(script: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, encoding="utf-8", errors="replace"
    )


def test_run_py_substitutes_job_and_writes_logs(tmp_path: Path) -> None:
    r = sh(f"{UTILS}/run.py JOB=1:3 log/job.JOB.log echo out.JOB '>' out.JOB.txt", tmp_path)
    assert r.returncode == 0, r.stderr
    for n in (1, 2, 3):
        assert (tmp_path / f"out.{n}.txt").read_text() == f"out.{n}\n"
        log = (tmp_path / "log" / f"job.{n}.log").read_text()
        assert log.startswith(f"# echo out.{n} > out.{n}.txt\n# Started at ")
        assert "# Ended (code 0) at " in log


def test_run_py_reports_failures_and_exits_1(tmp_path: Path) -> None:
    r = sh(f"{UTILS}/run.py --max-jobs-run 1 JOB=1:4 log/j.JOB.log test JOB -ne 3", tmp_path)
    assert r.returncode == 1
    assert "run.py: 1 / 4 failed, log is in log/j.*.log" in r.stderr
    assert "# Ended (code 1)" in (tmp_path / "log" / "j.3.log").read_text()


def test_run_py_single_job_quotes_arguments_with_spaces(tmp_path: Path) -> None:
    # As with run.pl, an argument with whitespace stays one word; one without (even '|')
    # reaches bash as it is.
    r = sh(f"{UTILS}/run.py --mem 2G log.txt printf '%s,' 'a b' c '|' tr a-z A-Z", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "A B,C," in (tmp_path / "log.txt").read_text()


def test_run_py_needs_job_in_log_name(tmp_path: Path) -> None:
    r = sh(f"{UTILS}/run.py JOB=1:2 same.log true", tmp_path)
    assert r.returncode == 1 and "must contain JOB" in r.stderr


def test_run_py_appends_a_restarted_job_after_a_marker(tmp_path: Path) -> None:
    assert sh(f"{UTILS}/run.py train.log ls first_run_missing", tmp_path).returncode == 1
    assert sh(f"{UTILS}/run.py train.log echo second", tmp_path).returncode == 0
    log = (tmp_path / "train.log").read_text()
    first, second = log.split("# ---- restarted: the lines above are an earlier run of this job")
    assert "first_run_missing" in first and "# Ended (code 2)" in first
    assert "second" in second and "# Ended (code 0)" in second


def test_killing_the_script_that_started_run_py_stops_its_jobs(tmp_path: Path) -> None:
    # a job that starts a child of its own and waits, as torchrun does with its workers
    (tmp_path / "job.sh").write_text("sleep 60 &\necho $! > child.pid\nwait\n")
    script = subprocess.Popen(
        ["bash", "-c", f"{UTILS}/run.py job.log bash job.sh; echo unreachable"], cwd=tmp_path
    )
    pid_file = tmp_path / "child.pid"
    deadline = time.time() + 30
    while not (pid_file.is_file() and pid_file.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    script.kill()  # SIGKILL: the recipe script cannot clean up itself
    script.wait()
    deadline = time.time() + 15
    while _alive(child) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the job outlived the script that started it"
    # run.py writes the log's last line after its job has died: wait for it, do not race it
    log = tmp_path / "job.log"
    while "# Ended" not in log.read_text() and time.time() < deadline:
        time.sleep(0.05)
    assert "# Ended (code -15)" in log.read_text()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False  # gone (reading /proc/<pid>/stat of a process reaped meanwhile: ESRCH)
    return state != "Z"


PARSE = """
stage=1           # a number
use_lm=true       # a bool
test_sets="dev"   # a list
. {utils}/parse_options.sh
echo "stage=$stage use_lm=$use_lm test_sets=$test_sets rest=$*"
"""


@pytest.mark.parametrize(
    ("args", "out"),
    [
        ("--stage 3 --use_lm false pos", "stage=3 use_lm=false test_sets=dev rest=pos"),
        ("--test-sets 'dev test' --stage=5", "stage=5 use_lm=true test_sets=dev test rest="),
    ],
)
def test_parse_options_overrides(tmp_path: Path, args: str, out: str) -> None:
    (tmp_path / "s.sh").write_text(PARSE.format(utils=UTILS))
    r = sh(f"bash s.sh {args}", tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--stag 3", "invalid option --stag"),
        ("--use_lm maybe", "--use_lm takes true or false, got 'maybe'"),
        ("--stage", "option --stage needs a value"),
    ],
)
def test_parse_options_errors(tmp_path: Path, args: str, message: str) -> None:
    (tmp_path / "s.sh").write_text(PARSE.format(utils=UTILS))
    r = sh(f"bash s.sh {args}", tmp_path)
    assert r.returncode == 1 and message in r.stderr


def test_parse_options_help_prints_help_message(tmp_path: Path) -> None:
    script = 'help_message="Usage: s.sh [options]"\n' + PARSE.format(utils=UTILS)
    (tmp_path / "s.sh").write_text(script)
    r = sh("bash s.sh --help", tmp_path)
    assert r.returncode == 0 and "Usage: s.sh [options]" in r.stderr and not r.stdout


def test_data_dir_wrappers(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "wav.scp").write_text("s1-a a.wav\ns1-b b.wav\ns2-a c.wav\n")
    (d / "text").write_text("s1-b 好\ns1-a 你\n", encoding="utf-8")
    (d / "utt2spk").write_text("s1-a s1\ns1-b s1\ns2-a s2\n")
    r = sh(f"{UTILS}/utt2spk_to_spk2utt.sh d/utt2spk > d/spk2utt", tmp_path)
    assert r.returncode == 0 and (d / "spk2utt").read_text() == "s1 s1-a s1-b\ns2 s2-a\n"
    r = sh(f"{UTILS}/validate_data_dir.sh --no-feats d", tmp_path)
    assert r.returncode == 1 and "text: not sorted" in r.stderr and "'s2-a'" in r.stderr
    r = sh(f"{UTILS}/fix_data_dir.sh d && {UTILS}/validate_data_dir.sh d", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "3 utterances in, 2 out; 1 not in text" in r.stderr
    r = sh(
        f"{UTILS}/copy_data_dir.sh --utt-prefix x- --spk-prefix x- d e && "
        f"{UTILS}/subset_data_dir.sh --first e 1 f && "
        f"{UTILS}/combine_data_dir.sh g d f && cat g/utt2spk",
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "s1-a s1\ns1-b s1\nx-s1-a x-s1\n"
    (tmp_path / "list").write_text("x-s1-b\n")
    r = sh(f"{UTILS}/subset_data_dir.sh --utt-list list e h && cat h/text", tmp_path)
    assert r.returncode == 0 and r.stdout == "x-s1-b 好\n"
