"""Stages 1-5 and 10 of the real AISHELL-1 recipe (run.sh -> asr.sh) on a generated corpus in the
packed, as-downloaded layout: counts, sorting, features, token list and CMVN statistics."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from types import ModuleType

import numpy as np
import pytest

from cifasr.data.ark import read_matrix
from cifasr.data.audio import read_audio
from cifasr.data.datadir import validate_data_dir
from cifasr.data.kaldi_files import read_kaldi_map
from cifasr.data.tokenizer import load_token_list
from cifasr.frontend.fbank import compute_fbank

pytestmark = pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")


@pytest.fixture(scope="module")
def recipe(recipe_copy, fake_aishell: ModuleType) -> dict:
    """egs2/aishell/asr1 copied into a scratch tree (tools, utils, TEMPLATE linked), run once."""
    recipe_dir = recipe_copy("aishell")
    root = recipe_dir.parents[2]
    fake = fake_aishell.make_fake_aishell(root / "corpus", packed=True)
    env = {**os.environ, "AISHELL": str(root / "corpus")}
    command = ["./run.sh", "--nj", "2", "--stop_stage", "10"]
    command += ["--speed_perturb_factors", "0.9 1.0 1.1"]
    run = subprocess.run(command, cwd=recipe_dir, env=env, capture_output=True, encoding="utf-8")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return {
        "dir": recipe_dir,
        "fake": fake,
        "log": run.stdout + run.stderr,
        "stdout": run.stdout,
        "env": env,
    }


def test_log_names_stages_and_finishes(recipe: dict) -> None:
    log = recipe["log"]
    for stage in (1, 2, 3, 4, 5, 10):
        assert f"Stage {stage}: " in log
    assert "Stage 3: dump/fbank/org/train_sp: 24 utterances in, 24 out" in log
    assert "24 utterances in, 18 out; 3 too short (< 0.1 s)" in log
    last = recipe["stdout"].rstrip().splitlines()[-1]
    assert last.split(") ", 1)[1].startswith("Successfully finished. [elapsed=")


def test_data_dirs_counts_and_sorting(recipe: dict) -> None:
    d, fake = recipe["dir"], recipe["fake"]
    for split in ("train", "dev", "test"):
        assert validate_data_dir(d / "data" / split) == []  # includes the LC_ALL=C order check
        assert read_kaldi_map(d / "data" / split / "text") == fake.expected_text(split)
    sp = read_kaldi_map(d / "data" / "train_sp" / "utt2spk")
    assert len(sp) == 3 * len(fake.utterances["train"])
    assert sp["sp0.9-BAC009S0003W0002"] == "sp0.9-S0003"
    bad = fake.too_short + fake.text_too_long
    dropped = {f"sp{f}-{u}" for f in ("0.9", "1.0", "1.1") for u in bad}
    kept = read_kaldi_map(d / "dump" / "fbank" / "train_sp" / "utt2spk")
    assert set(kept) == set(sp) - dropped
    for name in ("train_sp", "dev", "test"):
        sub = "" if name == "test" else "org/"
        assert validate_data_dir(d / "dump" / "fbank" / f"{sub}{name}", need_feats=True) == []
        assert validate_data_dir(d / "dump" / "fbank" / name, need_feats=True) == []


def test_features_and_frame_counts(recipe: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    d, fake = recipe["dir"], recipe["fake"]
    monkeypatch.chdir(d)  # feats.scp paths are relative to the recipe directory, as in ESPnet
    test_dir = d / "dump" / "fbank" / "test"
    frames = read_kaldi_map(test_dir / "utt2num_frames")
    wav = read_kaldi_map(test_dir / "wav.scp")
    for utt, entry in read_kaldi_map(test_dir / "feats.scp").items():
        samples = fake.utterances["test"][utt][1]
        feats = read_matrix(entry)
        assert feats.shape == (1 + (samples - 400) // 160, 80)
        assert int(frames[utt]) == feats.shape[0]
        np.testing.assert_array_equal(feats, compute_fbank(*read_audio(wav[utt])))
    # Speed-perturbed audio: frames follow the perturbed sample count.
    sp_dir = d / "dump" / "fbank" / "train_sp"
    sp_wav = read_kaldi_map(sp_dir / "wav.scp")
    for utt in ("sp0.9-BAC009S0003W0001", "sp1.1-BAC009S0003W0004", "sp1.0-BAC009S0002W0003"):
        samples, rate = read_audio(sp_wav[utt])
        feats = read_matrix(read_kaldi_map(sp_dir / "feats.scp")[utt])
        assert feats.shape == (1 + (samples.shape[0] - 400) // 160, 80)
        np.testing.assert_array_equal(feats, compute_fbank(samples, rate))
    original = fake.utterances["train"]["BAC009S0003W0001"][1]
    assert (
        abs(
            int(read_kaldi_map(sp_dir / "utt2num_frames")["sp0.9-BAC009S0003W0001"])
            - (1 + (round(original / 0.9) - 400) // 160)
        )
        <= 1
    )


def test_token_list_order(recipe: dict) -> None:
    d = recipe["dir"]
    texts = read_kaldi_map(d / "dump/fbank/train_sp/text").values()
    counts = Counter(c for t in texts for c in t if not c.isspace())
    body = [c for c, _ in sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]
    tokens = load_token_list(d / "data/zh_token_list/char/tokens.txt")
    assert tokens == ["<blank>", "<unk>", *body, "<sos/eos>"]


def test_cmvn_stats_equal_numpy(recipe: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    d = recipe["dir"]
    monkeypatch.chdir(d)
    scp = read_kaldi_map(d / "dump/fbank/train_sp/feats.scp")
    feats = np.concatenate([read_matrix(e) for e in scp.values()]).astype(np.float64)
    with np.load(d / "exp/asr_stats_fbank_zh_char_sp/train/feats_stats.npz") as stats:
        assert int(stats["count"]) == feats.shape[0]
        np.testing.assert_allclose(stats["sum"], feats.sum(0), rtol=1e-10)
        np.testing.assert_allclose(stats["sum_square"], (feats**2).sum(0), rtol=1e-10)


def test_rerunning_stages_overwrites(recipe: dict) -> None:
    d = recipe["dir"]
    files = [
        d / "dump/fbank/train_sp/feats.scp",
        d / "dump/fbank/dev/text",
        d / "data/zh_token_list/char/tokens.txt",
    ]
    before = [f.read_bytes() for f in files]
    command = ["./run.sh", "--stage", "4", "--stop_stage", "5"]
    command += ["--speed_perturb_factors", "0.9 1.0 1.1"]
    run = subprocess.run(command, cwd=d, env=recipe["env"], capture_output=True, encoding="utf-8")
    assert run.returncode == 0, run.stderr[-2000:]
    assert [f.read_bytes() for f in files] == before


TINY_ASR = """\
normalize: global_mvn
specaug: specaug
specaug_conf: {freq_mask_width: 10, time_mask_width: 10}
encoder: conformer
encoder_conf: {output_size: 32, attention_heads: 2, linear_units: 64, num_blocks: 2,
               conv_channels: 8, cnn_module_kernel: 3, pooling_layers: [1]}
