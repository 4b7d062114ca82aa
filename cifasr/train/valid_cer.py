"""The units of the validation CER: characters, counted from token ids.

A CER computed on detokenised strings counts ``<unk>`` as the five characters ``<``, ``u``,
``n``, ``k``, ``>``; here every token id maps to its scoring units directly: a character token is
one unit, a sentencepiece piece is its characters (without the word-boundary mark ``▁``), and a
token that stands for no character (``<unk>``) is one unit of its own.

>>> from cifasr.data.tokenizer import Tokenizer
>>> tok = Tokenizer(["<blank>", "<unk>", "你", "好", "<sos/eos>"])
>>> cer_units([2, 1, 3], tok)
['你', '<unk>', '好']
>>> count_errors([["你", "<unk>"]], [["你", "好", "<unk>"]])
(1, 3)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

from cifasr.data.tokenizer import Tokenizer
from cifasr.utils.edit_distance import edit_distance

WORD_BOUNDARY = "\u2581"  # sentencepiece's '▁'


def cer_units(ids: Iterable[int], tokenizer: Tokenizer) -> list[str]:
    """Scoring units of token ids (``<blank>``, ``<sos/eos>`` and padding ids skipped).

    Args:
        ids: token ids of one utterance.
        tokenizer: the tokenizer of the token list the ids index.

    Returns:
        the units, in order.
    """
    units: list[str] = []
    skip = {tokenizer.blank_id, tokenizer.sos_eos_id}
    for i in ids:
        i = int(i)
        if i < 0 or i in skip:
            continue
        token = tokenizer.tokens[i]
        if tokenizer.token_type == "char" or i == tokenizer.unk_id:
            units.append(token)
        else:
            units.extend(c for c in token.replace(WORD_BOUNDARY, "") if not c.isspace())
    return units


def count_errors(
    hyps: Sequence[Sequence[Hashable]], refs: Sequence[Sequence[Hashable]]
) -> tuple[int, int]:
    """Edit errors summed over utterances and the number of reference units.

    Args:
        hyps: hypothesis units per utterance.
        refs: reference units per utterance, as many as ``hyps``.

    Returns:
        (errors, reference units); the CER is their ratio.
    """
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    errors = sum(edit_distance(list(h), list(r)) for h, r in zip(hyps, refs))
    return errors, sum(len(r) for r in refs)
