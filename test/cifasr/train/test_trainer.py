"""Training end to end through ``python -m cifasr.bin.asr_train`` on a synthetic corpus."""

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
from cifasr.utils.edit_distance import edit_distance

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


def _cmd(config, corpus, out_dir, valid=True, valid_corpus=None):
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
        v = valid_corpus or corpus
        cmd += ["--valid_feats_scp", str(v["feats_scp"]), "--valid_text", str(v["text"])]
    return cmd


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]


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
    cmd = _cmd(config, synthetic_corpus, tmp_path / "two", valid=False)
    code, log = _run([*TORCHRUN, "2", *cmd[1:]], tmp_path / "two.log")
    assert code == 0, log
    one = _weights(tmp_path / "one/checkpoint.pth")
    two = _weights(tmp_path / "two/checkpoint.pth")
    assert load_checkpoint(tmp_path / "two/checkpoint.pth")["num_updates"] == 3
    for k in one:
        assert torch.allclose(one[k], two[k], atol=1e-5, rtol=0), k


def test_two_gloo_processes_with_sync_batchnorm_match_one_with_validation(
    tmp_path, tiny_config, corpus_factory
):
    """The conformer (BatchNorm in its convolution modules) with sync_batchnorm: 2 processes
    equal 1 with the same global batch, weights and every reported metric, validation on. The
    validation set and the decode subset are one batch each, so rank 1 validates nothing.

    BatchNorm statistics in training mode include padded frames (cifasr.encoder.conformer), so
    each global batch here holds utterances of one length: every process then pads as the single
    process does, and what remains to equal is the synchronisation itself."""
    train = corpus_factory(
        tmp_path / "train", num_utts=16, chars_per_utt=(5,) * 4 + (4,) * 4 + (3,) * 4 + (2,) * 4
    )
    valid = corpus_factory(tmp_path / "valid", num_utts=3, seed=1)
    config = _config(
        tmp_path,
        tiny_config,
        max_epoch=2,
        batch_bins=160,
        max_batch_size=4,
        valid_batch_bins=1000,
        valid_decode_utts=3,
        sync_batchnorm=True,
        optim="sgd",
        optim_conf={"lr": 0.5, "momentum": 0.9},
    )
    one = _cmd(config, train, tmp_path / "one", valid_corpus=valid)
    code, log = _run(one, tmp_path / "one.log")
    assert code == 0, log
    two = _cmd(config, train, tmp_path / "two", valid_corpus=valid)
    code, log = _run([*TORCHRUN, "2", *two[1:]], tmp_path / "two.log")
    assert code == 0, log
    assert "2 processes (gloo)" in log
    a = load_checkpoint(tmp_path / "one/checkpoint.pth")
    b = load_checkpoint(tmp_path / "two/checkpoint.pth")
    assert a["num_updates"] == b["num_updates"] == 8
    assert any("norm.running_var" in k for k in a["model"])
    for k in a["model"]:
        assert torch.allclose(a["model"][k].float(), b["model"][k].float(), atol=1e-5, rtol=0), k
    for ra, rb in zip(a["reporter"]["history"], b["reporter"]["history"], strict=True):
        for phase in ("train", "valid"):
            assert ra[phase].keys() == rb[phase].keys(), phase
            for key in ra[phase]:
                if not key.endswith("_time"):
                    # float32 sums in another order (weights equal to 1e-5 above); a metric that
                    # is a small difference of large sums (loss_quantity) loses digits
                    assert ra[phase][key] == pytest.approx(rb[phase][key], rel=1e-5, abs=1e-4), (
                        phase,
                        key,
                    )
        assert "cer" in ra["valid"] and "cer_tf" in ra["valid"]


