"""Score a decoded Kaldi ``text`` against the reference ``text``: stage 13 for one set.

Writes ``ref.trn`` and ``hyp.trn`` (``tokens<TAB>(spk-utt)``, ESPnet's format) and
``result.txt`` into the score directory, with sclite when it is installed (``scorer="auto"``)
and the built-in scorer otherwise. Both write the same report: the SPKR / Sum/Avg tables
and then the per-sentence alignment dump (REF / HYP / Eval lines), all in ``result.txt``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cifasr.scoring.builtin import score_trn
from cifasr.scoring.report import parse_sum_avg
from cifasr.scoring.sclite import find_sclite, run_sclite
from cifasr.scoring.trn import build_trn_pair, read_kaldi_text, read_utt2spk, write_trn

logger = logging.getLogger(__name__)

SCORERS = ("auto", "sclite", "builtin")


@dataclass(frozen=True)
class ScoreSummary:
    """What one scoring run produced."""

    scorer: str  # "sclite" or "builtin", the one actually used
    result_path: Path
    sum_avg: dict[str, str]  # the Sum/Avg row as printed: Snt, Wrd, Corr, Sub, Del, Ins, Err, S.Err
    n_missing_hyp: int


def resolve_scorer(scorer: str, sclite: str | None = None) -> tuple[str, str | None]:
    """Choose the scorer: ``("sclite", path)`` or ``("builtin", None)``.

    ``auto`` takes sclite when found (PATH or ``/usr/lib/sctk/bin/sclite``); ``sclite``
    without one is an error saying how to install it.
    """
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; choose one of {SCORERS}")
    if scorer == "builtin":
        return "builtin", None
    path = sclite or find_sclite()
    if path is None:
        if scorer == "sclite":
            raise FileNotFoundError(
                "sclite not found on PATH or at /usr/lib/sctk/bin/sclite; install it "
                "(Debian/Ubuntu: apt-get install sctk) or use --scorer builtin"
            )
        logger.info("sclite not found; using the built-in scorer")
        return "builtin", None
    return "sclite", path


def score_text(
    ref: str | Path,
    hyp: str | Path,
    output_dir: str | Path,
    utt2spk: str | Path | None = None,
    scorer: str = "auto",
    token_type: str = "char",
    remove_tokens: Sequence[str] = (),
    sclite: str | None = None,
    vocabulary: Sequence[str] | None = None,
) -> ScoreSummary:
    """Score Kaldi text ``hyp`` against ``ref`` into ``output_dir`` (files are overwritten).

    Args:
        ref, hyp: Kaldi text files (``utt_id text...``).
        output_dir: receives ref.trn, hyp.trn and result.txt.
        utt2spk: speakers for the SPKR table; without it, the utterance id up to its first
            ``-`` or ``_`` (an id with neither is its own speaker).
        scorer: ``auto`` | ``sclite`` | ``builtin``.
        token_type: ``char`` (CER; ``<unk>``-style symbols stay whole) or ``word`` (WER).
        remove_tokens: tokens dropped from both sides before scoring (e.g. ``<unk>``).
        sclite: explicit sclite binary (else searched).
        vocabulary: the model's token list: tokens outside it become ``<unk>`` on both sides
            (the original's scoring); None scores them as they are (ESPnet's).
    """
    used, binary = resolve_scorer(scorer, sclite)
    ref_text = read_kaldi_text(ref)
    hyp_text = read_kaldi_text(hyp)
    spk = read_utt2spk(utt2spk) if utt2spk is not None else None
    pair = build_trn_pair(
        ref_text,
        hyp_text,
        spk,
        token_type,
        remove_tokens,
        hyp_name=str(hyp),
        ref_name=str(ref),
        vocabulary=vocabulary,
    )
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_trn(out / "ref.trn", pair.labels, pair.refs)
    write_trn(out / "hyp.trn", pair.labels, pair.hyps)

    if used == "sclite":
        assert binary is not None
        report = run_sclite(binary, out)
    else:
        report = score_trn(out / "ref.trn", out / "hyp.trn", title="hyp.trn").report
    result = out / "result.txt"
    result.write_text(report, encoding="utf-8", errors="surrogateescape")
    return ScoreSummary(
        scorer=used,
        result_path=result,
        sum_avg=parse_sum_avg(report),
        n_missing_hyp=pair.n_missing_hyp,
    )


def summary_lines(report: str) -> list[str]:
    """The lines ESPnet shows after scoring (``grep -e Avg -e SPKR -m 2 result.txt``)."""
    return [line for line in report.splitlines() if "Avg" in line or "SPKR" in line][:2]
