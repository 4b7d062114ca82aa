"""Training end to end through ``python -m cifasr.bin.asr_train`` on a synthetic corpus."""

import os
import re
import signal
import subprocess
import sys
import time

import torch
import yaml

from cifasr.train.checkpoint import load_checkpoint

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _config(tmp_path, base, **trainer):
    cfg = dict(base)
    cfg.update(
        {
            "max_epoch": 3,
            "batch_bins": 160,
            "max_batch_size": 4,
            "num_workers": 0,
            "log_interval": 1,
            "use_tensorboard": False,
            "valid_decode_utts": 4,
            "plot_utts": 0,
            "keep_nbest_models": 2,
            "average_last_epochs": 2,
            "optim": "adamw",
            "optim_conf": {"lr": 2e-3},
            # exact comparisons below: the same precision on every machine (auto would pick
            # bf16 on CPUs with native bf16 and fp32 elsewhere)
            "amp": "fp32",
        }
    )
    cfg.update(trainer)
    path = tmp_path / f"train_{len(list(tmp_path.glob('train_*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _cmd(config, corpus, out_dir, valid=True):
    cmd = [
        sys.executable,
        "-m",
        "cifasr.bin.asr_train",
        "--config",
        str(config),
        "--token_list",
        str(corpus["token_list"]),
        "--train_feats_scp",
        str(corpus["feats_scp"]),
        "--train_text",
        str(corpus["text"]),
        "--output_dir",
        str(out_dir),
    ]
    if valid:
        cmd += ["--valid_feats_scp", str(corpus["feats_scp"]), "--valid_text", str(corpus["text"])]
    return cmd


def _run(cmd, log):
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=ENV, timeout=600)
    return proc.returncode, log.read_text()


def _weights(path):
    state = load_checkpoint(path)
    return state["model"] if "optimizer" in state else state


def test_sigkill_mid_epoch_then_rerun_gives_bit_identical_weights(
    tmp_path, tiny_config, synthetic_corpus
):
    # dropout and SpecAugment on, so that the RNG states matter
    tiny_config["encoder_conf"]["dropout_rate"] = 0.1
    tiny_config["specaug"] = "specaug"
    tiny_config["specaug_conf"] = {"freq_mask_width": 5, "time_mask_width": 5}
    config = _config(tmp_path, tiny_config, max_epoch=4, save_every_steps=1)

    code, log = _run(_cmd(config, synthetic_corpus, tmp_path / "a"), tmp_path / "a.log")
    assert code == 0, log

    out_b = tmp_path / "b"
    log_b = tmp_path / "b.log"
    with open(log_b, "w") as f:
        proc = subprocess.Popen(
            _cmd(config, synthetic_corpus, out_b), stdout=f, stderr=subprocess.STDOUT, env=ENV
        )
    pattern = re.compile(r"saved \S+checkpoint.pth \(epoch 2, batch [1-9]")
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if pattern.search(log_b.read_text()):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"

    code, log = _run(_cmd(config, synthetic_corpus, out_b), tmp_path / "b2.log")
    assert code == 0, log
    assert re.search(r"resumed from \S+: epoch 2, batch [1-9]", log), log
    a, b = _weights(tmp_path / "a/4epoch.pth"), _weights(out_b / "4epoch.pth")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the averaged model, best links and config are there too
    assert (out_b / "ave_last2epoch.pth").is_file()
    assert (out_b / "valid.cer_tf.best.pth").exists()
    assert yaml.safe_load((out_b / "config.yaml").read_text())["token_list"][0] == "<blank>"


def test_two_gloo_processes_match_one_with_the_same_global_batch(
    tmp_path, tiny_config, synthetic_corpus
):
    # a LayerNorm-only encoder: BatchNorm statistics would differ between local batches
    tiny_config["encoder"] = "transformer"
    tiny_config["encoder_conf"] = {
        "output_size": 32,
        "attention_heads": 2,
        "linear_units": 64,
        "num_blocks": 2,
        "dropout_rate": 0.0,
        "positional_dropout_rate": 0.0,
        "attention_dropout_rate": 0.0,
        "conv_channels": 8,
        "pooling_layers": [1],
    }
    # SGD, not Adam: Adam is invariant to the loss scale, so it would hide a wrong per-token
    # normalisation, and it turns float noise in zero-expectation gradients (e.g. attention key
    # biases) into full-size steps.
    config = _config(
        tmp_path,
        tiny_config,
        max_epoch=1,
        max_update=3,
        batch_bins=400,
        optim="sgd",
        optim_conf={"lr": 0.5, "momentum": 0.9},
    )
    code, log = _run(
        _cmd(config, synthetic_corpus, tmp_path / "one", valid=False), tmp_path / "one.log"
    )
    assert code == 0, log
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
    ]
    cmd = _cmd(config, synthetic_corpus, tmp_path / "two", valid=False)
    code, log = _run(torchrun + cmd[1:], tmp_path / "two.log")
    assert code == 0, log
    one = _weights(tmp_path / "one/checkpoint.pth")
    two = _weights(tmp_path / "two/checkpoint.pth")
    assert load_checkpoint(tmp_path / "two/checkpoint.pth")["num_updates"] == 3
    for k in one:
        assert torch.allclose(one[k], two[k], atol=1e-5, rtol=0), k


def test_nan_batches_are_skipped_and_counted(tmp_path, tiny_config, corpus_factory):
    corpus = corpus_factory(tmp_path / "data", nan_utts=(3,))
    config = _config(tmp_path, tiny_config, max_epoch=1)
    code, log = _run(_cmd(config, corpus, tmp_path / "exp", valid=False), tmp_path / "x.log")
    assert code == 0, log
    assert "step skipped" in log
    state = load_checkpoint(tmp_path / "exp/checkpoint.pth")
    assert state["reporter"]["history"][0]["train"]["skipped_steps"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_too_many_bad_steps_stop_with_a_clear_message(tmp_path, tiny_config, corpus_factory):
    corpus = corpus_factory(tmp_path / "data", nan_utts=tuple(range(20)))
    config = _config(tmp_path, tiny_config, max_epoch=1, max_bad_steps=2)
    code, log = _run(_cmd(config, corpus, tmp_path / "exp", valid=False), tmp_path / "x.log")
    assert code != 0
    assert "2 consecutive updates had a non-finite loss or gradient" in log


def test_tiny_model_learns_its_training_utterances(tmp_path, tiny_config, synthetic_corpus):
    config = _config(
        tmp_path,
        tiny_config,
        max_epoch=40,
        valid_decode_utts=20,
        keep_nbest_models=1,
        average_last_epochs=0,
        patience=0,
    )
    code, log = _run(_cmd(config, synthetic_corpus, tmp_path / "exp"), tmp_path / "x.log")
    assert code == 0, log
    history = load_checkpoint(tmp_path / "exp/checkpoint.pth")["reporter"]["history"]
    assert history[-1]["valid"]["acc"] > 0.95, history[-1]
    assert history[-1]["valid"]["cer"] < 0.05, history[-1]
    assert (tmp_path / "exp/images/loss.png").is_file()
