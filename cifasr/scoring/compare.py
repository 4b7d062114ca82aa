"""Compare systems on the same test sets: error rates over seeds, paired bootstrap intervals of
the differences, and the choice of a decoding weight on a development set.

Per-utterance error counts come from the ``ref.trn``/``hyp.trn`` pair that scoring leaves in each
``score_<metric>`` directory, aligned exactly as sclite aligns them
(:func:`cifasr.scoring.align.align_batch`), so every figure here equals the ``Err`` of that
directory's ``result.txt``.

Noise. A difference between two systems is shown with a 95% interval from the paired bootstrap
over utterances (Bisani & Ney, ICASSP 2004): resample the test utterances with replacement,
recompute both error rates on the same resample, take the 2.5th and 97.5th percentiles of the
difference. With several training seeds per system, each utterance's errors are averaged over the
seeds first, and the seeds' own spread (min-max) is shown beside the mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cifasr.scoring.align import align_batch
from cifasr.scoring.trn import read_trn


@dataclass(frozen=True)
class UtteranceErrors:
    """Per-utterance scores of one decoding of one set.

    Attributes:
        labels: the trn labels (``spk-utt``), sorted.
        errors: (U,) substitutions + deletions + insertions per utterance.
        ref_tokens: (U,) reference tokens per utterance.
    """

    labels: tuple[str, ...]
    errors: np.ndarray
    ref_tokens: np.ndarray

    @property
    def error_rate(self) -> float:
        """Errors per reference token, in percent."""
        return 100.0 * float(self.errors.sum()) / max(int(self.ref_tokens.sum()), 1)


def read_utterance_errors(score_dir: str | Path) -> UtteranceErrors:
    """The per-utterance errors of a ``score_<metric>`` directory (its ``ref.trn``/``hyp.trn``).

    Raises:
        FileNotFoundError: a trn file is missing.
        ValueError: the two files do not hold the same utterances.
    """
    score_dir = Path(score_dir)
    refs = dict(read_trn(score_dir / "ref.trn"))
    hyps = dict(read_trn(score_dir / "hyp.trn"))
    if refs.keys() != hyps.keys():
        missing = sorted(refs.keys() ^ hyps.keys())[:3]
        raise ValueError(f"{score_dir}: ref.trn and hyp.trn differ in utterances, e.g. {missing}")
    labels = tuple(sorted(refs))
    alignments = align_batch([refs[k] for k in labels], [hyps[k] for k in labels])
    return UtteranceErrors(
        labels,
        np.array([a.errors for a in alignments], dtype=np.int64),
        np.array([len(refs[k]) for k in labels], dtype=np.int64),
    )


@dataclass(frozen=True)
class Cell:
    """One system on one column: the mean error rate over seeds and each seed's."""

    mean: float
    seeds: tuple[float, ...]

    def render(self) -> str:
        """``12.3`` for one seed, ``12.3 (11.9-12.7)`` with the seeds' range for several."""
        if len(self.seeds) == 1:
            return f"{self.mean:.1f}"
        return f"{self.mean:.1f} ({min(self.seeds):.1f}-{max(self.seeds):.1f})"


@dataclass(frozen=True)
class Difference:
    """A system minus the baseline on one column, in error-rate points, with its interval."""

    value: float
    low: float
    high: float

    def render(self) -> str:
        """``-1.2 [-2.0, -0.4]``; an interval that excludes 0 is marked ``*``."""
        mark = "*" if self.low > 0 or self.high < 0 else ""
        return f"{self.value:+.1f} [{self.low:+.1f}, {self.high:+.1f}]{mark}"


def mean_over_seeds(runs: Sequence[UtteranceErrors]) -> tuple[np.ndarray, np.ndarray]:
    """(U,) errors averaged over seeds and (U,) reference lengths; every run must score the same
    utterances."""
    first = runs[0]
    for r in runs[1:]:
        if r.labels != first.labels:
            raise ValueError("the seeds of a system were scored on different utterances")
    return np.mean([r.errors for r in runs], axis=0), first.ref_tokens


