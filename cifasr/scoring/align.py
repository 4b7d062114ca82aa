"""sclite's word alignment, batched over sentences.

sclite (SCTK ``net_dp.c`` with ``word.c``'s ``wwd_WORD``) aligns reference ``a`` against
hypothesis ``b`` by dynamic programming with costs correct 0, substitution 4, insertion 3,
deletion 3, and resolves ties per cell in a fixed order: the diagonal (correct/substitution) if
it is <= both others, else deletion if strictly cheaper than insertion, else insertion. Equal-cost
paths can differ in their counts (3 substitutions cost the same as 1 correct + 2 insertions +
2 deletions), so the tie order is mirrored exactly to reproduce sclite's per-sentence
Corr/Sub/Del/Ins, not only its totals.

The recurrence is evaluated one reference row at a time for a whole padded batch of sentences;
within a row the insertion chain ``D[a][b] = min(cand[b], D[a][b-1] + 3)`` is a running minimum
(``D[a][b] = 3b + cummin_k(cand[k] - 3k)``), so no Python loop runs over cells.

>>> align(["a", "b", "c"], ["a", "x", "c"]).ops
'CSC'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

SUB_COST = 4
INS_COST = 3
DEL_COST = 3

# Back-pointer codes; the op codes are the ASCII letters sclite prints, so a row of them
# decodes straight into a string.
_DIAG, _DEL, _INS = 0, 1, 2
OP_CORRECT, OP_SUB, OP_DEL, OP_INS = ord("C"), ord("S"), ord("D"), ord("I")

# Padding ids that never equal a real token id (ids are >= 0) nor each other.
_REF_PAD, _HYP_PAD = -1, -2


@dataclass(frozen=True)
class Alignment:
    """One sentence aligned the way sclite aligns it.

    ``ops`` has one letter per aligned column, left to right: ``C`` correct, ``S``
    substitution, ``D`` deletion (reference token, no hypothesis token), ``I`` insertion.
    The counts are computed once (reports ask for them many times).
    """

    ref: Sequence[str]
    hyp: Sequence[str]
    ops: str

    @cached_property
    def corr(self) -> int:
        return self.ops.count("C")

    @cached_property
    def sub(self) -> int:
        return self.ops.count("S")

    @cached_property
    def dele(self) -> int:
        return self.ops.count("D")

    @cached_property
    def ins(self) -> int:
        return self.ops.count("I")

    @cached_property
    def errors(self) -> int:
        return len(self.ops) - self.corr

    def pairs(self) -> list[tuple[str | None, str | None, str]]:
        """Aligned columns as ``(ref_token or None, hyp_token or None, op)``."""
        out: list[tuple[str | None, str | None, str]] = []
        i = j = 0
        for op in self.ops:
            r = self.ref[i] if op != "I" else None
            h = self.hyp[j] if op != "D" else None
            i += op != "I"
            j += op != "D"
            out.append((r, h, op))
        return out


def _align_padded(
    ref_ids: np.ndarray, hyp_ids: np.ndarray, ref_len: np.ndarray, hyp_len: np.ndarray
) -> np.ndarray:
    """Align a padded batch; return the ops, right-aligned and reversed.

    Args:
        ref_ids: (B, N) int64 token ids, padded with ``_REF_PAD``.
        hyp_ids: (B, M) int64 token ids, padded with ``_HYP_PAD``.
        ref_len, hyp_len: (B,) true lengths.
    Returns:
        (B, N + M) uint8: row ``i`` holds sentence ``i``'s ops from last to first, then zeros.
    """
    batch, n_ref = ref_ids.shape
    n_hyp = hyp_ids.shape[1]
    # int32 costs: half the memory traffic of int64, and 2**31 / 4 tokens is never reached.
    steps = INS_COST * np.arange(n_hyp + 1, dtype=np.int32)
    back = np.empty((batch, n_ref + 1, n_hyp + 1), dtype=np.int8)
    back[:, 0, :] = _INS  # first row: only insertions reach it
    back[:, :, 0] = _DEL  # first column: only deletions
    prev = np.broadcast_to(steps, (batch, n_hyp + 1)).copy()
    cand = np.empty_like(prev)
    for a in range(1, n_ref + 1):
        diag = prev[:, :-1] + np.int32(SUB_COST) * (ref_ids[:, a - 1 : a] != hyp_ids)
        dele = prev[:, 1:] + DEL_COST
        cand[:, 0] = prev[:, 0] + DEL_COST
        np.minimum(diag, dele, out=cand[:, 1:])
        cur = np.minimum.accumulate(cand - steps, axis=1) + steps
        ins = cur[:, :-1] + INS_COST
        take_diag = (diag <= dele) & (diag <= ins)
        take_del = ~take_diag & (dele < ins)
        back[:, a, 1:] = np.where(take_diag, _DIAG, np.where(take_del, _DEL, _INS))
        prev = cur

    # Backtrace every sentence at once; finished ones stand still at (0, 0). A padding column
    # keeps the token look-up valid when a whole batch has empty references or hypotheses.
    ref_ids = np.concatenate([ref_ids, np.full((batch, 1), _REF_PAD)], axis=1)
    hyp_ids = np.concatenate([hyp_ids, np.full((batch, 1), _HYP_PAD)], axis=1)
    rows = np.arange(batch)
    a = ref_len.astype(np.int64)
    b = hyp_len.astype(np.int64)
    out = np.zeros((batch, n_ref + n_hyp), dtype=np.uint8)
    for t in range(int((a + b).max(initial=0))):
        active = (a > 0) | (b > 0)
        code = back[rows, a, b]
        is_diag = active & (code == _DIAG)
        is_del = active & (code == _DEL)
        is_ins = active & (code == _INS)
        same = ref_ids[rows, np.maximum(a - 1, 0)] == hyp_ids[rows, np.maximum(b - 1, 0)]
        out[:, t] = np.where(
            is_diag,
            np.where(same, OP_CORRECT, OP_SUB),
            np.where(is_del, OP_DEL, np.where(is_ins, OP_INS, 0)),
        )
        a -= is_diag | is_del
        b -= is_diag | is_ins
    return out


def align_batch(
    refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]], max_cells: int = 1 << 20
) -> list[Alignment]:
    """Align each reference with its hypothesis exactly as sclite does.

    Sentences are sorted by length and processed in padded batches of at most ``max_cells``
    DP cells (one byte of back-pointer each; batches that fit the CPU caches run fastest), so
    one long outlier does not inflate the rest.
    Tokens are compared as given (case folding is the caller's choice).
    """
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    vocab: dict[str, int] = {}
    ref_ids = [np.array([vocab.setdefault(t, len(vocab)) for t in r], dtype=np.int64) for r in refs]
    hyp_ids = [np.array([vocab.setdefault(t, len(vocab)) for t in h], dtype=np.int64) for h in hyps]
    ref_lens = [len(r) for r in ref_ids]
    hyp_lens = [len(h) for h in hyp_ids]
    order = sorted(range(len(refs)), key=lambda i: (ref_lens[i], hyp_lens[i]))
    results: list[Alignment | None] = [None] * len(refs)

    start = 0
    while start < len(order):
        # Grow the batch while the padded table fits the budget (always at least one).
        end, max_n, max_m = start, 0, 0
        while end < len(order):
            i = order[end]
            n, m = max(max_n, ref_lens[i]), max(max_m, hyp_lens[i])
            if end > start and (end - start + 1) * (n + 1) * (m + 1) > max_cells:
                break
            max_n, max_m, end = n, m, end + 1
        idx = order[start:end]
        r_pad = np.full((len(idx), max_n), _REF_PAD, dtype=np.int64)
        h_pad = np.full((len(idx), max_m), _HYP_PAD, dtype=np.int64)
        for row, i in enumerate(idx):
            r_pad[row, : ref_lens[i]] = ref_ids[i]
            h_pad[row, : hyp_lens[i]] = hyp_ids[i]
        r_len = np.array([ref_lens[i] for i in idx], dtype=np.int64)
        h_len = np.array([hyp_lens[i] for i in idx], dtype=np.int64)
        ops = _align_padded(r_pad, h_pad, r_len, h_len)
        n_ops = (ops != 0).sum(axis=1)
        for row, i in enumerate(idx):
            text = ops[row, : n_ops[row]][::-1].tobytes().decode("ascii")
            results[i] = Alignment(ref=refs[i], hyp=hyps[i], ops=text)
        start = end
    return results  # type: ignore[return-value]


def align(ref: Sequence[str], hyp: Sequence[str]) -> Alignment:
    """Align one sentence as sclite does (see :func:`align_batch`)."""
    return align_batch([ref], [hyp])[0]
