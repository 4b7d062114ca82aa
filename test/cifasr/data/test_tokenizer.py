"""Token lists in ESPnet order; text <-> ids with unknown tokens mapped to <unk> and counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from cifasr.data.token_list import (
    build_bpe_token_list,
    build_char_token_list,
    order_tokens,
)
from cifasr.data.tokenizer import Tokenizer, TokenListError, load_token_list


def write_text(path: Path, lines: dict[str, str]) -> Path:
    path.write_text("".join(f"{k} {v}\n" for k, v in sorted(lines.items())), encoding="utf-8")
    return path


def test_char_token_list_order(tmp_path: Path) -> None:
    lines = {"u1": "好 好 好 你", "u2": "你 们 好", "u3": "", "u4": "他 们"}
    text = write_text(tmp_path / "text", lines)
    tokens = build_char_token_list(text, tmp_path / "char")
    # Counts: 好 4, 你 2, 们 2, 他 1. Ties go by descending code point: 你 (U+4F60) > 们 (U+4EEC).
    assert tokens == ["<blank>", "<unk>", "好", "你", "们", "他", "<sos/eos>"]
    assert load_token_list(tmp_path / "char" / "tokens.txt") == tokens


def test_order_matches_the_original_recipe_rule() -> None:
    counts = {"a": 3, "b": 3, "c": 1, "d": 5}
    original = [k for k, _ in sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]
    assert order_tokens(counts) == original == ["d", "b", "a", "c"]


def test_unknown_characters_are_mapped_and_counted() -> None:
    tok = Tokenizer(["<blank>", "<unk>", "你", "好", "<sos/eos>"])
    assert tok.text2ids("你 好 吗 吗 呢") == [2, 3, 1, 1, 1]
    assert tok.unk_counts == {"吗": 2, "呢": 1}
    assert (tok.num_unk, tok.num_tokens) == (3, 5)
    assert tok.unk_summary() == (
        "3 of 5 tokens (60.00%) not in <token list>, mapped to <unk>: '吗' x2, '呢' x1"
    )
    assert tok.ids2text([2, 3, 1, 0, 4, -1]) == "你好<unk>"
    assert (tok.blank_id, tok.unk_id, tok.sos_eos_id, tok.vocab_size) == (0, 1, 4, 5)


def test_space_symbol_keeps_word_boundaries() -> None:
    tok = Tokenizer(["<blank>", "<unk>", "<space>", "a", "b", "<sos/eos>"], space_symbol="<space>")
    ids = tok.text2ids("ab  ba")
    assert ids == [3, 4, 2, 4, 3]
    assert tok.ids2text(ids) == "ab ba"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<blank>\n<unk>\na\na\n<sos/eos>\n", "line 4: token 'a' duplicates line 3"),
        ("<blank>\n<unk>\na b\n<sos/eos>\n", "line 3: 'a b' is not one token"),
        ("<unk>\n<blank>\na\n<sos/eos>\n", "expected '<blank>' first"),
        ("<blank>\n<unk>\na\n", "'<sos/eos>' last"),
    ],
)
def test_malformed_token_list(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "tokens.txt").write_text(content)
    with pytest.raises(TokenListError, match=message):
        load_token_list(tmp_path / "tokens.txt")


def test_bpe_token_list_and_round_trip(tmp_path: Path) -> None:
    sentences = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 20
    text = write_text(tmp_path / "text", {f"u{i:03d}": s for i, s in enumerate(sentences)})
    tokens = build_bpe_token_list(text, tmp_path / "bpe", nbpe=30)
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    assert (tmp_path / "bpe" / "bpe.model").is_file()
    tok = Tokenizer(tmp_path / "bpe" / "tokens.txt", "bpe", tmp_path / "bpe" / "bpe.model")
    ids = tok.text2ids("the cat sat on the log")
    assert tok.num_unk == 0 and tok.ids2text(ids) == "the cat sat on the log"
    # The most frequent piece comes first after the specials.
    pieces = [p for s in sentences for p in tok.text2tokens(s)]
    assert tokens[2] == max(set(pieces), key=lambda p: (pieces.count(p), p))
    tok.text2ids("zebra")
    assert tok.num_unk >= 1 and "z" in tok.unk_counts


def test_bpe_too_many_pieces_is_a_clear_error(tmp_path: Path) -> None:
    text = write_text(tmp_path / "text", {"u1": "ab", "u2": "ba"})
    with pytest.raises(ValueError, match="lower --nbpe"):
        build_bpe_token_list(text, tmp_path / "bpe", nbpe=500)
