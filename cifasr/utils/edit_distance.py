"""Levenshtein distance between token sequences (unit costs)."""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(hyp: Sequence, ref: Sequence) -> int:
    """Minimum number of substitutions, insertions and deletions turning ``hyp`` into ``ref``.

    O(len(hyp) * len(ref)) time, O(len(ref)) memory; sequences of any hashable-comparable items.
    """
    if len(hyp) < len(ref):
        hyp, ref = ref, hyp
    prev = list(range(len(ref) + 1))
    for i, h in enumerate(hyp, 1):
        cur = [i]
        for j, r in enumerate(ref, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (h != r)))
        prev = cur
    return prev[-1]
