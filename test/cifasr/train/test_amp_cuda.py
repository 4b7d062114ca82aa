"""Mixed precision on a CUDA GPU: fp16 with a GradScaler and bf16 train with finite losses and
weights, and a run killed mid-epoch resumes to the weights of an uninterrupted one (skipped
without a GPU; bench/gpu_check.sh runs it)."""

import math
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from cifasr.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.cuda
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}


def _cmd(tmp_path, tiny_config, corpus, amp, out):
    cfg = {**tiny_config, "amp": amp, "max_epoch": 3, "batch_bins": 160, "max_batch_size": 4}
    cfg.update(num_workers=0, log_interval=1, use_tensorboard=False, save_every_steps=1)
    cfg.update(valid_decode_utts=4, plot_utts=0, optim="adamw", optim_conf={"lr": 2e-3})
    config = tmp_path / f"train_{amp}.yaml"
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return [
        sys.executable, "-m", "cifasr.bin.asr_train", "--config", str(config), "--ngpu", "1",
        "--token_list", str(corpus["token_list"]), "--train_feats_scp", str(corpus["feats_scp"]),
        "--train_text", str(corpus["text"]), "--valid_feats_scp", str(corpus["feats_scp"]),
        "--valid_text", str(corpus["text"]), "--output_dir", str(out),
    ]  # fmt: skip


@pytest.mark.parametrize("amp, scaler", [("fp16", True), ("bf16", False)])
def test_mixed_precision_trains_finite_and_resumes(
    tmp_path, tiny_config, synthetic_corpus, amp, scaler
):
    straight = tmp_path / "straight"
    cmd = _cmd(tmp_path, tiny_config, synthetic_corpus, amp, straight)
    run = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"precision {amp} (requested: {amp})" in run.stderr
    state = load_checkpoint(straight / "checkpoint.pth")
    if scaler:
        assert math.isfinite(float(state["scaler"]["scale"])) and state["scaler"]["scale"] > 0
    for name, w in state["model"].items():
        assert torch.isfinite(w.float()).all(), name
    train = state["reporter"]["history"][-1]["train"]
    assert math.isfinite(train["loss"])

    resumed = tmp_path / "resumed"
    cmd = _cmd(tmp_path, tiny_config, synthetic_corpus, amp, resumed)
    log = tmp_path / "killed.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=ENV)
    pattern = re.compile(r"saved \S+checkpoint.pth \(epoch 2, batch [1-9]")
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if pattern.search(log.read_text()):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    run = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"resumed from \S+: epoch 2, batch [1-9]", run.stderr)
    a = load_checkpoint(straight / "3epoch.pth")
    b = load_checkpoint(resumed / "3epoch.pth")
    for name in a:
        # GPU kernels (atomics in backward) are not bit-reproducible: close, not equal
        torch.testing.assert_close(b[name].float(), a[name].float(), rtol=1e-3, atol=1e-3)
