import numpy as np
import pytest
import torch

from cifasr.frontend.normalize import GlobalMVN, UtteranceMVN


def _batch(lengths, dim=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), dim, generator=g) * 3 + 2
    for b, n in enumerate(lengths):
        x[b, n:] = 1e4  # garbage in padding must not leak into the statistics
    return x, torch.tensor(lengths)


def test_utterance_mvn_equals_numpy_per_utterance():
    x, lens = _batch([7, 3, 5])
    y, _ = UtteranceMVN()(x, lens)
    for b, n in enumerate(lens.tolist()):
        u = x[b, :n].double().numpy()
        ref = (u - u.mean(0)) / np.sqrt(np.maximum(u.var(0), 1e-10))
        np.testing.assert_allclose(y[b, :n].numpy(), ref, rtol=1e-5, atol=1e-5)
        assert torch.all(y[b, n:] == 0)


def test_utterance_mvn_variance_floor_on_constant_input():
    x = torch.full((1, 4, 2), 3.0)
    y, _ = UtteranceMVN()(x, torch.tensor([4]))
    assert torch.all(y == 0)


def test_global_mvn_reads_espnet_stats(tmp_path):
    feats = np.random.default_rng(0).normal(1.0, 2.0, size=(50, 4))
    path = tmp_path / "feats_stats.npz"
    np.savez(path, count=np.int64(50), sum=feats.sum(0), sum_square=(feats**2).sum(0))
    mvn = GlobalMVN(str(path))
    x = torch.from_numpy(feats[None]).float()
    y, _ = mvn(x, torch.tensor([50]))
    ref = (feats - feats.mean(0)) / feats.std(0)
    np.testing.assert_allclose(y[0].numpy(), ref, rtol=1e-4, atol=1e-4)
    assert set(mvn.state_dict()) == {"mean", "std"}


def test_global_mvn_names_the_file_when_stats_are_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="stage 10"):
        GlobalMVN(str(tmp_path / "nope.npz"))
    bad = tmp_path / "bad.npz"
    np.savez(bad, count=np.int64(3), sum=np.zeros(2))
    with pytest.raises(ValueError, match="sum_square"):
        GlobalMVN(str(bad))
