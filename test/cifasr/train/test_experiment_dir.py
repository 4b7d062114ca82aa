"""The experiment directory: one training at a time, a re-run with another config refused
(naming the keys), --resume false keeping the old run, leftovers of a killed save removed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cifasr.bin._train_common import StartError, prepare_output_dir
from cifasr.train.experiment_dir import (
    ExperimentBusy,
    ExperimentLock,
    config_differences,
    move_previous_run,
)

CONFIG = {
    "encoder_conf": {"num_blocks": 2, "output_size": 32},
    "optim_conf": {"lr": 0.002},
    "token_list": ["<blank>", "<unk>", "a", "b", "<sos/eos>"],
    "max_epoch": 3,
    "log_interval": 100,
    "num_workers": 2,
    "use_tensorboard": True,
}


def _changed(**changes) -> dict:
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    for key, value in changes.items():
        section, _, sub = key.partition("__")
        if sub:
            config[section][sub] = value
        else:
            config[section] = value
    return config


def _trained_dir(tmp_path: Path) -> Path:
    """What a finished run leaves: config, checkpoint, epoch models, a best link, logs."""
    d = tmp_path / "exp"
    d.mkdir()
    (d / "config.yaml").write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    for name in ("checkpoint.pth", "1epoch.pth", "2epoch.pth"):
        (d / name).write_bytes(name.encode())
    (d / "valid.acc.best.pth").symlink_to("2epoch.pth")
    (d / "train.log").write_text("the log of the first run\n")
    (d / "run.sh").write_text("#!/bin/sh\n")
    return d


def test_only_keys_that_change_training_are_differences() -> None:
    new = _changed(
        optim_conf__lr=0.001, log_interval=5, num_workers=0, use_tensorboard=False, max_epoch=10
    )
    assert config_differences(CONFIG, new) == ["optim_conf.lr: 0.002 -> 0.001"]
    new = _changed(
        token_list=["<blank>", "<unk>", "b", "a", "<sos/eos>"], encoder_conf={"num_blocks": 2}
    )
    assert config_differences(CONFIG, new) == [
        "encoder_conf.output_size: 32 -> (absent)",
        "token_list: both 5 tokens, but id 2 is 'a' in one and 'b' in the other",
    ]
    assert config_differences(CONFIG, _changed()) == []


def test_resuming_with_another_config_is_refused(tmp_path: Path) -> None:
    d = _trained_dir(tmp_path)
    with pytest.raises(StartError) as err:
        prepare_output_dir(d, _changed(optim_conf__lr=0.001), resume=True)
    assert "was trained with another config" in str(err.value)
    assert "optim_conf.lr: 0.002 -> 0.001" in str(err.value)
    assert "--resume false" in str(err.value) and "--output_dir" in str(err.value)
    assert yaml.safe_load((d / "config.yaml").read_text())["optim_conf"]["lr"] == 0.002
    ExperimentLock(d).release()  # the refused run did not keep the lock


def test_resuming_with_only_safe_changes_goes_on(tmp_path: Path) -> None:
    d = _trained_dir(tmp_path)
    prepare_output_dir(d, _changed(max_epoch=6, log_interval=1), resume=True)
    assert yaml.safe_load((d / "config.yaml").read_text())["max_epoch"] == 6
    assert (d / "checkpoint.pth").is_file() and (d / "2epoch.pth").is_file()


def test_resume_false_moves_the_old_run_aside(tmp_path: Path) -> None:
    d = _trained_dir(tmp_path)
    prepare_output_dir(d, _changed(optim_conf__lr=0.001), resume=False)
    (old,) = (d / "previous_runs").iterdir()
    assert sorted(p.name for p in old.iterdir()) == [
        "1epoch.pth",
        "2epoch.pth",
        "checkpoint.pth",
        "config.yaml",
        "valid.acc.best.pth",
    ]
    assert (old / "valid.acc.best.pth").resolve() == (old / "2epoch.pth").resolve()
    assert sorted(p.name for p in d.iterdir()) == [
        ".lock",
        "config.yaml",
        "previous_runs",
        "run.sh",
        "train.log",
    ]
    assert yaml.safe_load((d / "config.yaml").read_text())["optim_conf"]["lr"] == 0.001
    assert move_previous_run(tmp_path / "missing") is None


def test_model_files_without_a_checkpoint_are_moved_aside(tmp_path: Path) -> None:
    # nothing to resume: epoch files of another run would be averaged with the new ones
    d = _trained_dir(tmp_path)
    (d / "checkpoint.pth").unlink()
    prepare_output_dir(d, _changed(), resume=True)
    assert not list(d.glob("*epoch.pth"))
    assert len(list((d / "previous_runs").glob("*/1epoch.pth"))) == 1


def test_temporary_files_of_a_killed_save_are_removed(tmp_path: Path) -> None:
    d = _trained_dir(tmp_path)
    (d / ".checkpoint.pth.tmp12345").write_bytes(b"half a checkpoint")
    (d / ".hidden_user_file").write_text("not ours")
    prepare_output_dir(d, _changed(), resume=True)
    assert not (d / ".checkpoint.pth.tmp12345").exists()
    assert (d / ".hidden_user_file").exists()


def test_a_second_training_in_the_same_directory_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "exp"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from cifasr.train.experiment_dir import ExperimentLock; "
            f"lock = ExperimentLock({str(d)!r}); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        encoding="utf-8",
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(
            StartError,
            match=rf"{d} is in use by another training \(pid "
            rf"{holder.pid} on ",
        ):
            prepare_output_dir(d, CONFIG, resume=True)
        with pytest.raises(ExperimentBusy):
            ExperimentLock(d)
    finally:
        holder.kill()
        holder.wait()
    # the lock went with the process that held it, even killed
    lock = ExperimentLock(d)
    assert f"pid {os.getpid()} " in (d / ".lock").read_text()
    lock.release()
