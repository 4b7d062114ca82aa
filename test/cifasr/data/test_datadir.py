"""Kaldi data directories: validate lists problems, fix repairs and counts, copy/subset/combine."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cifasr.data.datadir import (
    DataDirError,
    combine_data_dirs,
    copy_data_dir,
    fix_data_dir,
    select_utterances,
    split_scp,
    subset_data_dir,
    validate_data_dir,
)
from cifasr.data.kaldi_files import read_kaldi_map


def make_dir(d: Path, utts: list[str], **overrides: str) -> Path:
    """Data dir with wav.scp, text, utt2spk, spk2utt for ``utts`` (speaker = prefix before '-');
    ``overrides`` replace whole files by name (dots as underscores: wav_scp=...)."""
    d.mkdir(parents=True, exist_ok=True)
    files = {
        "wav.scp": "".join(f"{u} /corpus/{u}.wav\n" for u in utts),
        "text": "".join(f"{u} 你好{i}\n" for i, u in enumerate(utts)),
        "utt2spk": "".join(f"{u} {u.split('-')[0]}\n" for u in utts),
    }
    spk2utt: dict[str, list[str]] = {}
    for u in utts:
        spk2utt.setdefault(u.split("-")[0], []).append(u)
    files["spk2utt"] = "".join(f"{s} {' '.join(v)}\n" for s, v in sorted(spk2utt.items()))
    for name, content in overrides.items():
        files[name.replace("_scp", ".scp")] = content
    for name, content in files.items():
        (d / name).write_text(content, encoding="utf-8")
    return d


def test_valid_directory_has_no_problems(tmp_path: Path) -> None:
    assert validate_data_dir(make_dir(tmp_path / "d", ["s1-a", "s1-b", "s2-a"])) == []


def test_key_missing_from_one_file_is_named(tmp_path: Path) -> None:
    d = make_dir(tmp_path / "d", ["s1-a", "s1-b"], text="s1-a 你好\n")
    problems = validate_data_dir(d)
    assert problems == [
        f"{d}/text: 1 utterance(s) of utt2spk missing: 's1-b'; run utils/fix_data_dir.sh {d}"
    ]


def test_unsorted_duplicate_and_spk2utt_mismatch_all_listed(tmp_path: Path) -> None:
    d = make_dir(
        tmp_path / "d",
        ["s1-a", "s1-b"],
        wav_scp="s1-b /b.wav\ns1-a /a.wav\ns1-a /c.wav\n",
        spk2utt="s1 s1-a\n",
    )
    problems = "\n".join(validate_data_dir(d))
    assert "wav.scp: not sorted (LC_ALL=C): line 2 key 's1-a' comes after 's1-b'" in problems
    assert "wav.scp: line 3: key 's1-a' duplicates line 2" in problems
    assert "spk2utt: does not match utt2spk for speaker(s) 's1'" in problems


def test_missing_required_file_and_missing_directory(tmp_path: Path) -> None:
    d = make_dir(tmp_path / "d", ["s1-a"])
    (d / "text").unlink()
    assert validate_data_dir(d) == [f"{d}/text: missing"]
    assert validate_data_dir(d, need_text=False) == []
    assert validate_data_dir(tmp_path / "nope") == [f"{tmp_path / 'nope'}: no such directory"]


def test_fix_keeps_common_utterances_and_counts_each_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    d = make_dir(
        tmp_path / "d",
        ["s1-a", "s1-b", "s2-a", "s2-b"],
        text="s2-b 好\ns1-a 你\ns1-b 他\ns1-b 她\n\n",  # unsorted, duplicate, empty line
        wav_scp="s1-a /a.wav\ns1-b /b.wav\ns2-a /c.wav\ns2-b /d.wav\ns3-a /e.wav\n",
    )
    (d / "utt2num_frames").write_text("s1-a 10\ns1-b 11\ns2-b 12\ns3-a 13\n")
    with caplog.at_level(logging.INFO):
        report = fix_data_dir(d)
    assert (report.num_in, report.num_out) == (5, 3)
    assert report.missing_from == {
        "utt2spk": 1,
        "wav.scp": 0,
        "text": 2,
        "utt2num_frames": 1,
    }
    assert report.duplicates["text"] == 1 and report.empty_lines["text"] == 1
    assert report.resorted == ["text"]
    assert validate_data_dir(d) == []
    assert list(read_kaldi_map(d / "utt2spk")) == ["s1-a", "s1-b", "s2-b"]
    assert read_kaldi_map(d / "text")["s1-b"] == "他"  # the first of the duplicates
    assert read_kaldi_map(d / "spk2utt") == {"s1": "s1-a s1-b", "s2": "s2-b"}
    assert "5 utterances in, 3 out" in caplog.text
    assert (d / ".backup" / "text").read_text(encoding="utf-8").startswith("s2-b 好")


def test_fix_refuses_non_utf8_instead_of_dropping(tmp_path: Path) -> None:
    d = make_dir(tmp_path / "d", ["s1-a"])
    (d / "text").write_bytes("s1-a 你好\n".encode("gbk"))
    with pytest.raises(DataDirError, match=r"text: line 1 \(key 's1-a'\) is not valid UTF-8"):
        fix_data_dir(d)


def test_segments_are_rejected_with_a_reason(tmp_path: Path) -> None:
    d = make_dir(tmp_path / "d", ["s1-a"])
    (d / "segments").write_text("s1-a rec 0 1\n")
    with pytest.raises(DataDirError, match="segmented recordings are not supported"):
        fix_data_dir(d)


def test_copy_with_prefix_renames_utterances_and_speakers(tmp_path: Path) -> None:
    src = make_dir(tmp_path / "src", ["s1-a", "s2-a"])
    (src / "spk2gender").write_text("s1 f\ns2 m\n")
    dest = tmp_path / "dest"
    (dest).mkdir()
    (dest / "feats.scp").write_text("stale x:1\n")
    assert copy_data_dir(src, dest, utt_prefix="sp0.9-", spk_prefix="sp0.9-") == 2
    assert read_kaldi_map(dest / "utt2spk") == {"sp0.9-s1-a": "sp0.9-s1", "sp0.9-s2-a": "sp0.9-s2"}
    assert read_kaldi_map(dest / "wav.scp")["sp0.9-s1-a"] == "/corpus/s1-a.wav"
    assert read_kaldi_map(dest / "spk2gender") == {"sp0.9-s1": "f", "sp0.9-s2": "m"}
    assert not (dest / "feats.scp").exists()  # a stale file would not match the new ids
    assert validate_data_dir(dest) == []


def test_subset_counts_unknown_ids(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = make_dir(tmp_path / "src", ["s1-a", "s1-b", "s2-a"])
    with caplog.at_level(logging.WARNING):
        assert subset_data_dir(src, tmp_path / "sub", ["s1-b", "s2-a", "zz"]) == 2
    assert "1 requested utterance(s) not in" in caplog.text and "'zz'" in caplog.text
    assert list(read_kaldi_map(tmp_path / "sub" / "text")) == ["s1-b", "s2-a"]
    assert validate_data_dir(tmp_path / "sub") == []
    with pytest.raises(DataDirError, match="'zz'"):
        subset_data_dir(src, tmp_path / "sub2", ["zz"], strict=True)


def test_select_utterances(tmp_path: Path) -> None:
    d = make_dir(tmp_path / "d", [f"s1-{i}" for i in range(6)])
    (d / "utt2num_frames").write_text("".join(f"s1-{i} {10 - i}\n" for i in range(6)))
    assert select_utterances(d, 2, "first") == ["s1-0", "s1-1"]
    assert select_utterances(d, 2, "last") == ["s1-4", "s1-5"]
    assert select_utterances(d, 3, "even") == ["s1-0", "s1-2", "s1-4"]
    assert select_utterances(d, 2, "shortest") == ["s1-4", "s1-5"]


def test_combine_concatenates_and_rejects_duplicate_ids(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a = make_dir(tmp_path / "a", ["s1-a", "s1-b"])
    b = make_dir(tmp_path / "b", ["s2-a"])
    (a / "utt2dur").write_text("s1-a 1.0\ns1-b 2.0\n")
    with caplog.at_level(logging.WARNING):
        assert combine_data_dirs(tmp_path / "ab", [a, b]) == 3
    assert "leaving out utt2dur: missing from" in caplog.text
    assert validate_data_dir(tmp_path / "ab") == []
    assert not (tmp_path / "ab" / "utt2dur").exists()
    message = r"utterance 's1-a' is in both .*a/utt2spk and .*a2/utt2spk"
    with pytest.raises(DataDirError, match=message):
        combine_data_dirs(tmp_path / "dup", [a, make_dir(tmp_path / "a2", ["s1-a"])])


def test_split_scp_contiguous_and_too_many_parts(tmp_path: Path) -> None:
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"u{i} x\n" for i in range(5)))
    outs = [tmp_path / f"p{i}" for i in range(3)]
    assert split_scp(scp, outs) == [2, 2, 1]
    assert "".join(p.read_text() for p in outs) == scp.read_text()
    with pytest.raises(DataDirError, match="has 5 lines, fewer than the 6 parts"):
        split_scp(scp, [tmp_path / f"q{i}" for i in range(6)])