def paired_bootstrap(
    system: Sequence[UtteranceErrors],
    baseline: Sequence[UtteranceErrors],
    samples: int = 1000,
    seed: int = 0,
) -> Difference:
    """The error-rate difference ``system - baseline`` (percent points) and its 95% paired
    bootstrap interval over utterances (seeds averaged per utterance first).

    Raises:
        ValueError: the two systems were scored on different utterances.
    """
    sys_err, ref = mean_over_seeds(system)
    base_err, base_ref = mean_over_seeds(baseline)
    if system[0].labels != baseline[0].labels or not np.array_equal(ref, base_ref):
        raise ValueError("the two systems were scored on different utterances")
    diff_err = sys_err - base_err
    value = 100.0 * diff_err.sum() / max(ref.sum(), 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(ref), size=(samples, len(ref)))
    boot = 100.0 * diff_err[idx].sum(axis=1) / np.maximum(ref[idx].sum(axis=1), 1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return Difference(float(value), float(low), float(high))


@dataclass
class Comparison:
    """Rows (systems, each with one or more seed directories) x columns (decodings/sets)."""

    rows: list[str]
    columns: list[str]
    runs: dict[tuple[str, str], list[UtteranceErrors]]  # (row, column) -> one per seed found

    def cell(self, row: str, column: str) -> Cell | None:
        runs = self.runs.get((row, column))
        if not runs:
            return None
        seeds = tuple(r.error_rate for r in runs)
        errors, ref = mean_over_seeds(runs)
        return Cell(100.0 * float(errors.sum()) / max(int(ref.sum()), 1), seeds)

    def difference(
        self, row: str, column: str, baseline: str, samples: int = 1000
    ) -> Difference | None:
        a, b = self.runs.get((row, column)), self.runs.get((baseline, column))
        if not a or not b:
            return None
        return paired_bootstrap(a, b, samples)


def collect(
    rows: Sequence[tuple[str, Sequence[Path]]],
    columns: Sequence[tuple[str, str]],
    metric: str = "cer",
) -> Comparison:
    """Read ``<exp_dir>/<column path>/score_<metric>`` of every row's experiment directories (one
    per seed); a missing score directory leaves that seed out (an empty cell when none has it)."""
    runs: dict[tuple[str, str], list[UtteranceErrors]] = {}
    for label, exp_dirs in rows:
        for column, path in columns:
            found = []
            for exp_dir in exp_dirs:
                score_dir = Path(exp_dir) / path / f"score_{metric}"
                if (score_dir / "ref.trn").is_file() and (score_dir / "hyp.trn").is_file():
                    found.append(read_utterance_errors(score_dir))
            runs[(label, column)] = found
    return Comparison([r for r, _ in rows], [c for c, _ in columns], runs)


def render_error_table(comparison: Comparison) -> str:
    """``| Method | <columns> |``: mean error rate per cell (seed range when several)."""
    lines = [
        f"| Method | {' | '.join(comparison.columns)} |",
        "|---|" + "---|" * len(comparison.columns),
    ]
    for row in comparison.rows:
        cells = [comparison.cell(row, c) for c in comparison.columns]
        lines.append(f"| {row} | {' | '.join(c.render() if c else '-' for c in cells)} |")
    return "\n".join(lines) + "\n"


def render_difference_table(comparison: Comparison, baseline: str, samples: int = 1000) -> str:
    """``| Method - <baseline> | <columns> |``: each other row's difference from the baseline
    with its 95% paired bootstrap interval."""
    if baseline not in comparison.rows:
        raise ValueError(f"baseline '{baseline}' is not a row ({', '.join(comparison.rows)})")
    lines = [
        f"| Method - {baseline} | {' | '.join(comparison.columns)} |",
        "|---|" + "---|" * len(comparison.columns),
    ]
    for row in comparison.rows:
        if row == baseline:
            continue
        diffs = [comparison.difference(row, c, baseline, samples) for c in comparison.columns]
        lines.append(f"| {row} | {' | '.join(d.render() if d else '-' for d in diffs)} |")
    return "\n".join(lines) + "\n"


def choose_weight(error_rates: Mapping[float, float]) -> float:
    """The weight with the lowest error rate; among equal ones the smallest weight.

    Raises:
        ValueError: no weight was scored.
    """
    if not error_rates:
        raise ValueError("no decoding was scored: nothing to choose from")
    return min(error_rates, key=lambda w: (round(error_rates[w], 6), w))
