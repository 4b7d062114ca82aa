"""From running Chinese text to short clauses of Han characters only, with a count of each drop.

The steps, in order (each one counted in ``ClauseStats``):

1. NFKC normalisation (full-width digits and letters become ASCII, compatibility ideographs
   and Kangxi radicals become the unified characters);
2. split into clauses at punctuation, spaces and control characters (Unicode categories P*, Z*,
   C*); symbols, digits and letters stay inside the clause;
3. keep a clause only when every character is a Han character (``is_han``): a clause with a
   digit, a Latin letter or a symbol is dropped whole, never cut into fragments;
4. keep clauses of ``min_chars``..``max_chars`` characters;
5. drop exact duplicates (of a clause kept before, from any source sharing the ``seen`` set).

>>> stats = ClauseStats()
>>> select_clauses(["１９９８年，我们迈向充满希望的新世纪。好！"], 3, 20, set(), stats)
['我们迈向充满希望的新世纪']
>>> stats.non_han, stats.too_short
(1, 1)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass

# Han characters (Unicode script Han, the ideographs): the unified blocks, extension A, the
# supplementary-plane extensions B..H, the compatibility block and the ideographic zero 〇.
_HAN_ONLY = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U000323af\uf900-\ufaff\u3007]+")


def is_han(text: str) -> bool:
    """Whether ``text`` is non-empty and made of Han ideographs only."""
    return _HAN_ONLY.fullmatch(text) is not None


def normalise(text: str) -> str:
    """Unicode NFKC."""
    return unicodedata.normalize("NFKC", text)


def split_clauses(text: str) -> list[str]:
    """``text`` cut at every punctuation, separator or control character (empty parts dropped).

    >>> split_clauses("你好，世界！ 1998年")
    ['你好', '世界', '1998年']
    """
    out: list[str] = []
    start = 0
    for i, c in enumerate(text):
        if unicodedata.category(c)[0] in "PZC":
            if i > start:
                out.append(text[start:i])
            start = i + 1
    if len(text) > start:
        out.append(text[start:])
    return out


@dataclass
class ClauseStats:
    """Counts of one ``select_clauses`` run (or several, added up)."""

    documents: int = 0
    clauses: int = 0
    non_han: int = 0  # dropped: a character that is not Han
    too_short: int = 0  # dropped: fewer than min_chars
    too_long: int = 0  # dropped: more than max_chars
    duplicates: int = 0  # dropped: the same clause was kept before
    kept: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def select_clauses(
    documents: Iterable[str], min_chars: int, max_chars: int, seen: set[str], stats: ClauseStats
) -> list[str]:
    """The new distinct Han-only clauses of ``min_chars``..``max_chars`` characters, in order.

    Args:
        documents: running text, one string per line or document.
        min_chars, max_chars: the clause length range in characters, inclusive.
        seen: clauses kept before (updated in place): a repeat is counted and dropped.
        stats: counts, updated in place.
    """
    if not 1 <= min_chars <= max_chars:
        raise ValueError(
            f"cifasr/corpus/clauses.py: clause length range {min_chars}..{max_chars}: "
            "need 1 <= min_chars <= max_chars"
        )
    kept: list[str] = []
    for doc in documents:
        stats.documents += 1
        for clause in split_clauses(normalise(doc)):
            stats.clauses += 1
            if not is_han(clause):
                stats.non_han += 1
            elif len(clause) < min_chars:
                stats.too_short += 1
            elif len(clause) > max_chars:
                stats.too_long += 1
            elif clause in seen:
                stats.duplicates += 1
            else:
                seen.add(clause)
                kept.append(clause)
                stats.kept += 1
    return kept
