import numpy as np
import pytest

from cifasr.distill.alignment import (
    char_spans,
    offset_alignment,
    piece_spans,
    positional_alignment,
    word_spans,
)

CLS, SEP = 101, 102


def test_char_and_word_spans_skip_whitespace():
    assert char_spans("我 们a") == [(0, 1), (2, 3), (3, 4)]
    assert word_spans("  hello  big world ") == [(2, 7), (9, 12), (13, 18)]


def test_positional_drops_cls_and_puts_sep_on_the_end_token():
    # [CLS] 我 们 好 [SEP]
    a = positional_alignment(3, [1, 0, 0, 0, 1], [CLS, 7, 8, 9, SEP], [SEP])
    assert a.problem is None
    assert a.weights.tolist() == [
        [0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 0, 1],
    ]


def test_positional_truncates_to_the_shorter_side_and_reports_it():
    # more PLM tokens than ASR tokens: the extra PLM token is dropped, [SEP] still ends
    a = positional_alignment(2, [1, 0, 0, 0, 1], [CLS, 7, 8, 9, SEP], [SEP])
    assert np.flatnonzero(a.weights[0]).tolist() == [1]
    assert np.flatnonzero(a.weights[1]).tolist() == [2]
    assert np.flatnonzero(a.weights[2]).tolist() == [4]
    assert a.problem == "PLM gave 3 tokens for 2 ASR tokens"
    # fewer PLM tokens: the missing ASR token gets a zero row
    a = positional_alignment(3, [1, 0, 0, 1], [CLS, 7, 8, SEP], [SEP])
    assert a.weights[2].sum() == 0
    assert np.flatnonzero(a.weights[3]).tolist() == [3]
    assert a.problem == "PLM gave 2 tokens for 3 ASR tokens"


def test_positional_without_closing_token_leaves_the_end_row_zero():
    a = positional_alignment(2, [1, 0, 0], [CLS, 7, 8], [SEP])
    assert a.weights[2].sum() == 0
    assert "no closing special token" in a.problem


def test_empty_transcript_gets_only_the_end_row():
    a = positional_alignment(0, [1, 1], [CLS, SEP], [SEP])
    assert a.weights.tolist() == [[0, 1]] and a.problem is None


def test_offsets_average_the_overlapping_plm_subtokens():
    # text "hello world"; ASR pieces "▁he" "llo" "▁world"; PLM: hel ##lo world
    spans = [(0, 2), (2, 5), (6, 11)]
    offsets = [(0, 0), (0, 3), (3, 5), (6, 11), (0, 0)]
    a = offset_alignment(spans, offsets, [1, 0, 0, 0, 1], [CLS, 5, 6, 7, SEP], [SEP])
    assert a.problem is None
    np.testing.assert_array_equal(
        a.weights,
        [
            [0, 1, 0, 0, 0],  # "he" lies inside "hel"
            [0, 0.5, 0.5, 0, 0],  # "llo" overlaps "hel" and "##lo"
            [0, 0, 0, 1, 0],
            [0, 0, 0, 0, 1],  # <sos/eos> <- [SEP]
        ],
    )


def test_offsets_one_plm_word_for_several_asr_chars():
    # "我ok": chars 我 o k; PLM tokens 我 ok
    a = offset_alignment(
        char_spans("我ok"), [(0, 0), (0, 1), (1, 3), (0, 0)], [1, 0, 0, 1], [CLS, 5, 6, SEP], [SEP]
    )
    assert a.problem is None
    assert [np.flatnonzero(r).tolist() for r in a.weights] == [[1], [2], [2], [3]]


def test_offsets_uncovered_token_is_zero_and_reported():
    # the PLM dropped the middle character (e.g. a control character its normaliser removes)
    a = offset_alignment(
        [(0, 1), (1, 2), (2, 3)],
        [(0, 0), (0, 1), (2, 3), (0, 0)],
        [1, 0, 0, 1],
        [CLS, 5, 6, SEP],
        [SEP],
    )
    assert a.weights[1].sum() == 0
    assert a.problem == "1 of 3 ASR tokens covered by no PLM token"


def test_piece_spans_map_normalised_pieces_back_to_the_text():
    # sentencepiece output for "hello  world 我们" (two spaces collapsed, dummy prefix added)
    normalized = "\u2581hello\u2581world\u2581我们"
    offsets = [0, 0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    pieces = ["\u2581he", "llo", "\u2581w", "orld", "\u2581", "我", "们"]
    spans = piece_spans(pieces, normalized, offsets)
    text = "hello  world 我们"
    assert [text[s:e] for s, e in spans] == ["he", "llo", "w", "orld", "我", "我", "们"]


def test_piece_spans_reject_pieces_of_another_text():
    with pytest.raises(ValueError, match="do not spell the normalised text"):
        piece_spans(["\u2581ab"], "\u2581ac", [0, 0, 1, 2])
