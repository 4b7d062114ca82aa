"""The built-in scorer: ``sclite -r REF trn -h HYP trn -i rm -o all stdout`` without sclite.

It reads the same two trn files, aligns every sentence with sclite's costs and tie order
(:mod:`cifasr.scoring.align`), groups sentences by speaker (the label up to its first ``-``,
in hypothesis-file order, as sclite does) and writes sclite's report: the percentage and
count tables followed by the per-sentence alignment dump, so ``result.txt`` reads the same
whichever scorer wrote it.

Scope: plain tokens, case-insensitive for ASCII letters (sclite's default). sclite's trn
syntax for alternations (``{ a / b }``) and null words (``@``) is not interpreted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cifasr.scoring.align import align_batch
from cifasr.scoring.report import SpeakerResult, render_alignment_dump, render_summary
from cifasr.scoring.trn import read_trn


@dataclass(frozen=True)
class ScoreResult:
    """Per-speaker alignments and the report text sclite would print."""

    speakers: list[SpeakerResult]
    report: str

    @property
    def corr(self) -> int:
        return sum(s.corr for s in self.speakers)

    @property
    def sub(self) -> int:
        return sum(s.sub for s in self.speakers)

    @property
    def dele(self) -> int:
        return sum(s.dele for s in self.speakers)

    @property
    def ins(self) -> int:
        return sum(s.ins for s in self.speakers)

    @property
    def n_ref(self) -> int:
        return self.corr + self.sub + self.dele

    @property
    def error_rate(self) -> float:
        """(Sub + Del + Ins) / reference tokens, in percent (0 when there are none)."""
        return 100.0 * (self.sub + self.dele + self.ins) / self.n_ref if self.n_ref else 0.0


def score_trn(ref_trn: str | Path, hyp_trn: str | Path, title: str | None = None) -> ScoreResult:
    """Score a hypothesis trn file against a reference trn file as sclite does.

    Args:
        ref_trn, hyp_trn: trn files (``tokens (spk-utt)`` per line) with the same labels.
        title: system name in the report; sclite uses the ``-h`` path as given, the default.
    Raises:
        ValueError: a label in one file and not the other, naming the label and the file.
    """
    refs = dict(read_trn(ref_trn))
    hyps = read_trn(hyp_trn)
    hyp_labels = {label for label, _ in hyps}
    for label, _ in hyps:
        if label not in refs:
            raise ValueError(f"{hyp_trn}: label ({label}) is not in the reference {ref_trn}")
    for label in refs:
        if label not in hyp_labels:
            raise ValueError(f"{ref_trn}: label ({label}) has no line in the hypothesis {hyp_trn}")

    alignments = align_batch([refs[label] for label, _ in hyps], [tokens for _, tokens in hyps])
    speakers: dict[str, SpeakerResult] = {}
    for (label, _), ali in zip(hyps, alignments, strict=True):
        spk = label.split("-", 1)[0]
        group = speakers.setdefault(spk, SpeakerResult(spk))
        group.labels.append(label)
        group.alignments.append(ali)
    groups = list(speakers.values())

    name = str(hyp_trn) if title is None else title
    report = render_summary(name, groups, raw=False) + render_summary(name, groups, raw=True)
    report += render_alignment_dump(name, groups)
    return ScoreResult(speakers=groups, report=report)
