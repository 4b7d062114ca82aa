"""Compare the lexicon's pinyin with espeak-ng's own reading of the characters.

A maintainer tool for extending the lexicon: a typo in a pinyin entry, or a character whose
reading the entry gets wrong, shows up as a difference. Known differences are espeak-ng's, not the
lexicon's (its dictionary reads 个 in 一个 with the neutral tone, does not apply the 一/不 sandhi,
and reads some words with the neutral tone that the lexicon gives a full tone, or the reverse):
judge each one by ear or with a dictionary.

    python -m cifasr.corpus.mini_zh.lexicon_check [--nj 2]
"""

from __future__ import annotations

import argparse
import logging
from concurrent.futures import ThreadPoolExecutor

from cifasr.corpus.espeak import phonemes
from cifasr.corpus.mini_zh.grammar import defined_words
from cifasr.corpus.mini_zh.lexicon import Word


def reading_differences(words: list[Word], nj: int = 2) -> list[tuple[Word, str, str]]:
    """(word, phonemes from its characters, phonemes from its pinyin) where the two differ.

    Phoneme strings are espeak-ng ``-x`` mnemonics; stress marks and word breaks are ignored.
    """

    def norm(p: str) -> str:
        return "".join(c for c in p if c not in "'_|, \n")

    def one(w: Word) -> tuple[Word, str, str]:
        return w, phonemes(w.text), phonemes(w.spelling)

    with ThreadPoolExecutor(max(1, nj)) as ex:
        pairs = list(ex.map(one, words))
    return [(w, a, b) for w, a, b in pairs if norm(a) != norm(b)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nj", type=int, default=2, help="parallel espeak-ng processes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    words = defined_words()
    diffs = reading_differences(words, args.nj)
    for w, from_chars, from_pinyin in diffs:
        print(f"{w.text}\t{w.spelling}\tchars: {from_chars}\tpinyin: {from_pinyin}")
    logging.info("%d of %d words read differently from their characters", len(diffs), len(words))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
