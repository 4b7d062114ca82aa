"""Stage 10: global CMVN statistics in one streaming pass, split across jobs and merged.

The file format is ESPnet's ``feats_stats.npz``: ``count`` (int64 scalar, frames), ``sum`` (D,)
float64 and ``sum_square`` (D,) float64; :class:`cifasr.frontend.normalize.GlobalMVN` reads it.
Sums are accumulated in float64 per utterance, so splitting the work across jobs changes the
result only by float64 rounding. A non-finite feature value (inf/nan) would make every statistic
non-finite and the normalised features of every utterance NaN: it is refused, naming the
utterance, and non-finite statistics are never written or merged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cifasr.data.ark import read_matrix
from cifasr.data.kaldi_files import read_kaldi_entries

logger = logging.getLogger(__name__)


@dataclass
class CmvnStats:
    """Frame count, per-dimension sum and sum of squares."""

    count: int
    sum: np.ndarray
    sum_square: np.ndarray

    @classmethod
    def zeros(cls, dim: int) -> CmvnStats:
        """Empty statistics of dimension ``dim``."""
        return cls(0, np.zeros(dim, np.float64), np.zeros(dim, np.float64))

    def add(self, feats: np.ndarray) -> None:
        """Accumulate (frames, D) features."""
        x = np.asarray(feats, dtype=np.float64)
        self.count += x.shape[0]
        self.sum += x.sum(axis=0)
        self.sum_square += np.einsum("td,td->d", x, x)

    def merge(self, other: CmvnStats) -> None:
        """Add another job's statistics."""
        if other.sum.shape != self.sum.shape:
            raise ValueError(
                f"cannot merge CMVN stats of dimension {other.sum.shape} into {self.sum.shape}"
            )
        self.count += other.count
        self.sum += other.sum
        self.sum_square += other.sum_square

    def mean_std(self, eps: float = 1e-20) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation (population variance, floored at ``eps``)."""
        mean = self.sum / max(self.count, 1)
        var = self.sum_square / max(self.count, 1) - mean**2
        return mean, np.sqrt(np.maximum(var, eps))

    def check_finite(self, source: str) -> None:
        """Raise ValueError (naming ``source``) unless every statistic is finite."""
        bad = ~(np.isfinite(self.sum) & np.isfinite(self.sum_square))
        if bad.any():
            raise ValueError(
                f"{source}: CMVN statistics are not finite in {int(bad.sum())} of {bad.size} "
                f"dimensions (e.g. dimension {int(np.flatnonzero(bad)[0])}); the features "
                f"they were computed from hold inf or nan values: recompute them (stage 3)"
            )

    def save(self, path: str | Path) -> None:
        """Write ``feats_stats.npz`` (ESPnet's keys); refuses non-finite statistics."""
        self.check_finite(f"cannot write {path}")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            np.savez(
                f,
                count=np.int64(self.count),
                sum=self.sum.astype(np.float64),
                sum_square=self.sum_square.astype(np.float64),
            )

    @classmethod
    def load(cls, path: str | Path) -> CmvnStats:
        """Read a file written by :meth:`save` (or by ESPnet)."""
        with np.load(path) as stats:
            missing = {"count", "sum", "sum_square"} - set(stats.files)
            if missing:
                raise ValueError(f"{path}: not a feats_stats.npz, missing keys {sorted(missing)}")
            return cls(
                int(stats["count"]),
                stats["sum"].astype(np.float64),
                stats["sum_square"].astype(np.float64),
            )


def accumulate_cmvn(feats_scp: str | Path) -> CmvnStats:
    """Statistics of every utterance of a feats.scp (one pass, one matrix in memory at a time).

    Raises:
        ValueError: the scp is empty, two utterances differ in dimension, or an utterance has
            inf/nan values (names the scp line and the key).
        cifasr.data.ark.ArkReadError: an entry cannot be read (names the scp line and key).
    """
    stats: CmvnStats | None = None
    entries = read_kaldi_entries(feats_scp)
    if not entries:
        raise ValueError(f"{feats_scp}: no utterances")
    for e in entries:
        feats = read_matrix(e.value, source=f"{feats_scp}: line {e.line}: utterance '{e.key}'")
        if stats is None:
            stats = CmvnStats.zeros(feats.shape[1])
        elif feats.shape[1] != stats.sum.shape[0]:
            raise ValueError(
                f"{feats_scp}: line {e.line}: utterance '{e.key}' has dimension {feats.shape[1]}, "
                f"earlier utterances {stats.sum.shape[0]}"
            )
        finite = np.isfinite(feats)
        if not finite.all():
            frames = np.flatnonzero(~finite.all(axis=1))
            raise ValueError(
                f"{feats_scp}: line {e.line}: utterance '{e.key}' has {int((~finite).sum())} "
                f"inf/nan feature value(s) in {frames.size} frame(s) (first: frame "
                f"{int(frames[0])}); they would make the CMVN statistics non-finite. Check its "
                f"audio and features, or remove it from the data directory"
            )
        stats.add(feats)
    assert stats is not None
    logger.info("cmvn: %s: %d utterances, %d frames", feats_scp, len(entries), stats.count)
    return stats


def merge_cmvn_files(paths: Iterable[str | Path]) -> CmvnStats:
    """Sum the statistics of several job files."""
    total: CmvnStats | None = None
    for p in paths:
        stats = CmvnStats.load(p)
        if total is None:
            total = stats
        else:
            total.merge(stats)
    if total is None:
        raise ValueError("merge_cmvn_files: no files given")
    total.check_finite("merge_cmvn_files")
    return total
