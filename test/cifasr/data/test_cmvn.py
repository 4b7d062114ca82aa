"""Stage 10 statistics equal a direct numpy computation, whether computed whole or by jobs."""

from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np
import pytest

from cifasr.data.cmvn import CmvnStats, accumulate_cmvn, merge_cmvn_files
from cifasr.data.datadir import split_scp


def test_stats_equal_numpy_and_split_jobs_merge_to_the_same(tmp_path: Path, feats) -> None:
    allfeats = np.concatenate(list(feats.values())).astype(np.float64)
    whole = accumulate_cmvn(tmp_path / "feats.scp")
    assert whole.count == allfeats.shape[0]
    np.testing.assert_allclose(whole.sum, allfeats.sum(0), rtol=1e-12)
    np.testing.assert_allclose(whole.sum_square, (allfeats**2).sum(0), rtol=1e-12)
    parts = [tmp_path / f"feats.{i}.scp" for i in range(3)]
    split_scp(tmp_path / "feats.scp", parts)
    for i, part in enumerate(parts):
        accumulate_cmvn(part).save(tmp_path / f"stats.{i}.npz")
    merged = merge_cmvn_files(tmp_path / f"stats.{i}.npz" for i in range(3))
    merged.save(tmp_path / "feats_stats.npz")
    with np.load(tmp_path / "feats_stats.npz") as npz:
        assert sorted(npz.files) == ["count", "sum", "sum_square"]
        assert npz["count"].dtype == np.int64 and npz["count"].shape == ()
        assert npz["sum"].dtype == np.float64
        np.testing.assert_allclose(npz["sum"], allfeats.sum(0), rtol=1e-12)
        np.testing.assert_allclose(npz["sum_square"], (allfeats**2).sum(0), rtol=1e-12)
    mean, std = merged.mean_std()
    np.testing.assert_allclose(mean, allfeats.mean(0), rtol=1e-10)
    np.testing.assert_allclose(std, allfeats.std(0), rtol=1e-8)


def test_load_rejects_other_npz(tmp_path: Path) -> None:
    np.savez(tmp_path / "x.npz", mean=np.zeros(3))
    message = r"not a feats_stats.npz, missing keys \['count', 'sum', 'sum_square'\]"
    with pytest.raises(ValueError, match=message):
        CmvnStats.load(tmp_path / "x.npz")


def test_dimension_change_names_the_utterance(tmp_path: Path) -> None:
    mats = {"a": np.zeros((3, 5), np.float32), "b": np.zeros((3, 4), np.float32)}
    kaldiio.save_ark(str(tmp_path / "x.ark"), mats, scp=str(tmp_path / "x.scp"))
    message = "line 2: utterance 'b' has dimension 4, earlier utterances 5"
    with pytest.raises(ValueError, match=message):
        accumulate_cmvn(tmp_path / "x.scp")


def test_an_inf_frame_is_refused_naming_the_utterance(tmp_path: Path) -> None:
    mats = {f"u{i}": np.ones((4, 3), np.float32) for i in range(3)}
    mats["u1"][2, 0] = np.inf
    kaldiio.save_ark(str(tmp_path / "x.ark"), mats, scp=str(tmp_path / "x.scp"))
    message = (
        r"line 2: utterance 'u1' has 1 inf/nan feature value\(s\) in 1 frame\(s\) "
        r"\(first: frame 2\)"
    )
    with pytest.raises(ValueError, match=message):
        accumulate_cmvn(tmp_path / "x.scp")


def test_compute_cmvn_exits_1_and_writes_nothing_on_non_finite_features(tmp_path: Path) -> None:
    from cifasr.bin.compute_cmvn import main

    mats = {"a": np.ones((4, 3), np.float32), "b": np.full((2, 3), np.nan, np.float32)}
    kaldiio.save_ark(str(tmp_path / "x.ark"), mats, scp=str(tmp_path / "x.scp"))
    assert main(["--feats_scp", str(tmp_path / "x.scp"), "--out", str(tmp_path / "s.npz")]) == 1
    assert not (tmp_path / "s.npz").exists()
    # statistics that are already non-finite (a job file of an older version) are not merged
    bad = CmvnStats(3, np.array([1.0, np.inf]), np.ones(2))
    np.savez(tmp_path / "bad.npz", count=np.int64(3), sum=bad.sum, sum_square=bad.sum_square)
    out = tmp_path / "merged.npz"
    assert main(["--merge", str(tmp_path / "bad.npz"), "--out", str(out)]) == 1
    assert not out.exists()
