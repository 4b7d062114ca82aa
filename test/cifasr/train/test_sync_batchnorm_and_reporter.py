"""Two gloo processes (torchrun): synchronised BatchNorm equals BatchNorm over the global batch,
and the reporter's epoch means are exact when the processes registered different keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from cifasr.train.sync_batchnorm import CpuSyncBatchNorm, convert_sync_batchnorm

SCRIPT = r"""
import json, sys
import torch
import torch.distributed as dist
from torch import nn
from cifasr.train.reporter import Reporter
from cifasr.train.sync_batchnorm import convert_sync_batchnorm

dist.init_process_group("gloo")
rank = dist.get_rank()
out = {}

# --- BatchNorm: each process holds a different number of utterances and frames
g = torch.Generator().manual_seed(0)
x0 = torch.randn(3, 4, 7, generator=g) * 2 + 1
x1 = torch.randn(2, 4, 5, generator=g) * 3 - 1
w0, w1 = torch.randn(3, 4, 7, generator=g), torch.randn(2, 4, 5, generator=g)
torch.manual_seed(1)
model = nn.Sequential(nn.BatchNorm1d(4, momentum=0.3))
with torch.no_grad():
    model[0].weight.uniform_(0.5, 1.5)
    model[0].bias.uniform_(-0.5, 0.5)
model = convert_sync_batchnorm(model, torch.device("cpu"))
x = (x0 if rank == 0 else x1).clone().requires_grad_(True)
y = model(x)
(y * (w0 if rank == 0 else w1)).sum().backward()
grads = [model[0].weight.grad.clone(), model[0].bias.grad.clone()]
for t in grads:
    dist.all_reduce(t)  # what DDP does (it averages the W-scaled local losses' gradients)
out["type"] = type(model[0]).__name__
out["y"] = y.tolist()
out["x_grad"] = x.grad.tolist()
out["weight_grad"], out["bias_grad"] = grads[0].tolist(), grads[1].tolist()
out["running_mean"] = model[0].running_mean.tolist()
out["running_var"] = model[0].running_var.tolist()
out["num_batches_tracked"] = int(model[0].num_batches_tracked)

# --- Reporter: rank 1 has no valid phase at all (an empty validation shard), only rank 0 decoded
rep = Reporter()
rep.register("train", {"loss": 1.0 + rank}, 10.0 * (rank + 1))
if rank == 0:
    rep.register("valid", {"loss": 4.0, "acc": 0.5}, 6.0)
    rep.add_ratio("valid", "cer", 3, 12)
    rep.add("train", "skipped_steps", 1.0)
rep.add_ratio("valid", "cer", 0, 0)  # nothing decoded: contributes nothing
state = rep.state_dict(distributed=True)
record = rep.finish_epoch(1, {}, distributed=True)
out["record"] = record
out["state_sums"] = state["sums"]
json.dump(out, open(sys.argv[1] + f".{rank}.json", "w"))
dist.destroy_process_group()
"""


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    d = tmp_path_factory.mktemp("dist")
    (d / "script.py").write_text(SCRIPT, encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(d / "script.py"),
        str(d / "out"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, encoding="utf-8", env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads(Path(f"{d / 'out'}.{r}.json").read_text()) for r in range(2)]


def _reference() -> dict:
    """BatchNorm on one process over both processes' frames: the (B*T, C) rows of both."""
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(3, 4, 7, generator=g) * 2 + 1
    x1 = torch.randn(2, 4, 5, generator=g) * 3 - 1
    w0, w1 = torch.randn(3, 4, 7, generator=g), torch.randn(2, 4, 5, generator=g)
    torch.manual_seed(1)
    bn = nn.BatchNorm1d(4, momentum=0.3)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    x0, x1 = x0.clone().requires_grad_(True), x1.clone().requires_grad_(True)
    rows = torch.cat([x0.transpose(1, 2).reshape(-1, 4), x1.transpose(1, 2).reshape(-1, 4)])
    y = bn(rows)
    y0 = y[:21].reshape(3, 7, 4).transpose(1, 2)
    y1 = y[21:].reshape(2, 5, 4).transpose(1, 2)
    ((y0 * w0).sum() + (y1 * w1).sum()).backward()
    return {
        "y": [y0, y1],
        "x_grad": [x0.grad, x1.grad],
        "weight_grad": bn.weight.grad,
        "bias_grad": bn.bias.grad,
        "running_mean": bn.running_mean,
        "running_var": bn.running_var,
    }


def test_sync_batchnorm_equals_batchnorm_over_the_global_batch(two_processes) -> None:
    ref = _reference()
    for rank, out in enumerate(two_processes):
        assert out["type"] == "CpuSyncBatchNorm"
        for key in ("y", "x_grad"):
            torch.testing.assert_close(torch.tensor(out[key]), ref[key][rank], atol=1e-5, rtol=0)
        for key in ("weight_grad", "bias_grad", "running_mean", "running_var"):
            torch.testing.assert_close(torch.tensor(out[key]), ref[key], atol=1e-5, rtol=0)
        assert out["num_batches_tracked"] == 1


def test_epoch_means_reduce_over_the_union_of_keys(two_processes) -> None:
    # rank 0: train loss 1 over 10 tokens, valid loss 4 / acc 0.5 over 6, cer 3/12, 1 skipped
    # step; rank 1: train loss 2 over 20 tokens and nothing else
    expected = {
        "epoch": 1,
        "train": {"loss": (1 * 10 + 2 * 20) / 30, "skipped_steps": 1.0},
        "valid": {"acc": 0.5, "cer": 0.25, "loss": 4.0},
    }
    for out in two_processes:
        assert out["record"].keys() == expected.keys() and out["record"]["epoch"] == 1
        for phase in ("train", "valid"):
            assert out["record"][phase] == pytest.approx(expected[phase])
    # the checkpointed running sums are those of both processes
    assert two_processes[0]["state_sums"]["train"] == {"loss": 50.0, "skipped_steps": 1.0}


def test_conversion_keeps_parameters_and_state_dict_names() -> None:
    model = nn.Sequential(nn.Conv1d(2, 3, 1), nn.BatchNorm1d(3), nn.ReLU())
    params = list(model.parameters())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    converted = convert_sync_batchnorm(model, torch.device("cpu"))
    assert isinstance(converted[1], CpuSyncBatchNorm)
    assert list(converted.parameters()) == params  # the optimiser built before still applies
    after = converted.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)
    # one process (no process group): plain BatchNorm
    x = torch.randn(4, 3, 6)
    torch.testing.assert_close(
        converted[1](x),
        nn.functional.batch_norm(
            x, None, None, converted[1].weight, converted[1].bias, training=True
        ),
    )
