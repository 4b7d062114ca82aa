"""Kaldi text -> trn: tokens, (spk-utt) labels, and errors that name file and line."""

import logging

import pytest

from cifasr.data.kaldi_files import KaldiFileError
from cifasr.scoring.trn import (
    build_trn_pair,
    default_speaker,
    read_kaldi_text,
    read_trn,
    read_utt2spk,
    tokenize,
    write_trn,
)


def test_char_tokens_keep_symbols_whole():
    assert tokenize("今天 <unk>好 ok", "char") == ["今", "天", "<unk>", "好", "o", "k"]
    assert tokenize("今天 <unk>好", "char", remove_tokens=["<unk>"]) == ["今", "天", "好"]


def test_word_tokens_split_on_whitespace():
    assert tokenize(" hello  big\tworld ", "word") == ["hello", "big", "world"]
    with pytest.raises(ValueError, match="unknown token_type 'bpe'"):
        tokenize("x", "bpe")


def test_trn_lines_are_espnet_paste_format(tmp_path):
    # ESPnet: paste <(tokens) <(awk '{ print "(" $2 "-" $1 ")" }' utt2spk)
    pair = build_trn_pair(
        {"BAC009S0764W0121": "甲乙丙", "BAC009S0764W0122": "丁"},
        {"BAC009S0764W0121": "甲丙"},
        {"BAC009S0764W0121": "S0764", "BAC009S0764W0122": "S0764"},
        "char",
    )
    write_trn(tmp_path / "hyp.trn", pair.labels, pair.hyps)
    assert (tmp_path / "hyp.trn").read_text(encoding="utf-8") == (
        "甲 丙\t(S0764-BAC009S0764W0121)\n\t(S0764-BAC009S0764W0122)\n"
    )
    assert pair.n_missing_hyp == 1


def test_default_speaker_is_the_prefix():
    assert default_speaker("spk1-utt7") == "spk1"
    assert default_speaker("spk1_utt7") == "spk1"
    assert default_speaker("BAC009S0764W0121") == "BAC009S0764W0121"


def test_missing_hypotheses_are_logged(caplog):
    with caplog.at_level(logging.WARNING):
        pair = build_trn_pair({"a-1": "x", "a-2": "y"}, {"a-1": "x"}, None, "char")
    assert pair.hyps == [["x"], []]
    assert "1 of 2 reference utterances have no hypothesis" in caplog.text


def test_unknown_hypothesis_id_is_an_error_naming_it():
    with pytest.raises(ValueError, match="'a-9' is not in ref.txt"):
        build_trn_pair({"a-1": "x"}, {"a-1": "x", "a-9": "y"}, None, "char", ref_name="ref.txt")


def test_removed_tokens_are_counted(caplog):
    with caplog.at_level(logging.INFO):
        pair = build_trn_pair({"a-1": "x<unk>y"}, {"a-1": "<unk><unk>"}, None, "char", ["<unk>"])
    assert pair.refs == [["x", "y"]] and pair.hyps == [[]]
    assert "removed 3 token(s)" in caplog.text


def test_bad_kaldi_text_names_file_and_line(tmp_path):
    path = tmp_path / "text"
    path.write_text("u1 甲\n\nu2 乙\n", encoding="utf-8")
    with pytest.raises(KaldiFileError, match=r"text: line 2 is empty"):
        read_kaldi_text(path)
    path.write_text("u1 甲\nu2 乙\nu1 丙\n", encoding="utf-8")
    with pytest.raises(KaldiFileError, match=r"text: line 3: key 'u1' duplicates line 1"):
        read_kaldi_text(path)
    path.write_bytes("u1 甲\n".encode() + b"u2 \xff\n")
    with pytest.raises(KaldiFileError, match=r"text: line 2 \(key 'u2'\) is not valid UTF-8"):
        read_kaldi_text(path)
    path.write_text("u1 甲\nu(2) 乙\n", encoding="utf-8")
    with pytest.raises(KaldiFileError, match=r"text: line 2: utterance id 'u\(2\)' contains"):
        read_kaldi_text(path)


def test_bad_utt2spk_names_file_and_line(tmp_path):
    path = tmp_path / "spk"
    path.write_text("u1 s1\nu2 s1 s2\n", encoding="utf-8")
    with pytest.raises(KaldiFileError, match=r"spk: line 2: key 'u2' has 2 fields after it"):
        read_utt2spk(path)
    path.write_text("u1 s1\nu2\n", encoding="utf-8")
    with pytest.raises(KaldiFileError, match=r"spk: line 2: key 'u2' has no value"):
        read_utt2spk(path)
    path.write_text("u1 s(1)\n", encoding="utf-8")
    with pytest.raises(KaldiFileError, match=r"spk: line 1: speaker id 's\(1\)' contains"):
        read_utt2spk(path)
    path.write_text("u2 s2\nu1 s1\n", encoding="utf-8")
    assert read_utt2spk(path) == {"u2": "s2", "u1": "s1"}


def test_id_only_line_is_an_empty_transcript(tmp_path):
    path = tmp_path / "text"
    path.write_text("u1\nu2 甲 乙\n", encoding="utf-8")
    assert read_kaldi_text(path) == {"u1": "", "u2": "甲 乙"}


def test_read_trn_folds_ascii_case_like_sclite(tmp_path):
    path = tmp_path / "x.trn"
    path.write_text("A É b\t(SPK-Utt1)\n", encoding="utf-8")
    assert read_trn(path) == [("spk-utt1", ["a", "É", "b"])]
    path.write_text("a b\t(spk-1)\nc (no_label\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"x.trn:2: expected 'tokens \(spk-utt\)'"):
        read_trn(path)
    path.write_text("a\t(nodash)\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"x.trn:1: label 'nodash' has no '-'"):
        read_trn(path)
