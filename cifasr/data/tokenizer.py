"""Text <-> token ids: characters or sentencepiece pieces, with a token list.

Token lists follow ESPnet: ``<blank>`` = 0, ``<unk>`` = 1, ..., ``<sos/eos>`` last (see
:mod:`cifasr.data.token_list`). A token not in the list becomes ``<unk>`` and is COUNTED
(:attr:`Tokenizer.unk_counts`), so a dataset or a stage can log how much text it could not
represent instead of losing it silently.

>>> tok = Tokenizer(["<blank>", "<unk>", "你", "好", "<sos/eos>"])
>>> tok.text2ids("你 好 吗")
[2, 3, 1]
>>> tok.ids2text([2, 3, 1]), tok.num_unk
('你好<unk>', 1)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cifasr.data.kaldi_files import KaldiFileError

BLANK = "<blank>"
UNK = "<unk>"
SOS_EOS = "<sos/eos>"
TOKEN_TYPES = ("char", "bpe")


class TokenListError(KaldiFileError):
    """A token list is malformed; names the file and the line (a :class:`KaldiFileError`, like
    every error of a Kaldi-style file)."""


def load_token_list(path: str | Path) -> list[str]:
    """Read ``tokens.txt`` (one token per line, line number - 1 = id) and check its layout: the
    one reader of token list files.

    Raises:
        FileNotFoundError: the file does not exist.
        TokenListError: a line that is not UTF-8, an empty line, whitespace inside a token, a
            duplicate, or not the ESPnet layout (``<blank>`` first, ``<unk>`` present,
            ``<sos/eos>`` last).
    """
    path = Path(path)
    tokens: list[str] = []
    seen: dict[str, int] = {}
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise TokenListError(
                    f"{path}: line {lineno} is not valid UTF-8 (byte 0x{raw[e.start]:02x} at "
                    f"column {e.start + 1}); rebuild it with python -m cifasr.bin.token_list"
                ) from e
            token = line.rstrip("\r\n")
            if not token or token != token.strip() or len(token.split()) != 1:
                raise TokenListError(
                    f"{path}: line {lineno}: '{token}' is not one token without whitespace"
                )
            if token in seen:
                raise TokenListError(
                    f"{path}: line {lineno}: token '{token}' duplicates line {seen[token]}"
                )
            seen[token] = lineno
            tokens.append(token)
    check_token_list(tokens, str(path))
    return tokens


def check_token_list(tokens: Sequence[str], source: str = "<token list>") -> None:
    """Raise :class:`TokenListError` unless ``tokens`` has the ESPnet layout."""
    if len(tokens) < 3 or tokens[0] != BLANK or tokens[-1] != SOS_EOS or UNK not in tokens:
        raise TokenListError(
            f"{source}: expected '{BLANK}' first, '{UNK}' present and '{SOS_EOS}' last "
            f"(ESPnet order); rebuild it with python -m cifasr.bin.token_list"
        )
    if len(set(tokens)) != len(tokens):
        raise TokenListError(f"{source}: duplicated tokens")


class CharTokenizer:
    """Each non-space character is a token; spaces are dropped (Mandarin) or, with
    ``space_symbol``, become that token."""

    def __init__(self, space_symbol: str | None = None) -> None:
        self.space_symbol = space_symbol

    def text2tokens(self, text: str) -> list[str]:
        """Tokens of one transcript."""
        if self.space_symbol is None:
            return [c for c in text if not c.isspace()]
        tokens: list[str] = []
        for word in text.split():
            if tokens:
                tokens.append(self.space_symbol)
            tokens.extend(word)
        return tokens

    def tokens2text(self, tokens: Iterable[str]) -> str:
        """Joined characters (``space_symbol`` back to a space)."""
        return "".join(" " if t == self.space_symbol else t for t in tokens)


class SentencepieceTokenizer:
    """Pieces of a sentencepiece model; the model is loaded lazily, so the object pickles to
    DataLoader workers cheaply."""

    def __init__(self, model: str | Path) -> None:
        self.model = str(model)
        self._sp: Any = None

    def _processor(self) -> Any:
        if self._sp is None:
            import sentencepiece as spm

            if not Path(self.model).is_file():
                raise FileNotFoundError(f"sentencepiece model {self.model} does not exist")
            self._sp = spm.SentencePieceProcessor(model_file=self.model)
        return self._sp

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self.model, "_sp": None}

    def pieces(self) -> list[str]:
        """All pieces of the model in id order."""
        sp = self._processor()
        return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]

    def text2tokens(self, text: str) -> list[str]:
        """Pieces of one transcript."""
        return list(self._processor().encode(text, out_type=str))

    def tokens2text(self, tokens: Iterable[str]) -> str:
        """Detokenised text."""
        return self._processor().decode_pieces(list(tokens))


class Tokenizer:
    """Text <-> ids for one token list, counting tokens that are not in it.

    Args:
        token_list: tokens in id order, or the path of ``tokens.txt``.
        token_type: "char" or "bpe".
        bpemodel: the sentencepiece model (token_type "bpe").
        space_symbol: char only; see :class:`CharTokenizer`.
        unk_symbol: the token unknown tokens map to.
    """

    def __init__(
        self,
        token_list: Sequence[str] | str | Path,
        token_type: str = "char",
        bpemodel: str | Path | None = None,
        space_symbol: str | None = None,
        unk_symbol: str = UNK,
    ) -> None:
        if isinstance(token_list, (str, Path)):
            self.token_list_source = str(token_list)
            tokens = load_token_list(token_list)
        else:
            self.token_list_source = "<token list>"
            tokens = list(token_list)
            check_token_list(tokens)
        if token_type not in TOKEN_TYPES:
            raise ValueError(f"token_type must be one of {TOKEN_TYPES}, got '{token_type}'")
        if token_type == "bpe" and bpemodel is None:
            raise ValueError("token_type 'bpe' needs bpemodel (the sentencepiece .model file)")
        self.tokens = tokens
        self.token_type = token_type
        self.token2id = {t: i for i, t in enumerate(tokens)}
        self.unk_id = self.token2id[unk_symbol]
        self.blank_id = self.token2id[BLANK]
        self.sos_eos_id = self.token2id[SOS_EOS]
        self.tokenizer: CharTokenizer | SentencepieceTokenizer
        if token_type == "char":
            self.tokenizer = CharTokenizer(space_symbol)
        else:
            self.tokenizer = SentencepieceTokenizer(bpemodel)
        self.unk_counts: Counter[str] = Counter()
        self.num_tokens = 0

    @property
    def vocab_size(self) -> int:
        """Number of tokens, specials included."""
        return len(self.tokens)

    @property
    def num_unk(self) -> int:
        """Tokens mapped to ``<unk>`` since construction (or the last reset)."""
        return sum(self.unk_counts.values())

    def reset_counts(self) -> None:
        """Forget the unknown-token and token counts."""
        self.unk_counts.clear()
        self.num_tokens = 0

    def text2tokens(self, text: str) -> list[str]:
        """Tokens of a transcript (before the token-list lookup)."""
        return self.tokenizer.text2tokens(text)

    def tokens2ids(self, tokens: Iterable[str]) -> list[int]:
        """Ids of tokens; unknown ones become ``<unk>`` and are counted."""
        ids = []
        for t in tokens:
            i = self.token2id.get(t)
            if i is None:
                self.unk_counts[t] += 1
                i = self.unk_id
            ids.append(i)
        self.num_tokens += len(ids)
        return ids

    def text2ids(self, text: str) -> list[int]:
        """Ids of a transcript (no ``<sos/eos>``: the model appends it)."""
        return self.tokens2ids(self.text2tokens(text))

    def ids2tokens(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ids, skipping ``<blank>``, ``<sos/eos>`` and negative (padding) ids."""
        skip = {self.blank_id, self.sos_eos_id}
        return [self.tokens[int(i)] for i in ids if int(i) >= 0 and int(i) not in skip]

    def ids2text(self, ids: Iterable[int]) -> str:
        """Text of ids (see :meth:`ids2tokens` for what is skipped)."""
        return self.tokenizer.tokens2text(self.ids2tokens(ids))

    def unk_summary(
        self,
        max_items: int = 10,
        counts: Counter[str] | None = None,
        num_tokens: int | None = None,
    ) -> str:
        """``"3 of 1200 tokens (0.25%) not in <list>, mapped to <unk>: 'X' x2, 'Y' x1"``.

        Args:
            max_items: unknown tokens shown.
            counts: unknown-token counts to describe (default: all since the last reset).
            num_tokens: tokens those counts come from (default: all since the last reset).
        """
        counts = self.unk_counts if counts is None else counts
        num_tokens = self.num_tokens if num_tokens is None else num_tokens
        num_unk = sum(counts.values())
        if not num_unk:
            return f"all {num_tokens} tokens are in {self.token_list_source}"
        rate = 100.0 * num_unk / max(num_tokens, 1)
        top = ", ".join(f"'{t}' x{n}" for t, n in counts.most_common(max_items))
        extra = len(counts) - max_items
        more = f" and {extra} more" if extra > 0 else ""
        return (
            f"{num_unk} of {num_tokens} tokens ({rate:.2f}%) not in "
            f"{self.token_list_source}, mapped to {self.tokens[self.unk_id]}: {top}{more}"
        )
