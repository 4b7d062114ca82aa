"""python -m cifasr.bin.once: a step runs once, reruns when its command, an input file or an
earlier step changed, leaves no stamp when it fails, and reports its wall time."""

from pathlib import Path

import pytest

from cifasr.bin import once
from cifasr.recipe.stamps import read_stamps


def _step(tmp_path: Path, name: str, *command: str, after=(), log=None, fresh=None) -> int:
    argv = ["--stamp_dir", str(tmp_path / "done")]
    if fresh:
        argv += ["--fresh", str(fresh)]
    for a in after:
        argv += ["--after", a]
    if log:
        argv += ["--log", str(log)]
    return once.main([*argv, name, "--", *command])


def _counter(tmp_path: Path, name: str) -> list[str]:
    """A command that appends a line to ``<name>.count`` each time it really runs."""
    return ["sh", "-c", f"echo run >> {tmp_path / name}.count"]


def _runs(tmp_path: Path, name: str) -> int:
    path = tmp_path / f"{name}.count"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_step_runs_once_and_reruns_when_its_input_file_changes(tmp_path, capsys):
    conf = tmp_path / "conf.yaml"
    conf.write_text("lr: 1\n")
    cmd = [*_counter(tmp_path, "a"), "x", str(conf)]  # conf named on the command line
    assert _step(tmp_path, "a", *cmd) == 0
    assert _step(tmp_path, "a", *cmd) == 0
    assert _runs(tmp_path, "a") == 1
    assert "a: done before, skipped" in capsys.readouterr().out
    conf.write_text("lr: 2\n")
    assert _step(tmp_path, "a", *cmd) == 0
    assert _runs(tmp_path, "a") == 2
    assert _step(tmp_path, "a", *cmd, "--extra") == 0  # another command line
    assert _runs(tmp_path, "a") == 3


def test_a_rerun_upstream_step_reruns_the_steps_after_it(tmp_path):
    up = tmp_path / "up.txt"
    up.write_text("1")
    assert _step(tmp_path, "data", *_counter(tmp_path, "data"), str(up)) == 0
    assert _step(tmp_path, "train", *_counter(tmp_path, "train"), after=["data"]) == 0
    assert _step(tmp_path, "train", *_counter(tmp_path, "train"), after=["data"]) == 0
    assert _runs(tmp_path, "train") == 1
    up.write_text("2")
    assert _step(tmp_path, "data", *_counter(tmp_path, "data"), str(up)) == 0
    assert _step(tmp_path, "train", *_counter(tmp_path, "train"), after=["data"]) == 0
    assert _runs(tmp_path, "train") == 2


def test_a_failed_step_leaves_no_stamp_and_shows_the_error_lines(tmp_path, capsys):
    log = tmp_path / "logs" / "bad.log"
    script = "echo working; echo 'ValueError: bad input' >&2; exit 3"
    assert _step(tmp_path, "bad", "sh", "-c", script, log=log) == 3
    assert not (tmp_path / "done" / "bad").exists()
    err = capsys.readouterr().err
    assert "ValueError: bad input" in err and str(log) in err
    # it succeeded once, then its rerun fails: the old stamp must not survive
    assert _step(tmp_path, "flaky", "sh", "-c", "true") == 0
    assert _step(tmp_path, "flaky", "sh", "-c", "false") == 1
    assert not (tmp_path / "done" / "flaky").exists()


def test_an_after_step_that_never_ran_is_an_error(tmp_path, capsys):
    assert _step(tmp_path, "train", "true", after=["data"]) == 2
    assert "step 'data' must succeed first" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["../x", "a b", ".hidden"])
def test_a_name_that_is_no_file_name_is_refused(tmp_path, name, capsys):
    assert _step(tmp_path, name, "true") == 2
    assert f"step name '{name}'" in capsys.readouterr().err


def test_times_lists_every_step_and_the_elapsed_time(tmp_path, capsys):
    assert _step(tmp_path, "one", "sleep", "0.2") == 0
    assert _step(tmp_path, "two", "true", after=["one"]) == 0
    assert [s.name for s in read_stamps(tmp_path / "done")] == ["one", "two"]
    assert once.main(["--stamp_dir", str(tmp_path / "done"), "--times"]) == 0
    table = capsys.readouterr().out
    assert "| one |" in table and "| two |" in table and "**elapsed**" in table


def test_fresh_moves_the_results_aside_when_the_inputs_changed(tmp_path, capsys):
    """A training whose config changed must start anew, not resume its finished run; an
    interrupted one (no stamp yet) resumes."""
    conf, exp = tmp_path / "conf.yaml", tmp_path / "exp_a"
    conf.write_text("lr: 1\n")
    cmd = ["sh", "-c", f"mkdir -p {exp} && echo trained >> {exp}/log", "x", str(conf)]
    assert _step(tmp_path, "train", *cmd, fresh=exp) == 0
    assert _step(tmp_path, "train", *cmd, fresh=exp) == 0  # done: nothing moved
    assert sorted(p.name for p in tmp_path.glob("exp_a*")) == ["exp_a"]
    conf.write_text("lr: 2\n")
    assert _step(tmp_path, "train", *cmd, fresh=exp) == 0
    moved = sorted(p.name for p in tmp_path.glob("exp_a.old_*"))
    assert len(moved) == 1 and (exp / "log").read_text() == "trained\n"
    assert "moved" in capsys.readouterr().out
    # interrupted (no stamp): the directory stays and the step resumes in it
    (tmp_path / "done" / "train").unlink()
    conf.write_text("lr: 3\n")
    assert _step(tmp_path, "train", *cmd, fresh=exp) == 0
    assert (exp / "log").read_text() == "trained\ntrained\n"
