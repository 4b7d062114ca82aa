"""The experiment directory of one training: who may write it, what it was trained with.

- :class:`ExperimentLock`: one training per directory. A second one (a re-run while the first
  still runs, e.g. after its launching shell was killed) stops with the first one's process id.
  The lock is ``flock`` on ``<dir>/.lock``: the kernel releases it when the process ends, however
  it ends, so a crash never leaves a stale lock.
- :func:`config_differences`: what differs between the config a directory was trained with
  (``config.yaml``) and a new run's, leaving out the keys that do not change the weights trained
  so far (:data:`RESUME_SAFE_KEYS`), so that a re-run after a config change never resumes the old
  model as if it had been trained with the new config.
- :func:`move_previous_run`: train anew in the same directory, keeping the old run's files.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from cifasr.train.checkpoint import token_list_difference
from cifasr.utils.precision import RECORD_KEY as PRECISION_KEY

LOCK_NAME = ".lock"

# Keys a resumed run may change: logging, data loading, how long to go on, which checkpoints to
# keep or average, DDP bookkeeping. None of them changes the weights trained so far.
RESUME_SAFE_KEYS = frozenset(
    {
        PRECISION_KEY,  # what `amp` resolved to: another machine may resolve it differently
        "log_interval",
        "num_workers",
        "use_tensorboard",
        "plot_utts",
        "valid_decode_utts",
        "valid_batch_bins",
        "max_epoch",
        "max_update",
        "patience",
        "save_every_steps",
        "keep_last_epochs",
        "keep_nbest_models",
        "average_last_epochs",
        "best_model_criterion",
        "max_bad_steps",
        "find_unused_parameters",
    }
)

# Files of an experiment directory that belong to its launcher, not to one training run.
LAUNCHER_FILES = frozenset({"train.log", "run.sh", LOCK_NAME})
PREVIOUS_RUNS = "previous_runs"


class ExperimentBusy(RuntimeError):
    """Another process holds the experiment directory's lock."""


class ExperimentLock:
    """An exclusive lock on an experiment directory, held until :meth:`release` or process exit.

    Args:
        directory: the experiment directory (created when missing).

    Raises:
        ExperimentBusy: another process holds it; the message names that process.
    """

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / LOCK_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO | None = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "an unknown process"
            self._file.close()
            self._file = None
            raise ExperimentBusy(
                f"{self.path.parent} is in use by another training ({holder}); wait for it to "
                f"finish or stop it, or train in another directory"
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(
            f"pid {os.getpid()} on {socket.gethostname()}, started "
            f"{time.strftime('%Y-%m-%dT%H:%M:%S')}: {' '.join(sys.argv)}\n"
        )
        self._file.flush()

    def release(self) -> None:
        """Give the lock up (it is also released when the process ends)."""
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = value


def _show(value: Any, limit: int = 60) -> str:
    text = "(absent)" if value is _ABSENT else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_ABSENT = object()


def config_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The keys (dotted paths) whose values differ between two resolved configs, each as
    ``"key: old -> new"``, leaving out :data:`RESUME_SAFE_KEYS`; empty when resuming is safe.

    Args:
        old: the config the directory was trained with.
        new: this run's config.
    """
    flat_old: dict[str, Any] = {}
    flat_new: dict[str, Any] = {}
    _flatten(old, "", flat_old)
    _flatten(new, "", flat_new)
    out = []
    for key in sorted(set(flat_old) | set(flat_new)):
        if key.split(".")[0] in RESUME_SAFE_KEYS:
            continue
        a, b = flat_old.get(key, _ABSENT), flat_new.get(key, _ABSENT)
        if a == b:
            continue
        if key == "token_list" and isinstance(a, list) and isinstance(b, list):
            out.append(f"token_list: {token_list_difference(a, b)}")
        else:
            out.append(f"{key}: {_show(a)} -> {_show(b)}")
    return out


def move_previous_run(directory: str | Path) -> Path | None:
    """Move every file of an earlier run in ``directory`` (checkpoints, models, plots, config,
    decoding results) into ``directory/previous_runs/<time>/``, leaving the launcher's files
    (train.log, run.sh, the lock). Returns the new folder, or None when there was nothing."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    items = [
        p
        for p in sorted(directory.iterdir())
        if p.name not in LAUNCHER_FILES and p.name != PREVIOUS_RUNS
    ]
    if not items:
        return None
    dest = directory / PREVIOUS_RUNS / time.strftime("%Y%m%dT%H%M%S")
    n = 0
    while dest.exists():
        n += 1
        dest = dest.with_name(f"{dest.name.split('.')[0]}.{n}")
    dest.mkdir(parents=True)
    for p in items:
        p.rename(dest / p.name)
    return dest
