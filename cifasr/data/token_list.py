"""Stage 5: build ``tokens.txt`` from training transcripts (characters or sentencepiece BPE).

Layout (ESPnet): ``<blank>`` (0), ``<unk>`` (1), the tokens by descending count, ``<sos/eos>``
last. Ties are broken by descending code point, i.e. the tokens are sorted by the pair
(count, token) in reverse, which is exactly how the original recipe ordered its ``vocab.txt``;
so with the same transcripts the character order equals the original's.

For BPE every piece of the sentencepiece model is listed (pieces that never occur in the
tokenised transcripts get count 0 and go last, by the same rule), so any piece the model can
produce has an id.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from cifasr.data.kaldi_files import read_text
from cifasr.data.tokenizer import BLANK, SOS_EOS, UNK, CharTokenizer, SentencepieceTokenizer

logger = logging.getLogger(__name__)

SPECIALS = (BLANK, UNK, SOS_EOS)
TOKEN_LIST_NAME = "tokens.txt"
BPE_PREFIX = "bpe"


def order_tokens(counts: Mapping[str, int]) -> list[str]:
    """Tokens by descending count, ties by descending code point (the original's order).

    >>> order_tokens({"a": 2, "c": 1, "b": 2})
    ['b', 'a', 'c']
    """
    return [t for t, _ in sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]


def make_token_list(counts: Mapping[str, int]) -> list[str]:
    """``<blank>``, ``<unk>``, :func:`order_tokens` of the non-special tokens, ``<sos/eos>``."""
    body = order_tokens({t: n for t, n in counts.items() if t not in SPECIALS})
    return [BLANK, UNK, *body, SOS_EOS]


def write_token_list(tokens: Iterable[str], path: str | Path) -> int:
    """Write one token per line (replacing the file); returns the number of tokens."""
    tokens = list(tokens)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(f"{t}\n" for t in tokens), encoding="utf-8")
    return len(tokens)


def read_transcripts(text_file: str | Path) -> list[str]:
    """Transcripts (values) of a Kaldi ``text`` file, in file order."""
    return list(read_text(text_file).values())


def _count_and_write(
    text_file: str | Path,
    text2tokens: Callable[[str], list[str]],
    counts: Counter[str],
    out_dir: str | Path,
) -> tuple[list[str], list[str]]:
    """Add the tokens of every transcript to ``counts``, write the token list made from them
    to ``<out_dir>/tokens.txt``; return (transcripts, token list)."""
    transcripts = read_transcripts(text_file)
    for text in transcripts:
        counts.update(text2tokens(text))
    tokens = make_token_list(counts)
    write_token_list(tokens, Path(out_dir) / TOKEN_LIST_NAME)
    return transcripts, tokens


def build_char_token_list(
    text_file: str | Path, out_dir: str | Path, space_symbol: str | None = None
) -> list[str]:
    """Write ``<out_dir>/tokens.txt`` with every character of the transcripts.

    Args:
        text_file: Kaldi ``text`` of the training set.
        out_dir: e.g. ``data/zh_token_list/char``.
        space_symbol: see :class:`cifasr.data.tokenizer.CharTokenizer` (None drops spaces).

    Returns:
        The token list.
    """
    counts: Counter[str] = Counter()
    transcripts, tokens = _count_and_write(
        text_file, CharTokenizer(space_symbol).text2tokens, counts, out_dir
    )
    logger.info(
        "char token list: %d transcripts, %d characters, %d distinct -> %s (%d tokens)",
        len(transcripts),
        sum(counts.values()),
        len(counts),
        Path(out_dir) / TOKEN_LIST_NAME,
        len(tokens),
    )
    return tokens


def train_bpe(
    text_file: str | Path,
    out_dir: str | Path,
    nbpe: int,
    bpemode: str = "bpe",
    character_coverage: float = 1.0,
    input_sentence_size: int = 100_000_000,
) -> Path:
    """Train a sentencepiece model on the transcripts; returns ``<out_dir>/bpe.model``.

    Raises:
        ValueError: sentencepiece rejected the settings (typically ``nbpe`` larger than the
            transcripts allow); the message says so.
    """
    import sentencepiece as spm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    transcripts = [t for t in read_transcripts(text_file) if t.strip()]
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.writelines(f"{t}\n" for t in transcripts)
        train_text = f.name
    try:
        spm.SentencePieceTrainer.train(
            input=train_text,
            model_prefix=str(out_dir / BPE_PREFIX),
            vocab_size=nbpe,
            model_type=bpemode,
            character_coverage=character_coverage,
            input_sentence_size=input_sentence_size,
            # Our own specials are added around the pieces; sentencepiece keeps only its <unk>.
            unk_id=0,
            unk_piece=UNK,
            bos_id=-1,
            eos_id=-1,
            num_threads=min(16, os.cpu_count() or 1),
            minloglevel=2,
        )
    except RuntimeError as e:
        raise ValueError(
            f"sentencepiece could not train a {nbpe}-piece {bpemode} model on {text_file}: {e}; "
            f"lower --nbpe"
        ) from e
    finally:
        os.unlink(train_text)
    return out_dir / f"{BPE_PREFIX}.model"


def build_bpe_token_list(
    text_file: str | Path,
    out_dir: str | Path,
    nbpe: int,
    bpemode: str = "bpe",
    character_coverage: float = 1.0,
    input_sentence_size: int = 100_000_000,
) -> list[str]:
    """Train ``<out_dir>/bpe.model`` and write ``<out_dir>/tokens.txt`` from its pieces.

    Returns:
        The token list.
    """
    model = train_bpe(text_file, out_dir, nbpe, bpemode, character_coverage, input_sentence_size)
    sp = SentencepieceTokenizer(model)
    counts: Counter[str] = Counter({p: 0 for p in sp.pieces()})
    transcripts, tokens = _count_and_write(text_file, sp.text2tokens, counts, out_dir)
    logger.info(
        "bpe token list: %d transcripts, %d pieces -> %s (%d tokens)",
        len(transcripts),
        sum(counts.values()),
        Path(out_dir) / TOKEN_LIST_NAME,
        len(tokens),
    )
    return tokens
