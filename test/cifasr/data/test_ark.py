"""feats.scp entries: exact matrices (Kaldi binary and kaldiio numpy entries), and a broken
entry reported with its scp line, key and what to do."""

from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np
import pytest

from cifasr.data.ark import ArkReadError, matrix_shape, read_matrix
from cifasr.data.cmvn import accumulate_cmvn


def test_read_matrix_equals_kaldiio(tmp_path: Path, feats) -> None:
    for line in (tmp_path / "feats.scp").read_text().splitlines():
        key, entry = line.split()
        np.testing.assert_array_equal(read_matrix(entry), feats[key])
        assert matrix_shape(entry) == feats[key].shape


def test_float64_and_kaldiio_numpy_float16_entries(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    m64 = rng.standard_normal((4, 3))
    m16 = rng.standard_normal((6, 8)).astype(np.float16)
    kaldiio.save_ark(str(tmp_path / "d.ark"), {"a": m64}, scp=str(tmp_path / "d.scp"))
    with kaldiio.WriteHelper(
        f"ark,scp:{tmp_path / 'h.ark'},{tmp_path / 'h.scp'}", write_function="numpy"
    ) as writer:
        writer("b", m16)
    d_entry = (tmp_path / "d.scp").read_text().split()[1]
    h_entry = (tmp_path / "h.scp").read_text().split()[1]
    assert read_matrix(d_entry).dtype == np.float32
    np.testing.assert_array_equal(read_matrix(d_entry), m64.astype(np.float32))
    np.testing.assert_array_equal(read_matrix(h_entry), m16.astype(np.float32))
    assert matrix_shape(h_entry) == (6, 8)


def test_corrupt_offset_names_scp_line_and_key(tmp_path: Path, feats) -> None:
    lines = (tmp_path / "feats.scp").read_text().splitlines()
    key, entry = lines[2].split()
    ark, offset = entry.rsplit(":", 1)
    lines[2] = f"{key} {ark}:{int(offset) + 3}"
    (tmp_path / "bad.scp").write_text("\n".join(lines) + "\n")
    with pytest.raises(ArkReadError) as err:
        accumulate_cmvn(tmp_path / "bad.scp")
    assert f"bad.scp: line 3: utterance '{key}': cannot read the matrix at" in str(err.value)
    assert "re-run the feature dump (stage 3)" in str(err.value)


def test_truncated_ark_and_missing_ark(tmp_path: Path, feats) -> None:
    data = (tmp_path / "feats.ark").read_bytes()
    (tmp_path / "feats.ark").write_bytes(data[:-10])
    last_key, last_entry = (tmp_path / "feats.scp").read_text().splitlines()[-1].split()
    with pytest.raises(ArkReadError, match=r"the ark ends inside the \(62, 5\) matrix"):
        read_matrix(last_entry, source=f"feats.scp: utterance '{last_key}'")
    with pytest.raises(ArkReadError, match=r"ark file \S*nowhere.ark of '\S*:5' does not exist$"):
        read_matrix(str(tmp_path / "nowhere.ark") + ":5")
    with pytest.raises(ArkReadError, match=r"\(relative to .*; run from the recipe directory\)"):
        read_matrix("dump/nowhere.ark:5")
    with pytest.raises(ArkReadError, match=r"is not '<ark path>:<byte offset>'"):
        read_matrix("no-offset.ark")
