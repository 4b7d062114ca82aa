"""Training statistics: weighted per-epoch means, history, best-epoch queries.

Each batch's stats (per-token values) are accumulated weighted by the batch's token count, so an
epoch mean is the mean over tokens, whatever the batch sizes. The whole state is plain Python
data and travels in ``checkpoint.pth``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist


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

    def means(self, phase: str, distributed: bool = False) -> dict[str, float]:
        """Current weighted means of a phase (sums for plain counters), over all processes when
        ``distributed``."""
        sums, weights = self._sums[phase], self._weights[phase]
        keys = sorted(sums)
        if distributed and dist.is_available() and dist.is_initialized():
            t = torch.tensor([[sums[k], weights[k]] for k in keys], dtype=torch.float64)
            if len(keys):
                dist.all_reduce(t)
            pairs = {k: (float(t[i, 0]), float(t[i, 1])) for i, k in enumerate(keys)}
        else:
            pairs = {k: (sums[k], weights[k]) for k in keys}
        return {k: (s / w if w > 0 else s) for k, (s, w) in pairs.items()}

    def finish_epoch(self, epoch: int, extra: Mapping[str, Any], distributed: bool = False) -> dict:
        """Close the epoch: store every phase's means (and ``extra``, e.g. lr, time) in history."""
        record: dict[str, Any] = {"epoch": epoch, **extra}
        for phase in sorted(self._sums):
            record[phase] = self.means(phase, distributed)
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
    def state_dict(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "sums": {k: dict(v) for k, v in self._sums.items()},
            "weights": {k: dict(v) for k, v in self._weights.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.history = list(state["history"])
        self._sums = defaultdict(dict, {k: dict(v) for k, v in state["sums"].items()})
        self._weights = defaultdict(dict, {k: dict(v) for k, v in state["weights"].items()})