predictor_conf: {channels: 32}
decoder_conf: {attention_dim: 32, attention_heads: 2, linear_units: 64, num_blocks: 1}
optim_conf: {lr: 1.0e-3}
max_epoch: 2
batch_bins: 4000
num_workers: 0
average_last_epochs: 2
plot_utts: 1
"""


def test_stages_11_to_14_train_decode_score_and_pack(recipe: dict) -> None:
    d = recipe["dir"]
    (d / "conf" / "train_tiny.yaml").write_text(TINY_ASR, encoding="utf-8")
    command = [
        "./run.sh",
        "--nj",
        "2",
        "--stage",
        "11",
        "--stop_stage",
        "14",
        "--ngpu",
        "0",
        "--speed_perturb_factors",
        "0.9 1.0 1.1",
        "--asr_config",
        "conf/train_tiny.yaml",
        "--inference_args",
        "--beam_size 2 --dtype float32",  # compared with the float32 onnxruntime decode below
        "--inference_asr_model",
        "ave_last2epoch.pth",
        "--export_onnx",
        "true",
    ]
    run = subprocess.run(command, cwd=d, env=recipe["env"], capture_output=True, encoding="utf-8")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    exp = d / "exp" / "asr_train_tiny_fbank_char"
    config = (exp / "config.yaml").read_text(encoding="utf-8")
    assert "feats_stats.npz" in config  # global CMVN statistics of stage 10 reached the model
    assert (exp / "run.sh").is_file() and "--stage 11 --stop_stage 11" in (
        exp / "run.sh"
    ).read_text()
    assert list((exp / "images").glob("loss.png"))
    decode = exp / "decode_asr_model_ave_last2epoch"
    for dset in ("dev", "test"):
        hyps = read_kaldi_map(decode / dset / "text", allow_empty_value=True)
        assert set(hyps) == set(read_kaldi_map(d / "dump" / "fbank" / dset / "text"))
        assert (decode / dset / "score_cer" / "result.txt").is_file()
        assert "rtf" in (decode / dset / "rtf").read_text()
    results = (exp / "RESULTS.md").read_text(encoding="utf-8")
    assert "|decode_asr_model_ave_last2epoch/test|" in results
    assert (exp / "asr_train_tiny_fbank_char_model.zip").is_file()

    # The ONNX export of stage 14, decoded by onnxruntime: the PyTorch decode's text.
    same_options = command[7:-2]  # --ngpu 0 ... --inference_asr_model ave_last2epoch.pth
    onnx_decode = ["./run.sh", "--nj", "2", "--stage", "12", "--stop_stage", "13", *same_options]
    onnx_decode += ["--inference_onnx", "fp32"]
    env = recipe["env"]
    run = subprocess.run(onnx_decode, cwd=d, env=env, capture_output=True, encoding="utf-8")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for dset in ("dev", "test"):
        want = (decode / dset / "text").read_text(encoding="utf-8")
        got = (exp / "decode_asr_model_ave_last2epoch_onnx_fp32" / dset / "text").read_text()
        assert got == want
        rtf = (exp / "decode_asr_model_ave_last2epoch_onnx_fp32" / dset / "rtf").read_text()
        assert "precision onnxruntime-fp32\n" in rtf  # what computed it, not torch's dtype
