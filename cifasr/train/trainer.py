"""The training loop: epochs of optimiser updates, validation, checkpoints, exact resume.

An update is ``accum_grad`` batches on every process. Its loss is the sum of every term over all
those batches divided by their total token count (``<sos/eos>`` included), all-reduced before the
backward passes, so N processes with a global batch split between them compute the same update as
one process with that whole batch (fairseq's per-token normalisation, docs/losses.md §1).

Resume: ``checkpoint.pth`` (written atomically every epoch and every ``save_every_steps``
updates) holds the model, optimiser, scheduler, grad scaler, reporter, the position in the epoch
and every RNG state, so re-running the same command after a crash continues with the same data
order and the same random draws, ending with the weights an uninterrupted run would have. It also
records the token list's hash: resuming with another token list is refused.

Several processes (``torchrun``): every process runs the same number of updates and takes part
in the same collectives. ``sync_batchnorm`` makes BatchNorm use the statistics of the global batch
(:mod:`cifasr.train.sync_batchnorm`); validation runs on every process over its share of the
validation set, and the validation decode likewise over its share of the decode subset, its
edit errors and reference tokens summed over processes, so the reported CER is that of the
whole subset whatever the number of processes (a process with nothing to validate adds zeros).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import humanfriendly
import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from cifasr.train.checkpoint import (
    TokenListMismatch,
    average_checkpoints,
    load_checkpoint,
    save_atomic,
    token_list_hash,
)
from cifasr.train.distributed import DistInfo, all_reduce_sum, barrier
from cifasr.train.options import TrainerOptions
from cifasr.train.plot import plot_curves
from cifasr.train.reporter import Reporter
from cifasr.train.sync_batchnorm import convert_sync_batchnorm
from cifasr.train.valid_cer import count_errors
from cifasr.utils.precision import resolve_precision

logger = logging.getLogger(__name__)

Batch = dict[str, Any]


class TooManyBadSteps(RuntimeError):
    """Raised after ``max_bad_steps`` consecutive non-finite updates."""


@dataclass
class TrainData:
    """What the trainer needs to read data, independent of how batches are made.

    Attributes:
        train_batches: ``(epoch, start) -> iterator`` over this process's training batches of that
            epoch, beginning at global batch ``start`` (the same order for a given epoch).
        num_train_batches: ``epoch -> number of global batches`` in that epoch.
        valid_batches: ``() -> iterable`` over this process's validation batches (possibly
            none).
        decode_batches: ``() -> iterable`` over this process's share of the validation subset
            for the greedy decode (every process) and the CIF plots (rank 0's first batches);
            None disables both.
    """

    train_batches: Callable[[int, int], Iterator[Batch]]
    num_train_batches: Callable[[int], int]
    valid_batches: Callable[[], Iterable[Batch]] | None = None
    decode_batches: Callable[[], Iterable[Batch]] | None = None


def set_all_random_seed(seed: int) -> None:
    """Seed python, numpy and torch (every device)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Every RNG state as tensors and plain data (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_tuples(state["python"]))
    n = state["numpy"]
    np.random.set_state(
        (
            n["name"],
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(x: Any) -> Any:
    """random.setstate needs tuples; a checkpoint round trip may have made lists of them."""
    return tuple(_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x


def _to_device(batch: Batch, device: torch.device) -> Batch:
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }


def _model_inputs(batch: Batch) -> Batch:
    return {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}


class Trainer:
    """Runs training for a model built by :func:`cifasr.tasks.asr.build_model`.

    Args:
        model: the model (not yet wrapped in DDP; the trainer wraps it).
        optimizer: its optimiser.
        scheduler: an lr scheduler stepped once per update, or None.
        options: the trainer options.
        data: the data callbacks.
        output_dir: the experiment directory (checkpoints, images, tensorboard).
        dist_info: this process's rank and device.
        decode_fn: ``(model, batch) -> list of unit sequences``, the hypotheses of the validation
            greedy decode as CER units (see :func:`cifasr.train.valid_cer.cer_units`; None: no
            decode CER).
        refs_fn: ``batch -> list of unit sequences``, the references of a batch as CER units.
        plot_fn: ``(model, batch, path_prefix) -> None`` writes CIF firing plots (None: none).
        token_list: the token list the model's ids index; its hash goes into ``checkpoint.pth``
            and a checkpoint of another list is not resumed (None: not checked).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None,
        options: TrainerOptions,
        data: TrainData,
        output_dir: str | Path,
        dist_info: DistInfo | None = None,
        decode_fn: Callable[[nn.Module, Batch], list[Sequence[Hashable]]] | None = None,
        refs_fn: Callable[[Batch], list[Sequence[Hashable]]] | None = None,
        plot_fn: Callable[[nn.Module, Batch, Path], None] | None = None,
        token_list: Sequence[str] | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.opts = options
        self.data = data
        self.output_dir = Path(output_dir)
        self.dist = dist_info or DistInfo()
        self.decode_fn = decode_fn
        self.refs_fn = refs_fn
        self.plot_fn = plot_fn
        self.token_list = list(token_list) if token_list is not None else None
        self.reporter = Reporter()
        self.epoch = 1
        self.batch_in_epoch = 0  # global batches of the current epoch already consumed
        self.num_updates = 0
        self.bad_steps = 0  # consecutive non-finite updates
        self.precision = resolve_precision(self.opts.amp, self.dist.device)
        self.precision.log(logger)
        self.scaler = torch.amp.GradScaler(
            self.dist.device.type, enabled=self.precision.grad_scaler
        )
        self.ddp_model: nn.Module = model
        if self.dist.distributed:
            if self.opts.sync_batchnorm:
                self.model = model = convert_sync_batchnorm(model, self.dist.device)
            self.ddp_model = nn.parallel.DistributedDataParallel(
                model,
                device_ids=[self.dist.device] if self.dist.device.type == "cuda" else None,
                find_unused_parameters=self.opts.find_unused_parameters,
            )
        self.tb = self._tensorboard()

    # ------------------------------------------------------------------ set-up
    def _autocast(self):  # noqa: ANN202 - a context manager
        return self.precision.autocast(self.dist.device.type)

    def _tensorboard(self) -> Any:
        if not (self.opts.use_tensorboard and self.dist.is_main):
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            logger.info(
                "tensorboard is not installed; no TensorBoard logs (pip install tensorboard)"
            )
            return None
        return SummaryWriter(str(self.output_dir / "tensorboard"))

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_path(self) -> Path:
        return self.output_dir / "checkpoint.pth"

    def state_dict(self) -> dict[str, Any]:
        """The whole training state (a collective call with several processes: the reporter's
        running sums are those of every process)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(),
            "reporter": self.reporter.state_dict(distributed=self.dist.distributed),
            "token_list_sha1": (
                token_list_hash(self.token_list) if self.token_list is not None else None
            ),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "num_updates": self.num_updates,
            "bad_steps": self.bad_steps,
            "rng": rng_state(),
        }

    def save_checkpoint(self) -> None:
        """Write ``checkpoint.pth`` (rank 0; every process must call it)."""
        state = self.state_dict()
        if self.dist.is_main:
            save_atomic(state, self.checkpoint_path)
            logger.info(
                "saved %s (epoch %d, batch %d, update %d)",
                self.checkpoint_path,
                self.epoch,
                self.batch_in_epoch,
                self.num_updates,
            )

    def resume(self) -> bool:
        """Continue from ``checkpoint.pth`` when it exists; True when resumed."""
        if not self.checkpoint_path.exists():
            return False
        state = load_checkpoint(self.checkpoint_path, map_location=self.dist.device)
        self._check_token_list(state.get("token_list_sha1"))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        # the saved sums are those of all processes: restore them on one process only
        self.reporter.load_state_dict(state["reporter"], sums=self.dist.is_main)
        self.epoch = state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.num_updates = state["num_updates"]
        self.bad_steps = state["bad_steps"]
        set_rng_state(state["rng"])
        logger.info(
            "resumed from %s: epoch %d, batch %d, update %d",
            self.checkpoint_path,
            self.epoch,
            self.batch_in_epoch,
            self.num_updates,
        )
        return True

    def _check_token_list(self, saved: str | None) -> None:
        if self.token_list is None or saved is None or saved == token_list_hash(self.token_list):
            return
        raise TokenListMismatch(
            f"{self.checkpoint_path} was trained with another token list (sha1 {saved[:12]}) than "
            f"this run's ({len(self.token_list)} tokens, sha1 "
            f"{token_list_hash(self.token_list)[:12]}); its output ids would mean other tokens. "
            f"Train in a new --output_dir, or restore the token list it was trained with"
        )

    # ------------------------------------------------------------------ main loop
    def run(self) -> None:
        """Train until ``max_epoch``, ``max_update`` or early stopping, then average."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.resume()
        start = time.perf_counter()
        while self.epoch <= self.opts.max_epoch and not self._update_limit_reached():
            epoch = self.epoch
            t0 = time.perf_counter()
            self.train_epoch(epoch)
            if self._update_limit_reached() and self.batch_in_epoch < self.data.num_train_batches(
                epoch
            ):
                logger.info("reached max_update=%d in epoch %d", self.opts.max_update, epoch)
            self.validate(epoch)
            record = self.reporter.finish_epoch(
                epoch,
                {
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "time": time.perf_counter() - t0,
                    "num_updates": self.num_updates,
                },
                distributed=self.dist.distributed,
            )
            self._log_epoch(record)
            self.epoch = epoch + 1
            self.batch_in_epoch = 0
            if self.dist.is_main:
                self._save_epoch(epoch)
            self.save_checkpoint()
            if self._should_stop_early():
                break
        if self.dist.is_main:
            self._finish()
        # Every process leaves together: a rank that tore down its process group while rank 0
        # still wrote the final checkpoints was seen to abort in gloo's teardown (exit code 1).
        barrier(self.dist)
        logger.info(
            "training done in %s", humanfriendly.format_timespan(time.perf_counter() - start)
        )

    def _update_limit_reached(self) -> bool:
        return self.opts.max_update > 0 and self.num_updates >= self.opts.max_update

    # ------------------------------------------------------------------ one epoch
    def train_epoch(self, epoch: int) -> None:
        """Updates over the epoch's batches, from ``batch_in_epoch`` on."""
        self.model.train()
        total = self.data.num_train_batches(epoch)
        batches = self.data.train_batches(epoch, self.batch_in_epoch)
        accum = max(1, self.opts.accum_grad)
        interval: dict[str, float] = {}
        interval_start = time.perf_counter()
        interval_first = self.batch_in_epoch + 1
        while self.batch_in_epoch < total and not self._update_limit_reached():
            group = []
            for _ in range(accum):
                try:
                    group.append(next(batches))
                except StopIteration:
                    break
            if not group:
                break
            stats = self.train_step(group)
            self.batch_in_epoch += len(group)
            for k, v in stats.items():
                interval[k] = interval.get(k, 0.0) + v
            interval["steps"] = interval.get("steps", 0.0) + 1
            if self.num_updates % self.opts.log_interval == 0 or self.batch_in_epoch >= total:
                self._log_interval(epoch, interval_first, total, interval, interval_start)
                interval, interval_start = {}, time.perf_counter()
                interval_first = self.batch_in_epoch + 1
            if (
                self.opts.save_every_steps > 0
                and self.num_updates % self.opts.save_every_steps == 0
            ):
                self.save_checkpoint()

    def train_step(self, group: list[Batch]) -> dict[str, float]:
        """One optimiser update over ``group`` (this process's share of ``accum_grad`` batches).

        Returns:
            timings, grad norm and lr for the interval log.
        """
        t0 = time.perf_counter()
        device = self.dist.device
        group = [_to_device(b, device) for b in group]
        local_tokens = sum(int((b["text_lengths"] + 1).sum()) for b in group)
        global_tokens = float(
            all_reduce_sum(torch.tensor(float(local_tokens), device=device), self.dist)
        )
        t_forward = t_backward = 0.0
        bad = False
        # BatchNorm updates its running statistics in the forward pass; a step skipped for
        # NaN/Inf must not leave them poisoned, so keep a copy (a few KB) to restore.
        buffers = [b.detach().clone() for b in self.model.buffers() if b.is_floating_point()]
        for i, batch in enumerate(group):
            sync = i == len(group) - 1
            ctx = (
                self.ddp_model.no_sync() if (self.dist.distributed and not sync) else nullcontext()
            )
            with ctx:
                t1 = time.perf_counter()
                with self._autocast():
                    loss, stats, weight = self.ddp_model(**_model_inputs(batch))
                t2 = time.perf_counter()
                # per-token mean over the whole update on every process (DDP averages gradients)
                scaled = loss * (float(weight) * self.dist.world_size / max(global_tokens, 1.0))
                bad = bad or not math.isfinite(float(loss.detach()))
                self.scaler.scale(scaled).backward()
                t_backward += time.perf_counter() - t2
                t_forward += t2 - t1
            self.reporter.register("train", stats, float(weight))
        t3 = time.perf_counter()
        if self.dist.distributed:
            flag = torch.tensor(float(bad), device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            bad = bool(flag.item())
        self.scaler.unscale_(self.optimizer)
        max_norm = self.opts.grad_clip if self.opts.grad_clip > 0 else float("inf")
        grad_norm = float(nn.utils.clip_grad_norm_(self.model.parameters(), max_norm))
        if bad or not math.isfinite(grad_norm):
            if self.scaler.is_enabled() and not bad:
                # fp16 overflow: the scaler skips the step and lowers the scale; not an error
                self.scaler.step(self.optimizer)
                self.scaler.update()
                if self.dist.is_main:
                    self.reporter.add("train", "fp16_overflows", 1.0)
            else:
                with torch.no_grad():
                    live = [b for b in self.model.buffers() if b.is_floating_point()]
                    for b, saved in zip(live, buffers):
                        b.copy_(saved)
                self._bad_step(grad_norm)
            self.optimizer.zero_grad(set_to_none=True)
            return {"iter_time": time.perf_counter() - t0}
        self.bad_steps = 0
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.scheduler is not None:
            self.scheduler.step()
        self.num_updates += 1
        t4 = time.perf_counter()
        return {
            "iter_time": t4 - t0,
            "forward_time": t_forward,
            "backward_time": t_backward,
            "optim_step_time": t4 - t3,
            "grad_norm": grad_norm,
            "lr": self.optimizer.param_groups[0]["lr"],
        }

    def _bad_step(self, grad_norm: float) -> None:
        self.bad_steps += 1
        if self.dist.is_main:  # every process skips the same steps: count them once
            self.reporter.add("train", "skipped_steps", 1.0)
        logger.warning(
            "non-finite loss or gradient (grad norm %s) at update %d: step skipped "
            "(%d in a row, limit %d)",
            grad_norm,
            self.num_updates + 1,
            self.bad_steps,
            self.opts.max_bad_steps,
        )
        if self.bad_steps >= self.opts.max_bad_steps:
            raise TooManyBadSteps(
                f"{self.bad_steps} consecutive updates had a non-finite loss or gradient "
                f"(epoch {self.epoch}, batch {self.batch_in_epoch}). Lower the learning rate, "
                f"check the data (stage 4 filters utterances too short for their text), or raise "
                f"max_bad_steps; the last good state is in {self.checkpoint_path}"
            )

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self, epoch: int) -> None:
        """Every loss term and the teacher-forced metrics on the validation set, plus a greedy
        decode CER on a subset, sample hypotheses and (rank 0) CIF plots. Each process works on
        its share; the epoch's means are reduced over processes by the reporter."""
        if self.data.valid_batches is None:
            return
        self.model.eval()
        self.reporter.reset_phase("valid")
        for batch in self.data.valid_batches():
            batch = _to_device(batch, self.dist.device)
            with self._autocast():
                _, stats, weight = self.model(**_model_inputs(batch))
            self.reporter.register("valid", stats, float(weight))
        if self.data.decode_batches is not None:
            self._decode_subset(epoch)
        self.model.train()

    def _decode_subset(self, epoch: int) -> None:
        """Greedy decode of this process's share of the decode subset: ``cer`` = edit errors
        over reference units (tokens, ``<unk>`` one unit), summed over every process."""
        errors = units = plotted = 0
        samples: list[tuple[str, str, str]] = []
        plot_dir = self.output_dir / "images" / "cif"
        decode = (
            self.decode_fn is not None
            and self.refs_fn is not None
            and self.opts.valid_decode_utts > 0
        )
        plot = self.dist.is_main and self.plot_fn is not None and self.opts.plot_utts > 0
        if not (decode or plot):
            return
        for batch in self.data.decode_batches():
            batch = _to_device(batch, self.dist.device)
            if plot and plotted < self.opts.plot_utts:
                plot_dir.mkdir(parents=True, exist_ok=True)
                self.plot_fn(self.model, batch, plot_dir / f"{epoch}epoch")
                plotted += len(batch["utt_id"])
            if not decode:
                if plotted >= self.opts.plot_utts:
                    break
                continue
            with self._autocast():
                hyps = self.decode_fn(self.model, batch)
            refs = self.refs_fn(batch)
            e, n = count_errors(hyps, refs)
            errors, units = errors + e, units + n
            for utt, hyp, ref in zip(batch["utt_id"], hyps, refs):
                if len(samples) < 3:
                    samples.append((utt, "".join(map(str, ref)), "".join(map(str, hyp))))
        self.reporter.add_ratio("valid", "cer", errors, units)
        if decode:
            logger.info(
                "validation decode%s: %d errors in %d reference tokens",
                f" (rank {self.dist.rank}'s share)" if self.dist.distributed else "",
                errors,
                units,
            )
        for utt, ref, hyp in samples:
            logger.info("%s REF: %s", utt, ref)
            logger.info("%s HYP: %s", utt, hyp)

    # ------------------------------------------------------------------ epoch end
    def _log_interval(
        self, epoch: int, first: int, total: int, interval: dict[str, float], start: float
    ) -> None:
        steps = interval.pop("steps", 1.0) or 1.0
        means = self.reporter.means("train")
        elapsed = time.perf_counter() - start
        per_batch = elapsed / max(self.batch_in_epoch - first + 1, 1)
        remaining = (total - self.batch_in_epoch) * per_batch
        parts = [f"{k}={v / steps:.3g}" for k, v in interval.items() if k not in ("lr",)]
        if "lr" in interval:
            parts.append(f"lr={self.optimizer.param_groups[0]['lr']:.3e}")
        parts += [f"{k}={v:.4g}" for k, v in means.items()]
        logger.info(
            "%depoch:train:%d-%dbatch: %s, epoch ETA=%s",
            epoch,
            first,
            self.batch_in_epoch,
            ", ".join(parts),
            humanfriendly.format_timespan(remaining, max_units=2),
        )
        if self.tb is not None:
            for k, v in interval.items():
                self.tb.add_scalar(f"train/{k}", v / steps, self.num_updates)

    def _log_epoch(self, record: dict[str, Any]) -> None:
        epoch = record["epoch"]
        for phase in ("train", "valid"):
            if phase in record:
                text = ", ".join(f"{k}={v:.4g}" for k, v in record[phase].items())
                logger.info("%depoch results: [%s] %s", epoch, phase, text)
                if self.tb is not None:
                    for k, v in record[phase].items():
                        self.tb.add_scalar(f"{phase}_epoch/{k}", v, epoch)
        left = self.opts.max_epoch - epoch
        logger.info(
            "%depoch took %s; %d epochs left, about %s",
            epoch,
            humanfriendly.format_timespan(record["time"], max_units=2),
            left,
            humanfriendly.format_timespan(left * record["time"], max_units=2),
        )

    def _save_epoch(self, epoch: int) -> None:
        """``{N}epoch.pth``, best-model links, pruning, curves."""
        save_atomic(self.model.state_dict(), self.output_dir / f"{epoch}epoch.pth")
        keep = set(range(epoch - self.opts.keep_last_epochs + 1, epoch + 1))
        for phase, key, mode in self.opts.best_model_criterion:
            ranked = self.reporter.sorted_epochs(phase, key, mode)
            if not ranked:
                continue
            keep |= {e for e, _ in ranked[: self.opts.keep_nbest_models]}
            best_epoch, best_value = ranked[0]
            link = self.output_dir / f"{phase}.{key}.best.pth"
            target = f"{best_epoch}epoch.pth"
            if not link.is_symlink() or str(link.readlink()) != target:
                link.unlink(missing_ok=True)
                link.symlink_to(target)
            if best_epoch == epoch:
                logger.info("the best %s.%s so far: %.5g", phase, key, best_value)
        for path in self.output_dir.glob("*epoch.pth"):
            stem = path.name[: -len("epoch.pth")]
            if stem.isdigit() and int(stem) not in keep:
                path.unlink()
        plot_curves(self.reporter.history, self.output_dir / "images")

    def _should_stop_early(self) -> bool:
        if self.opts.patience <= 0 or not self.opts.best_model_criterion:
            return False
        phase, key, mode = self.opts.best_model_criterion[0]
        waited = self.reporter.epochs_without_improvement(phase, key, mode)
        if waited >= self.opts.patience:
            logger.info(
                "early stopping: %s.%s has not improved for %d epochs (patience %d)",
                phase,
                key,
                waited,
                self.opts.patience,
            )
            return True
        return False

    def _finish(self) -> None:
        """Average the last N epochs and the best N by the first criterion."""
        epochs = sorted(
            int(p.name[: -len("epoch.pth")])
            for p in self.output_dir.glob("*epoch.pth")
            if p.name[: -len("epoch.pth")].isdigit()
        )
        n = self.opts.average_last_epochs
        if n > 0 and epochs:
            last = epochs[-n:]
            if len(last) < n:
                logger.info("only %d epoch checkpoints exist; averaging those", len(last))
            path = self.output_dir / f"ave_last{n}epoch.pth"
            save_atomic(
                average_checkpoints([self.output_dir / f"{e}epoch.pth" for e in last]), path
            )
            logger.info("wrote %s (epochs %s)", path, ", ".join(map(str, last)))
        if self.opts.best_model_criterion and self.opts.keep_nbest_models > 0:
            phase, key, mode = self.opts.best_model_criterion[0]
            ranked = [e for e, _ in self.reporter.sorted_epochs(phase, key, mode) if e in epochs]
            best = ranked[: self.opts.keep_nbest_models]
            if best:
                path = self.output_dir / f"{phase}.{key}.ave_{self.opts.keep_nbest_models}best.pth"
                save_atomic(
                    average_checkpoints([self.output_dir / f"{e}epoch.pth" for e in best]), path
                )
                link = self.output_dir / f"{phase}.{key}.ave.pth"
                link.unlink(missing_ok=True)
                link.symlink_to(path.name)
                logger.info("wrote %s (epochs %s)", path, ", ".join(map(str, best)))
