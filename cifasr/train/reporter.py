"""Training statistics: weighted per-epoch means, history, best-epoch queries.

Each batch's stats (per-token values) are accumulated weighted by the batch's token count, so an
epoch mean is the mean over tokens, whatever the batch sizes. The whole state is plain Python
data and travels in ``checkpoint.pth``.

Several processes: each accumulates its own sums; the epoch means all-reduce them over the UNION
of every process's keys (a process that saw no validation batch, or decoded nothing, adds zeros),
so every process makes the same collective calls whatever it registered.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist

from cifasr.train.distributed import collective_device


class Reporter:
    """Accumulates stats per phase (``train``/``valid``) and keeps the per-epoch history."""

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self._sums: dict[str, dict[str, float]] = defaultdict(dict)
        self._weights: dict[str, dict[str, float]] = defaultdict(dict)

    # ---------------------------------------------------------------- accumulation
    def register(self, phase: str, stats: Mapping[str, float], weight: float) -> None:
        """Add one batch: ``stats`` are per-token values, ``weight`` the batch's token count.
        Non-finite values are not accumulated (a skipped step is counted by the trainer)."""
        sums, weights = self._sums[phase], self._weights[phase]
        for k, v in stats.items():
            v = float(v)
            if not math.isfinite(v):
                continue
            sums[k] = sums.get(k, 0.0) + v * weight
            weights[k] = weights.get(k, 0.0) + weight

    def add(self, phase: str, key: str, value: float) -> None:
        """Add to a plain counter (e.g. ``skipped_steps``), reported as a sum."""
        self._sums[phase][key] = self._sums[phase].get(key, 0.0) + value
        self._weights[phase].setdefault(key, 0.0)

    def add_ratio(self, phase: str, key: str, numerator: float, denominator: float) -> None:
        """Add to a ratio reported as sum(numerator) / sum(denominator), e.g. a CER as edit
        errors over reference tokens. Nothing is added when ``denominator`` is 0."""
        if denominator <= 0:
            return
        self._sums[phase][key] = self._sums[phase].get(key, 0.0) + float(numerator)
        self._weights[phase][key] = self._weights[phase].get(key, 0.0) + float(denominator)

    def _pairs(
        self, phases: list[str] | None, distributed: bool
    ) -> dict[str, dict[str, tuple[float, float]]]:
        """``phase -> key -> (sum, weight)`` of ``phases`` (None: all), summed over processes
        when ``distributed``; every process must then make this call with the same arguments."""
        local = sorted(
            (p, k) for p in self._sums if phases is None or p in phases for k in self._sums[p]
        )
        several = (
            distributed
            and dist.is_available()
            and dist.is_initialized()
            and dist.get_world_size() > 1
        )
        keys = local
        if several:
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, local)
            keys = sorted({tuple(pk) for part in gathered for pk in part})
        values = [
            [self._sums.get(p, {}).get(k, 0.0), self._weights.get(p, {}).get(k, 0.0)]
            for p, k in keys
        ]
        t = torch.tensor(values, dtype=torch.float64).reshape(len(keys), 2)
        if several and keys:  # the same key list on every process: the same call everywhere
            t = t.to(collective_device())
            dist.all_reduce(t)
            t = t.cpu()
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for (p, k), (s, w) in zip(keys, t.tolist()):
            out.setdefault(p, {})[k] = (s, w)
        return out

    def means(self, phase: str, distributed: bool = False) -> dict[str, float]:
        """Current weighted means of a phase (sums for plain counters), over all processes when
        ``distributed`` (a collective call: every process must make it)."""
        pairs = self._pairs([phase], distributed).get(phase, {})
        return {k: (s / w if w > 0 else s) for k, (s, w) in pairs.items()}

    def finish_epoch(self, epoch: int, extra: Mapping[str, Any], distributed: bool = False) -> dict:
        """Close the epoch: store every phase's means (and ``extra``, e.g. lr, time) in history.
        With ``distributed``, a collective call over the phases and keys of all processes."""
        record: dict[str, Any] = {"epoch": epoch, **extra}
        for phase, pairs in sorted(self._pairs(None, distributed).items()):
            record[phase] = {k: (s / w if w > 0 else s) for k, (s, w) in pairs.items()}
        self.history.append(record)
        self._sums.clear()
        self._weights.clear()
        return record

    def reset_phase(self, phase: str) -> None:
        self._sums.pop(phase, None)
        self._weights.pop(phase, None)

    # ---------------------------------------------------------------- queries
    def value(self, epoch: int, phase: str, key: str) -> float | None:
        for rec in self.history:
            if rec["epoch"] == epoch:
                return rec.get(phase, {}).get(key)
        return None

    def sorted_epochs(self, phase: str, key: str, mode: str) -> list[tuple[int, float]]:
        """``(epoch, value)`` best first; ``mode`` is ``min`` or ``max``."""
        if mode not in ("min", "max"):
            raise ValueError(f"best_model_criterion mode must be min or max, got '{mode}'")
        rows = [
            (rec["epoch"], rec[phase][key])
            for rec in self.history
            if phase in rec and key in rec[phase]
        ]
        return sorted(rows, key=lambda r: (r[1] if mode == "min" else -r[1], -r[0]))

    def best_epoch(self, phase: str, key: str, mode: str) -> int | None:
        rows = self.sorted_epochs(phase, key, mode)
        return rows[0][0] if rows else None

    def epochs_without_improvement(self, phase: str, key: str, mode: str) -> int:
        """Epochs since the best one (0 when the last epoch is the best)."""
        best = self.best_epoch(phase, key, mode)
        if best is None or not self.history:
            return 0
        return self.history[-1]["epoch"] - best

    # ---------------------------------------------------------------- checkpointing
    def state_dict(self, distributed: bool = False) -> dict[str, Any]:
        """Plain-data state; with ``distributed`` (a collective call) the running sums are those
        of all processes, so that a resumed run counts every process's part of the epoch once
        (load it with ``sums=True`` on one process only)."""
        if distributed:
            pairs = self._pairs(None, True)
            sums = {p: {k: sw[0] for k, sw in kv.items()} for p, kv in pairs.items()}
            weights = {p: {k: sw[1] for k, sw in kv.items()} for p, kv in pairs.items()}
        else:
            sums = {k: dict(v) for k, v in self._sums.items()}
            weights = {k: dict(v) for k, v in self._weights.items()}
        return {"history": self.history, "sums": sums, "weights": weights}

    def load_state_dict(self, state: Mapping[str, Any], sums: bool = True) -> None:
        """Restore the history and, with ``sums``, the running sums of the current epoch."""
        self.history = list(state["history"])
        self._sums = defaultdict(dict)
        self._weights = defaultdict(dict)
        if sums:
            self._sums.update({k: dict(v) for k, v in state["sums"].items()})
            self._weights.update({k: dict(v) for k, v in state["weights"].items()})
