"""The built-in alignment reproduces sclite's per-sentence counts, ties included.

Expected op strings were produced by sclite 2.10 (SCTK) on the same pairs
(``-i rm -o pralign``); they hold without sclite installed.
"""

import random

import pytest

from cifasr.scoring.align import align, align_batch

# (reference, hypothesis, sclite's Eval column as C/S/D/I)
SCLITE_CASES = [
    ("ABC", "AXC", "CSC"),  # one substitution
    ("ABC", "CDE", "SSS"),  # tie: 3 sub (12) == D D C I I (12); sclite keeps the substitutions
    ("AB", "BA", "DCI"),  # tie between D C I and I C D
    ("", "AB", "II"),  # empty reference
    ("AB", "", "DD"),  # empty hypothesis
    ("", "", ""),
    ("ABCD", "ABXCD", "CCICC"),
    ("ABC", "XYZW", "ISSS"),  # the insertion goes first
    ("AAB", "AB", "DCC"),
    ("ABAB", "BABA", "DCCCI"),
    ("甲乙丙丁", "乙丙丁戊", "DCCCI"),
    ("ABCDE", "EDCBA", "SSCSS"),
]


@pytest.mark.parametrize(("ref", "hyp", "ops"), SCLITE_CASES)
def test_alignment_equals_sclite(ref, hyp, ops):
    assert align(list(ref), list(hyp)).ops == ops


def test_counts_of_one_substitution():
    a = align(list("ABC"), list("AXC"))
    assert (a.corr, a.sub, a.dele, a.ins, a.errors) == (2, 1, 0, 0, 1)


def test_pairs_walk_both_sides():
    pairs = align(list("AB"), list("BA")).pairs()
    assert pairs == [("A", None, "D"), ("B", "B", "C"), (None, "A", "I")]


def _min_weighted_cost(a, b):
    """Textbook DP with sclite's weights (sub 4, ins 3, del 3), one cell at a time."""
    prev = [3 * j for j in range(len(b) + 1)]
    for i, x in enumerate(a, 1):
        cur = [3 * i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 3, cur[j - 1] + 3, prev[j - 1] + 4 * (x != y)))
        prev = cur
    return prev[-1]


def test_batching_does_not_change_results_and_costs_are_minimal():
    rng = random.Random(0)
    alphabet = "甲乙丙丁"

    def sentence(lengths):
        return [rng.choice(alphabet) for _ in range(rng.choice(lengths))]

    refs = [sentence([0, 1, 3, 12, 40]) for _ in range(120)]
    hyps = [sentence([0, 2, 10, 45]) for _ in range(120)]
    # A tiny cell budget forces many batches of different padded shapes.
    batched = align_batch(refs, hyps, max_cells=300)
    for ref, hyp, got in zip(refs, hyps, batched, strict=True):
        alone = align(ref, hyp)
        assert got.ops == alone.ops
        assert got.corr + got.sub + got.dele == len(ref)
        assert got.corr + got.sub + got.ins == len(hyp)
        assert 4 * got.sub + 3 * (got.dele + got.ins) == _min_weighted_cost(ref, hyp)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        align_batch([["a"], ["b"]], [["a"]])
