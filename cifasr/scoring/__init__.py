"""sclite-compatible scoring: trn files, sclite's alignment and report, RESULTS.md."""

from cifasr.scoring.align import Alignment, align, align_batch
from cifasr.scoring.builtin import ScoreResult, score_trn
from cifasr.scoring.report import parse_sum_avg
from cifasr.scoring.results_md import parse_results_md, render_results_md, write_results_md
from cifasr.scoring.sclite import find_sclite, run_sclite
from cifasr.scoring.scorer import ScoreSummary, score_text

__all__ = [
    "Alignment",
    "ScoreResult",
    "ScoreSummary",
    "align",
    "align_batch",
    "find_sclite",
    "parse_results_md",
    "parse_sum_avg",
    "render_results_md",
    "run_sclite",
    "score_text",
    "score_trn",
    "write_results_md",
]
