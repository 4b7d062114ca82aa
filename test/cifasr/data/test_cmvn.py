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
