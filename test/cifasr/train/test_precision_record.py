"""asr_train on a CPU without native bf16: `amp: auto` trains in fp32, says so in the log and
records the resolution in config.yaml; an explicit bf16 there runs with a warning."""

import os
import subprocess
import sys

import yaml

from cifasr.tasks.asr import resolve_config


def _train(tmp_path, tiny_config, corpus, amp: str):
    cfg = {**tiny_config, "amp": amp, "max_epoch": 1, "batch_bins": 400, "num_workers": 0}
    cfg.update({"use_tensorboard": False, "valid_decode_utts": 0, "plot_utts": 0})
    config = tmp_path / f"train_{amp}.yaml"
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    out = tmp_path / f"exp_{amp}"
    cmd = [
        sys.executable, "-m", "cifasr.bin.asr_train", "--config", str(config),
        "--token_list", str(corpus["token_list"]), "--train_feats_scp", str(corpus["feats_scp"]),
        "--train_text", str(corpus["text"]), "--output_dir", str(out),
    ]  # fmt: skip
    # The ATen kernels of an AVX2-only CPU, whatever this machine has.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2"}
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8")), run.stderr


def test_auto_trains_in_fp32_on_avx2_and_records_it(tmp_path, tiny_config, synthetic_corpus):
    saved, log = _train(tmp_path, tiny_config, synthetic_corpus, "auto")
    assert saved["amp"] == "auto"
    assert saved["precision"]["requested"] == "auto"
    assert saved["precision"]["resolved"] == "fp32"
    assert "AVX2" in saved["precision"]["reason"]
    assert "precision fp32 (requested: auto)" in log
    # the record is informative: the saved config resolves again, without it
    assert "precision" not in resolve_config(saved)


def test_explicit_bf16_on_avx2_warns(tmp_path, tiny_config, synthetic_corpus):
    saved, log = _train(tmp_path, tiny_config, synthetic_corpus, "bf16")
    assert saved["precision"]["resolved"] == "bf16"
    assert "WARNING" in log and "7-11x slower than fp32" in log
