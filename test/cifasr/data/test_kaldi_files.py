"""Kaldi key-value files: every malformed line is reported with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cifasr.data.kaldi_files import (
    KaldiFileError,
    read_kaldi_entries,
    read_kaldi_map,
    read_text,
    read_utt2spk,
    scan_kaldi_file,
    spk2utt_to_utt2spk,
    utt2spk_to_spk2utt,
    write_kaldi_map,
)
from cifasr.data.tokenizer import load_token_list


def test_write_sorts_in_c_locale_order_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "utt2spk"
    write_kaldi_map(path, {"b": "1", "B": "2", "a-b": "3", "a": "4", "中": "5"})
    write_kaldi_map(path, {"b": "1", "B": "2", "a-b": "3", "a": "4", "中": "5"})
    # Byte order: uppercase before lowercase, "a" before "a-b", non-ASCII last; no appending.
    assert path.read_text(encoding="utf-8") == "B 2\na 4\na-b 3\nb 1\n中 5\n"
    expected = {"B": "2", "a": "4", "a-b": "3", "b": "1", "中": "5"}
    assert read_kaldi_map(path, require_sorted=True) == expected


def test_text_may_have_empty_value_other_files_may_not(tmp_path: Path) -> None:
    (tmp_path / "text").write_text("u1 你好\nu2\nu3   \n", encoding="utf-8")
    assert read_kaldi_map(tmp_path / "text") == {"u1": "你好", "u2": "", "u3": ""}
    (tmp_path / "wav.scp").write_text("u1 a.wav\nu2\n")
    with pytest.raises(KaldiFileError, match=r"wav.scp: line 2: key 'u2' has no value"):
        read_kaldi_map(tmp_path / "wav.scp")


def test_non_utf8_names_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "text").write_bytes("u1 好\n".encode() + "u2 坏\n".encode("gbk"))
    with pytest.raises(KaldiFileError) as err:
        read_kaldi_map(tmp_path / "text")
    assert "text: line 2 (key 'u2') is not valid UTF-8" in str(err.value)
    assert "iconv" in str(err.value)


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    (tmp_path / "utt2spk").write_text("a s\nb s\na t\n")
    with pytest.raises(KaldiFileError, match=r"utt2spk: line 3: key 'a' duplicates line 1"):
        read_kaldi_map(tmp_path / "utt2spk")


def test_unsorted_is_reported_only_when_required(tmp_path: Path) -> None:
    (tmp_path / "utt2spk").write_text("b s\na s\n")
    assert read_kaldi_map(tmp_path / "utt2spk") == {"b": "s", "a": "s"}
    message = r"not sorted \(LC_ALL=C\): line 2 key 'a' comes after 'b'"
    with pytest.raises(KaldiFileError, match=message):
        read_kaldi_map(tmp_path / "utt2spk", require_sorted=True)


def test_scan_collects_every_problem_and_keeps_first_duplicate(tmp_path: Path) -> None:
    (tmp_path / "utt2spk").write_bytes(b"c s\n\na s\nc t\nd \xff\n")
    scan = scan_kaldi_file(tmp_path / "utt2spk")
    assert [p.kind for p in scan.problems] == ["empty_line", "unsorted", "duplicate", "not_utf8"]
    assert scan.as_dict() == {"c": "s", "a": "s"}
    assert [(e.key, e.line) for e in scan.entries] == [("c", 1), ("a", 3)]


def test_entries_keep_line_numbers_for_messages(tmp_path: Path) -> None:
    (tmp_path / "feats.scp").write_text("a x.ark:1\nb x.ark:9\n")
    assert [(e.key, e.value, e.line) for e in read_kaldi_entries(tmp_path / "feats.scp")] == [
        ("a", "x.ark:1", 1),
        ("b", "x.ark:9", 2),
    ]


def test_spk2utt_round_trip() -> None:
    utt2spk = {"s1-a": "s1", "s2-a": "s2", "s1-b": "s1"}
    spk2utt = utt2spk_to_spk2utt(utt2spk)
    assert spk2utt == {"s1": ["s1-a", "s1-b"], "s2": ["s2-a"]}
    assert spk2utt_to_utt2spk(spk2utt) == dict(sorted(utt2spk.items()))


def test_text_reader_allows_empty_transcripts_whatever_the_file_name(tmp_path: Path) -> None:
    (tmp_path / "hyp").write_text("u1 你好\nu2\n", encoding="utf-8")
    assert read_text(tmp_path / "hyp") == {"u1": "你好", "u2": ""}
    with pytest.raises(KaldiFileError, match=r"hyp: line 2: key 'u2' has no value"):
        read_kaldi_map(tmp_path / "hyp")


def test_utt2spk_has_one_speaker_field(tmp_path: Path) -> None:
    # a speaker id with a space would be split apart when spk2utt is written from it
    (tmp_path / "utt2spk").write_text("u1 s1\nu2 s 2\n")
    with pytest.raises(KaldiFileError, match=r"utt2spk: line 2: key 'u2' has 2 fields after it"):
        read_utt2spk(tmp_path / "utt2spk")
    with pytest.raises(KaldiFileError, match=r"utt2spk: line 2: key 'u2' has 2 fields"):
        read_kaldi_map(tmp_path / "utt2spk")
    assert [p.kind for p in scan_kaldi_file(tmp_path / "utt2spk").problems] == ["fields"]
    (tmp_path / "spk").write_text("u1 s1\nu2 s 2\n")
    with pytest.raises(KaldiFileError, match=r"spk: line 2: key 'u2' has 2 fields after it"):
        read_utt2spk(tmp_path / "spk")


def test_token_list_errors_are_kaldi_file_errors_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "tokens.txt").write_bytes(b"<blank>\n<unk>\n" + "坏\n".encode("gbk"))
    with pytest.raises(KaldiFileError, match=r"tokens.txt: line 3 is not valid UTF-8"):
        load_token_list(tmp_path / "tokens.txt")
    (tmp_path / "tokens.txt").write_text("<blank>\r\n<unk>\r\n好\r\n<sos/eos>\r\n")
    assert load_token_list(tmp_path / "tokens.txt") == ["<blank>", "<unk>", "好", "<sos/eos>"]