@pytest.mark.cuda
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs")
def test_two_nccl_processes_with_sync_batchnorm_match_one_gpu(
    tmp_path, tiny_config, corpus_factory
):
    """The gloo test above on GPUs: NCCL, torch.nn.SyncBatchNorm, validation with an empty shard
    on rank 1. cuDNN convolutions use TF32 by default, hence the looser tolerance."""
    train = corpus_factory(
        tmp_path / "train", num_utts=16, chars_per_utt=(5,) * 4 + (4,) * 4 + (3,) * 4 + (2,) * 4
    )
    valid = corpus_factory(tmp_path / "valid", num_utts=3, seed=1)
    config = _config(
        tmp_path,
        tiny_config,
        max_epoch=2,
        batch_bins=160,
        max_batch_size=4,
        valid_batch_bins=1000,
        valid_decode_utts=3,
        sync_batchnorm=True,
        optim="sgd",
        optim_conf={"lr": 0.5, "momentum": 0.9},
    )
    one = [*_cmd(config, train, tmp_path / "one", valid_corpus=valid), "--ngpu", "1"]
    code, log = _run(one, tmp_path / "one.log")
    assert code == 0, log
    two = [*_cmd(config, train, tmp_path / "two", valid_corpus=valid), "--ngpu", "1"]
    code, log = _run([*TORCHRUN, "2", *two[1:]], tmp_path / "two.log")
    assert code == 0, log
    assert "2 processes (nccl)" in log
    a = load_checkpoint(tmp_path / "one/checkpoint.pth")
    b = load_checkpoint(tmp_path / "two/checkpoint.pth")
    assert a["num_updates"] == b["num_updates"] == 8
    for k in a["model"]:
        assert torch.allclose(a["model"][k].float(), b["model"][k].float(), atol=2e-3, rtol=0), k
    valid_a, valid_b = a["reporter"]["history"][-1]["valid"], b["reporter"]["history"][-1]["valid"]
    assert valid_a.keys() == valid_b.keys() and "cer" in valid_b
    assert abs(valid_a["loss"] - valid_b["loss"]) <= 2e-3


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


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_config_factory, corpus_factory) -> dict:
    """One epoch of the tiny model; its validation set has characters outside the token list."""
    tmp = tmp_path_factory.mktemp("trained")
    train = corpus_factory(tmp / "train")
    valid = corpus_factory(tmp / "valid", num_utts=3, num_chars=12, seed=3)
    config = _config(tmp, tiny_config_factory(), max_epoch=1, valid_decode_utts=3)
    cmd = _cmd(config, train, tmp / "exp", valid_corpus=valid)
    code, log = _run(cmd, tmp / "train.log")
    assert code == 0, log
    return {"tmp": tmp, "train": train, "valid": valid, "config": config, "cmd": cmd, "log": log}


def _units(text: str) -> list[str]:
    return re.findall(r"<unk>|.", text)


def test_validation_cer_counts_unk_as_one_token(trained) -> None:
    tokens = trained["train"]["token_list"].read_text(encoding="utf-8").split()
    refs = dict(re.findall(r"(utt\d+) REF: (.*)", trained["log"]))
    hyps = dict(re.findall(r"(utt\d+) HYP: (.*)", trained["log"]))
    assert len(refs) == len(hyps) == 3
    assert any("<unk>" in r for r in refs.values()), refs  # out-of-list characters
    assert all(u in tokens for r in refs.values() for u in _units(r))
    errors = sum(edit_distance(_units(hyps[u]), _units(refs[u])) for u in refs)
    ref_tokens = sum(len(_units(r)) for r in refs.values())
    logged = re.search(r"validation decode: (\d+) errors in (\d+) reference tokens", trained["log"])
    assert logged and (int(logged[1]), int(logged[2])) == (errors, ref_tokens)
    assert ref_tokens < sum(len(r) for r in refs.values())  # not the characters of '<unk>'
    history = load_checkpoint(trained["tmp"] / "exp/checkpoint.pth")["reporter"]["history"]
    assert history[0]["valid"]["cer"] == pytest.approx(errors / ref_tokens, abs=1e-12)


def test_rerun_with_a_changed_config_is_refused_naming_the_keys(trained) -> None:
    exp = trained["tmp"] / "exp"
    before = (exp / "checkpoint.pth").read_bytes()
    (exp / ".checkpoint.pth.tmp4242").write_bytes(b"left by a killed save")
    config = yaml.safe_load(trained["config"].read_text(encoding="utf-8"))
    config["optim_conf"]["lr"] = 1e-3
    config["log_interval"] = 7  # a key that does not change training: not named
    changed = trained["tmp"] / "changed.yaml"
    changed.write_text(yaml.safe_dump(config), encoding="utf-8")
    cmd = [changed if a == str(trained["config"]) else a for a in trained["cmd"]]
    code, log = _run([str(a) for a in cmd], trained["tmp"] / "rerun.log")
    assert code == 1, log
    assert "was trained with another config" in log and "optim_conf.lr: 0.002 -> 0.001" in log
    assert "log_interval" not in log.split("this run differs in:")[1]
    assert "--resume false" in log
    assert (exp / "checkpoint.pth").read_bytes() == before
    assert yaml.safe_load((exp / "config.yaml").read_text())["optim_conf"]["lr"] == 2e-3
    assert not (exp / ".checkpoint.pth.tmp4242").exists()


def test_init_param_with_a_permuted_token_list_is_refused(trained) -> None:
    tokens = trained["train"]["token_list"].read_text(encoding="utf-8").split()
    permuted = [tokens[0], tokens[1], tokens[3], tokens[2], *tokens[4:]]  # same size and set
    (trained["tmp"] / "permuted.txt").write_text("\n".join(permuted) + "\n", encoding="utf-8")
    cmd = _cmd(trained["config"], trained["train"], trained["tmp"] / "b", valid=False)
    cmd[cmd.index("--token_list") + 1] = str(trained["tmp"] / "permuted.txt")
    cmd += ["--init_param", str(trained["tmp"] / "exp/valid.cer_tf.best.pth")]
    code, log = _run(cmd, trained["tmp"] / "init.log")
    assert code == 1, log
    assert (
        "was trained with another token list" in log
        and f"id 2 is '{tokens[2]}' in one and '{tokens[3]}' in the other" in log
        and "--ignore_token_list_mismatch true" in log
    )
