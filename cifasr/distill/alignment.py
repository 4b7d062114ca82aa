"""Align PLM token vectors to ASR target positions (docs/distillation.md §3). Pure functions.

The teacher matrix of an utterance has one row per ASR target position: N rows for the N ASR
tokens, then one row for the end token ``<sos/eos>``, which takes the PLM's closing special
token ([SEP] for BERT). The PLM's opening special token ([CLS]) is dropped.

An alignment is a weight matrix ``W`` of shape (N + 1, P) over the P PLM positions of the
tokenised text (special tokens included): teacher = W @ plm_hidden. A row that is all zeros means
"no PLM vector for this position"; the distillers then see a zero teacher row (the same thing the
original does when the CIF emits more vectors than the teacher has rows, docs/distillation.md §4).

Two ways to fill ``W``:

* positional (character token lists, as the original): the j-th PLM content token goes to the
  j-th ASR token, truncated to the shorter side; missing rows stay zero.
* offsets (BPE, words, mixed scripts): row j averages the PLM content tokens whose character span
  overlaps ASR token j's span; a token covered by no PLM token stays zero.

Either way the utterance is reported as aligned imperfectly (with the reason) when a row other
than a deliberate word-boundary row has no PLM vector, or when the counts differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Span = tuple[int, int]

SPM_SPACE = "\u2581"  # sentencepiece's word-boundary marker


@dataclass(frozen=True)
class Alignment:
    """PLM positions -> ASR target positions for one utterance.

    Attributes:
        weights: (N + 1, P) float32; row i is the convex combination of PLM positions that gives
            the teacher vector of target position i (the last row is the end token); an all-zero
            row means no teacher vector (it stays zero).
        problem: why the alignment is imperfect, or None when every row has its PLM vector and
            (positional) the counts agree.
    """

    weights: np.ndarray
    problem: str | None = None

    @property
    def num_rows(self) -> int:
        """N + 1: ASR tokens plus the end token."""
        return int(self.weights.shape[0])


def char_spans(text: str) -> list[Span]:
    """Character spans of the character tokens of ``text``: every non-whitespace character is one
    token (the char token list of cifasr.data), so "我 们" gives [(0, 1), (2, 3)]."""
    return [(i, i + 1) for i, ch in enumerate(text) if not ch.isspace()]


def word_spans(text: str) -> list[Span]:
    """Character spans of the whitespace-separated words of ``text``."""
    spans: list[Span] = []
    start = None
    for i, ch in enumerate(text):
        if ch.isspace():
            if start is not None:
                spans.append((start, i))
                start = None
        elif start is None:
            start = i
    if start is not None:
        spans.append((start, len(text)))
    return spans


def piece_spans(pieces: Sequence[str], normalized: str, offsets: Sequence[int]) -> list[Span]:
    """Spans in the original text of sentencepiece pieces.

    Args:
        pieces: the pieces of the text (their concatenation is ``normalized``).
        normalized: sentencepiece's normalised text (``"▁hello▁world"``).
        offsets: for each character of ``normalized`` plus one for its end, the character
            position in the original text it came from (``sp.normalize(text, with_offsets=True)``).

    Returns:
        One (start, end) span per piece, leaving out its leading word-boundary marks. A piece that
        is only a boundary mark (``"▁"``, emitted before a word that starts with a rare
        character) gets the span of the character that follows it, so it shares the PLM vector
        of the word it opens.

    Raises:
        ValueError: the pieces do not concatenate to ``normalized`` (a different model was used).
    """
    if "".join(pieces) != normalized:
        raise ValueError(
            f"sentencepiece pieces {list(pieces)!r} do not spell the normalised text "
            f"{normalized!r}: were the pieces made by another model?"
        )
    if len(offsets) != len(normalized) + 1:
        raise ValueError(
            f"{len(offsets)} offsets for a normalised text of {len(normalized)} characters; "
            "expected one per character plus one for the end"
        )
    spans: list[Span] = []
    pos = 0
    for piece in pieces:
        body = piece.lstrip(SPM_SPACE)
        begin = pos + len(piece) - len(body)
        end = pos + len(piece)
        if body:
            spans.append((int(offsets[begin]), int(offsets[end])))
        else:
            # A bare boundary mark: borrow the first character of the next word.
            spans.append((int(offsets[end]), int(offsets[end]) + 1))
        pos = end
    return spans


def _content_and_end(
    special_mask: Sequence[int], token_ids: Sequence[int], end_ids: Sequence[int]
) -> tuple[np.ndarray, int | None]:
    """Positions of the PLM content tokens and of the closing special token (None when absent)."""
    special = np.asarray(special_mask, dtype=bool)
    content = np.flatnonzero(~special)
    start = int(content[-1]) + 1 if content.size else 0
    ids = np.asarray(token_ids)
    closing = np.flatnonzero(special[start:] & np.isin(ids[start:], np.asarray(end_ids)))
    end = start + int(closing[0]) if closing.size else None
    return content, end


def positional_alignment(
    num_tokens: int,
    special_mask: Sequence[int],
    token_ids: Sequence[int],
    end_ids: Sequence[int],
) -> Alignment:
    """The original's alignment: j-th PLM content token -> j-th ASR token, [SEP] -> end token.

    Args:
        num_tokens: N, the number of ASR tokens of the utterance.
        special_mask: (P,) 1 on the PLM's special tokens ([CLS], [SEP]) and padding, 0 on content.
        token_ids: (P,) PLM token ids (used to find the closing special token).
        end_ids: ids that close a sequence (``sep_token_id``/``eos_token_id``).

    Returns:
        The (N + 1, P) one-hot alignment. Rows beyond the PLM's content tokens stay zero and the
        extra PLM tokens are dropped (truncated to the shorter side); both count as imperfect.
    """
    num_plm = len(special_mask)
    content, end = _content_and_end(special_mask, token_ids, end_ids)
    weights = np.zeros((num_tokens + 1, num_plm), dtype=np.float32)
    n = min(num_tokens, content.size)
    weights[np.arange(n), content[:n]] = 1.0
    problems = []
    if content.size != num_tokens:
        problems.append(f"PLM gave {content.size} tokens for {num_tokens} ASR tokens")
    if end is None:
        problems.append("no closing special token (truncated by the PLM's maximum length?)")
    else:
        weights[num_tokens, end] = 1.0
    return Alignment(weights, "; ".join(problems) or None)


def offset_alignment(
    token_spans: Sequence[Span],
    plm_offsets: Sequence[Span],
    special_mask: Sequence[int],
    token_ids: Sequence[int],
    end_ids: Sequence[int],
) -> Alignment:
    """Average the PLM content tokens that overlap each ASR token (character offsets).

    Args:
        token_spans: N (start, end) character spans of the ASR tokens in the text the PLM read.
        plm_offsets: (P,) (start, end) character spans of the PLM tokens (the fast tokenizer's
            ``offset_mapping``); ignored on special tokens.
        special_mask: (P,) 1 on special tokens and padding.
        token_ids: (P,) PLM token ids.
        end_ids: ids that close a sequence.

    Returns:
        The (N + 1, P) alignment; row j weights 1/k each of the k PLM tokens overlapping token j
        (zero row and imperfect when k = 0); the last row is the closing special token.
    """
    num_tokens = len(token_spans)
    num_plm = len(special_mask)
    content, end = _content_and_end(special_mask, token_ids, end_ids)
    weights = np.zeros((num_tokens + 1, num_plm), dtype=np.float32)
    problems = []
    if num_tokens and content.size:
        spans = np.asarray(token_spans, dtype=np.int64).reshape(-1, 2)
        offs = np.asarray(plm_offsets, dtype=np.int64).reshape(-1, 2)[content]
        nonempty = offs[:, 1] > offs[:, 0]
        overlap = (
            (offs[None, :, 0] < spans[:, None, 1])
            & (spans[:, None, 0] < offs[None, :, 1])
            & nonempty[None, :]
        )
        counts = overlap.sum(1, keepdims=True)
        weights[:num_tokens, content] = overlap / np.maximum(counts, 1)
        uncovered = int((counts[:, 0] == 0).sum())
    else:
        uncovered = num_tokens
    if uncovered:
        problems.append(f"{uncovered} of {num_tokens} ASR tokens covered by no PLM token")
    if end is None:
        problems.append("no closing special token (truncated by the PLM's maximum length?)")
    else:
        weights[num_tokens, end] = 1.0
    return Alignment(weights, "; ".join(problems) or None)
