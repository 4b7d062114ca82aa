"""AISHELL-1 preparation on a generated corpus tree with the real layout: packed, unpacked,
as the downloaded archive, and through a (local) download."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from types import ModuleType

import pytest

from cifasr.bin import prepare_aishell as prepare_cli
from cifasr.data.aishell import (
    TRANSCRIPT,
    AishellError,
    download_aishell,
    prepare_aishell,
    unpack_aishell,
)
from cifasr.data.datadir import validate_data_dir
from cifasr.data.kaldi_files import KaldiFileError, read_kaldi_map


def check_prepared(out: Path, fake) -> None:
    for split in ("train", "dev", "test"):
        d = out / split
        assert validate_data_dir(d) == []
        text = read_kaldi_map(d / "text", require_sorted=True)
        assert text == dict(sorted(fake.expected_text(split).items()))
        utt2spk = read_kaldi_map(d / "utt2spk")
        assert all(spk == utt[6:11] for utt, spk in utt2spk.items())
        for utt, path in read_kaldi_map(d / "wav.scp").items():
            assert Path(path).is_absolute() and Path(path).name == f"{utt}.wav"
            assert Path(path).is_file()


def test_unpacked_corpus(tmp_path: Path, fake_aishell_module: ModuleType) -> None:
    fake = fake_aishell_module.make_fake_aishell(tmp_path / "corpus", packed=False)
    report = prepare_aishell(tmp_path / "corpus", tmp_path / "data")
    check_prepared(tmp_path / "data", fake)
    assert report.written == {"train": 8, "dev": 4, "test": 4}
    assert report.no_transcript == {"train": 2, "dev": 1, "test": 1}
    assert report.no_audio == len(fake.text_without_audio) == 2
    assert (
        "".join(fake.utterances["train"]["BAC009S0002W0003"][0])
        == read_kaldi_map(tmp_path / "data" / "train" / "text")["BAC009S0002W0003"]
    )


def test_packed_corpus_is_unpacked_once(tmp_path: Path, fake_aishell_module: ModuleType) -> None:
    fake = fake_aishell_module.make_fake_aishell(tmp_path / "corpus", packed=True)
    assert sorted(p.name for p in (tmp_path / "corpus/data_aishell/wav").iterdir()) == [
        "S0002.tar.gz",
        "S0003.tar.gz",
        "S0724.tar.gz",
        "S0764.tar.gz",
    ]
    prepare_aishell(tmp_path / "corpus", tmp_path / "data")
    check_prepared(tmp_path / "data", fake)
    assert unpack_aishell(tmp_path / "corpus") == 0  # markers: nothing extracted again
    first = (tmp_path / "data" / "train" / "text").read_bytes()
    prepare_aishell(tmp_path / "corpus", tmp_path / "data")  # a re-run overwrites
    assert (tmp_path / "data" / "train" / "text").read_bytes() == first


def test_downloaded_archive_form(tmp_path: Path, fake_aishell_module: ModuleType) -> None:
    fake = fake_aishell_module.make_fake_aishell(tmp_path / "corpus", packed=True, tgz=True)
    assert not (tmp_path / "corpus" / "data_aishell").exists()
    prepare_aishell(tmp_path / "corpus", tmp_path / "data")
    check_prepared(tmp_path / "data", fake)


def test_missing_corpus_says_where_to_point_aishell(tmp_path: Path) -> None:
    with pytest.raises(AishellError, match=r"does not hold data_aishell/.*set AISHELL"):
        prepare_aishell(tmp_path / "nothing", tmp_path / "data")
    args = ["--corpus_root", str(tmp_path / "nothing"), "--out_dir", str(tmp_path / "d")]
    assert prepare_cli.main(args) == 1


def test_empty_and_duplicate_transcripts_are_counted(
    tmp_path: Path, fake_aishell_module: ModuleType
) -> None:
    fake_aishell_module.make_fake_aishell(tmp_path / "corpus", packed=False)
    transcript = tmp_path / "corpus" / TRANSCRIPT
    lines = transcript.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].split()[0] + "   "  # whitespace-only transcript
    lines.append(lines[1].split()[0] + " 重 复")  # duplicated id
    transcript.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = prepare_aishell(tmp_path / "corpus", tmp_path / "data")
    assert report.transcript_dropped == {"empty transcript": 1, "duplicate id": 1, "empty line": 0}
    assert report.no_transcript["train"] == 3  # the utterance whose transcript was emptied
    assert "重复" not in (tmp_path / "data" / "train" / "text").read_text(encoding="utf-8")


def test_non_utf8_transcript_names_file_and_line(
    tmp_path: Path, fake_aishell_module: ModuleType
) -> None:
    fake_aishell_module.make_fake_aishell(tmp_path / "corpus", packed=False)
    transcript = tmp_path / "corpus" / TRANSCRIPT
    transcript.write_bytes(transcript.read_bytes() + "BAC009S0002W0005 坏\n".encode("gbk"))
    message = r"aishell_transcript_v0.8.txt: line 19 \(key 'BAC009S0002W0005'\) is not valid UTF-8"
    with pytest.raises(KaldiFileError, match=message):
        prepare_aishell(tmp_path / "corpus", tmp_path / "data")


@pytest.fixture
def http_dir(tmp_path: Path):
    """A local HTTP server over tmp_path/www (port chosen by the OS)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_then_prepare(tmp_path: Path, http_dir, fake_aishell_module: ModuleType) -> None:
    www, url = http_dir
    fake = fake_aishell_module.make_fake_aishell(www, packed=True, tgz=True)
    root = tmp_path / "downloads"
    code = prepare_cli.main(
        [
            "--corpus_root",
            str(root),
            "--out_dir",
            str(tmp_path / "data"),
            "--download",
            "true",
            "--url",
            f"{url}/data_aishell.tgz",
            "--check_size",
            "false",
        ]
    )
    assert code == 0
    assert (root / "data_aishell.tgz").read_bytes() == (www / "data_aishell.tgz").read_bytes()
    check_prepared(tmp_path / "data", fake)


def test_wrong_size_and_no_network_messages(tmp_path: Path, http_dir) -> None:
    www, url = http_dir
    (www / "data_aishell.tgz").write_bytes(b"x" * 100)
    with pytest.raises(AishellError, match="downloaded 100 bytes, expected 15582913665"):
        download_aishell(tmp_path / "dl", f"{url}/data_aishell.tgz")
    with pytest.raises(AishellError) as err:
        download_aishell(tmp_path / "dl2", "http://127.0.0.1:9/data_aishell.tgz", timeout_s=5)
    assert "could not download" in str(err.value) and "fetch data_aishell.tgz" in str(err.value)
