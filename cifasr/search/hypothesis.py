"""A decoded hypothesis; how a fixed-length token sequence becomes one (docs/decoding.md §2.3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Hypothesis(NamedTuple):
    """One decoding result.

    Attributes:
        token_ids: the kept token ids: the sequence truncated at the first ``<sos/eos>``, with
            ``<blank>`` dropped. ``<unk>`` is kept: the caller decides how to print it (the token
            list's ``<unk>`` string, or nothing).
        score: the total log-probability over all S_b steps (decoder log p plus ``lm_weight``
            times LM log p), including steps after the first ``<sos/eos>``: every hypothesis of
            an utterance has the same length, so there is no length normalisation.
        fire_index: for each kept token, its position in the CIF sequence (0-based), which maps
            to the CIF fire frame for timestamps.
    """

    token_ids: list[int]
    score: float
    fire_index: list[int]


def make_hypothesis(steps: Sequence[int], score: float, eos_id: int, blank_id: int) -> Hypothesis:
    """Truncate ``steps`` (a token per CIF position) at the first ``eos_id``; drop ``blank_id``."""
    token_ids: list[int] = []
    fire_index: list[int] = []
    for position, token in enumerate(steps):
        if token == eos_id:
            break
        if token != blank_id:
            token_ids.append(token)
            fire_index.append(position)
    return Hypothesis(token_ids, score, fire_index)


def check_special_ids(eos_id: int, blank_id: int, unk_id: int) -> None:
    """The three ids must differ, or ``<unk>`` would be dropped or truncated on."""
    if len({eos_id, blank_id, unk_id}) != 3:
        raise ValueError(
            f"eos_id ({eos_id}), blank_id ({blank_id}) and unk_id ({unk_id}) must be distinct; "
            "ESPnet token lists use <blank> 0, <unk> 1 and <sos/eos> last"
        )
