"""The validation CER counts tokens: a character is one unit, and so is <unk>."""

from __future__ import annotations

from cifasr.data.tokenizer import Tokenizer
from cifasr.train.valid_cer import cer_units, count_errors

CHARS = ["<blank>", "<unk>", "你", "好", "吗", "<sos/eos>"]


def test_unk_is_one_unit_and_specials_are_skipped() -> None:
    tok = Tokenizer(CHARS)
    ref = tok.text2ids("你好呀")  # '呀' is not in the list
    assert ref == [2, 3, 1]
    assert cer_units(ref, tok) == ["你", "好", "<unk>"]
    assert cer_units([0, 2, 5, -1, 3], tok) == ["你", "好"]


def test_cer_of_a_dev_set_with_out_of_list_characters() -> None:
    # refs: 你好呀 (呀 unknown), 好<unk>吗 -> 6 reference tokens; hyps: 1 substitution, 0 errors
    tok = Tokenizer(CHARS)
    refs = [cer_units(tok.text2ids(t), tok) for t in ("你好呀", "好吗吗")]
    refs[1][1] = "<unk>"
    hyps = [["你", "好", "好"], ["好", "<unk>", "吗"]]
    errors, total = count_errors(hyps, refs)
    assert (errors, total) == (1, 6)
    # on the detokenised strings '<unk>' would be 5 characters: 5 errors in 14 characters
    strings = ["".join(u) for u in refs], ["".join(u) for u in hyps]
    assert count_errors([list(h) for h in strings[1]], [list(r) for r in strings[0]]) == (5, 14)


def test_sentencepiece_pieces_are_scored_by_character() -> None:
    # the sentencepiece model is only read when text is encoded, never by cer_units
    tok = Tokenizer(
        ["<blank>", "<unk>", "\u2581你好", "吗", "\u2581a", "<sos/eos>"],
        token_type="bpe",
        bpemodel="unused.model",
    )
    assert cer_units([2, 3, 1, 4], tok) == ["你", "好", "吗", "<unk>", "a"]
