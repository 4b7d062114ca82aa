"""``python -m cifasr.bin.score``: files written, scorer choice, errors a user sees."""

import subprocess
import sys

import pytest

from cifasr.bin import score as score_cli
from cifasr.data.kaldi_files import KaldiFileError
from cifasr.scoring import sclite as sclite_mod
from cifasr.scoring.scorer import resolve_scorer

REF = "BAC009S0764W0121 甲乙丙\nBAC009S0764W0122 甲乙丙丁\nBAC009S0765W0001 乙<unk>\n"
UTT2SPK = "BAC009S0764W0121 S0764\nBAC009S0764W0122 S0764\nBAC009S0765W0001 S0765\n"
HYP = "BAC009S0764W0121 甲戊丙\nBAC009S0765W0001 乙<unk>\n"


@pytest.fixture
def data(tmp_path):
    (tmp_path / "text").write_text(REF, encoding="utf-8")
    (tmp_path / "utt2spk").write_text(UTT2SPK, encoding="utf-8")
    (tmp_path / "hyp").write_text(HYP, encoding="utf-8")
    return tmp_path


def _score_args(data, output_dir, scorer="builtin", utt2spk=True) -> list[str]:
    """The command line of cifasr.bin.score on the fixture's ref and hyp."""
    args = ["--ref", str(data / "text"), "--hyp", str(data / "hyp")]
    if utt2spk:
        args += ["--utt2spk", str(data / "utt2spk")]
    return args + ["--output_dir", str(output_dir), "--scorer", scorer]


def test_builtin_writes_trn_and_result(data, capsys):
    out = data / "score_cer"
    score_cli.main(_score_args(data, out))
    assert (out / "ref.trn").read_text(encoding="utf-8") == (
        "甲 乙 丙\t(S0764-BAC009S0764W0121)\n"
        "甲 乙 丙 丁\t(S0764-BAC009S0764W0122)\n"
        "乙 <unk>\t(S0765-BAC009S0765W0001)\n"
    )
    hyp_lines = (out / "hyp.trn").read_text(encoding="utf-8").splitlines()
    assert hyp_lines[1] == "\t(S0764-BAC009S0764W0122)"  # missing hypothesis: empty
    printed = capsys.readouterr().out.splitlines()
    # ESPnet's `grep -e Avg -e SPKR -m 2 result.txt`: 1 sub + 4 del over 9 characters.
    assert printed[0].split() == "| SPKR | # Snt # Wrd | Corr Sub Del Ins Err S.Err |".split()
    assert printed[1].split() == "| Sum/Avg| 3 9 | 44.4 11.1 44.4 0.0 55.6 66.7 |".split()
    result = (out / "result.txt").read_text(encoding="utf-8")
    assert "DUMP OF SYSTEM ALIGNMENT STRUCTURE" in result
    assert "id: (s0764-bac009s0764w0121)" in result


NO_SCLITE = "sclite not installed (Debian/Ubuntu: apt-get install sctk)"


@pytest.mark.skipif(sclite_mod.find_sclite() is None, reason=NO_SCLITE)
def test_sclite_and_builtin_write_the_same_result(data):
    for scorer in ("sclite", "builtin"):
        score_cli.main(_score_args(data, data / scorer, scorer))
    sclite_result = (data / "sclite" / "result.txt").read_bytes()
    assert sclite_result == (data / "builtin" / "result.txt").read_bytes()


def test_auto_falls_back_to_builtin_without_sclite(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sclite_mod, "SCLITE_FALLBACKS", (tmp_path / "nowhere" / "sclite",))
    assert resolve_scorer("auto") == ("builtin", None)
    with pytest.raises(FileNotFoundError, match="apt-get install sctk"):
        resolve_scorer("sclite")


def test_unknown_hypothesis_id_fails_naming_it(data):
    (data / "hyp").write_text(HYP + "BAC009S9999W0001 甲\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "cifasr.bin.score", *_score_args(data, data / "out", utt2spk=False)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "utterance id 'BAC009S9999W0001' is not in" in proc.stderr


def test_malformed_reference_names_file_and_line(data):
    (data / "text").write_text("u1 甲\n\n", encoding="utf-8")
    with pytest.raises(KaldiFileError, match=r"text: line 2 is empty"):
        score_cli.main(_score_args(data, data / "out", utt2spk=False))
