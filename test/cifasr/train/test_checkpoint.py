import pytest
import torch

from cifasr.train.checkpoint import (
    average_checkpoints,
    average_state_dicts,
    load_checkpoint,
    save_atomic,
)


def _state(seed):
    g = torch.Generator().manual_seed(seed)
    bn = torch.nn.BatchNorm1d(3)
    bn.running_mean.copy_(torch.randn(3, generator=g))
    return {
        "w": torch.randn(4, 5, generator=g),
        **{f"bn.{k}": v for k, v in bn.state_dict().items()},
    }


def test_averaging_identical_checkpoints_returns_the_same_weights():
    s = _state(0)
    avg = average_state_dicts([s, s, s])
    for k in s:
        assert torch.equal(avg[k], s[k]) and avg[k].dtype == s[k].dtype


def test_averaging_two_returns_their_mean(tmp_path):
    a, b = _state(1), _state(2)
    save_atomic({"model": a, "optimizer": {}}, tmp_path / "checkpoint.pth")  # a training checkpoint
    save_atomic(b, tmp_path / "2epoch.pth")  # a model-only epoch file
    avg = average_checkpoints([tmp_path / "checkpoint.pth", tmp_path / "2epoch.pth"])
    assert torch.allclose(avg["w"], (a["w"] + b["w"]) / 2)
    assert torch.allclose(avg["bn.running_mean"], (a["bn.running_mean"] + b["bn.running_mean"]) / 2)


def test_mismatched_states_are_refused():
    a, b = _state(1), _state(2)
    b["w"] = torch.zeros(2)
    with pytest.raises(ValueError, match="'w' has different shapes"):
        average_state_dicts([a, b])


def test_loads_are_weights_only_and_name_the_file(tmp_path):
    import functools

    path = tmp_path / "evil.pth"
    torch.save({"x": functools.partial(print)}, path)  # callables are never unpickled
    with pytest.raises(RuntimeError, match="evil.pth: cannot load"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_checkpoint(tmp_path / "nope.pth")


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pth"
    save_atomic({"a": torch.ones(2)}, path)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_atomic({"a": torch.zeros(2)}, path)
    assert torch.equal(load_checkpoint(path)["a"], torch.ones(2))  # the old file survives
