"""Shared pytest set-up: small, deterministic, CPU-only."""

import os

import pytest
import torch

# The suite must stay fast on 2 cores; intra-op threads beyond the cores only add contention.
torch.set_num_threads(min(2, os.cpu_count() or 1))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``cuda`` are skipped, with the reason, on a machine without a CUDA GPU."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (bench/gpu_check.sh runs these: -m cuda)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def one_thread_module():
    """One intra-op thread for a test module of tiny models: on a shared 2-core box a second
    thread only adds waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def tiny_asr_config(input_size: int = 20, vocab_size: int | None = None) -> dict:
    """A small but complete CIF ASR config (2 conformer blocks, pooling after block 1)."""
    config = {
        "input_size": input_size,
        "normalize": "utterance_mvn",
        "encoder": "conformer",
        "encoder_conf": {
            "output_size": 32,
            "attention_heads": 2,
            "linear_units": 64,
            "num_blocks": 2,
            "dropout_rate": 0.0,
            "positional_dropout_rate": 0.0,
            "attention_dropout_rate": 0.0,
            "cnn_module_kernel": 3,
            "conv_channels": 8,
            "pooling_layers": [1],
        },
        "predictor": "conv",
        "predictor_conf": {"channels": 32, "dropout": 0.0},
        "decoder": "cif_ar",
        "decoder_conf": {
            "attention_dim": 32,
            "attention_heads": 2,
            "linear_units": 64,
            "num_blocks": 1,
            "dropout_rate": 0.0,
            "attention_dropout_rate": 0.0,
            "activation_dropout_rate": 0.0,
            "input_dropout_rate": 0.0,
        },
        "model_conf": {"ctc_weight": 0.5, "quantity_weight": 1.0, "lsm_weight": 0.1},
    }
    if vocab_size is not None:
        config["token_list"] = (
            ["<blank>", "<unk>"] + [f"t{i}" for i in range(vocab_size - 3)] + ["<sos/eos>"]
        )
    return config


@pytest.fixture
def tiny_config() -> dict:
    return tiny_asr_config()


def write_synthetic_corpus(
    out_dir,
    num_utts: int = 20,
    num_chars: int = 8,
    feat_dim: int = 20,
    seed: int = 0,
    frames_per_token: int = 8,
    nan_utts: tuple = (),
    chars_per_utt: tuple = (),
) -> dict:
    """A learnable toy corpus: each character has a fixed random fbank-like template of
    ``frames_per_token`` frames; an utterance is its characters' templates in a row plus noise.

    Writes ``feats.scp``/``feats.ark``, ``utt2num_frames``, ``text`` and ``tokens.txt`` under
    ``out_dir`` and returns their paths. Utterances listed in ``nan_utts`` get NaN features.
    ``chars_per_utt`` fixes the number of characters of each utterance (default: 2 to 5 at
    random), and so its length (``frames_per_token`` frames per character).
    """
    from pathlib import Path

    import kaldiio
    import numpy as np

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    chars = [chr(0x4E00 + i) for i in range(num_chars)]
    templates = rng.normal(0, 1, size=(num_chars, frames_per_token, feat_dim)).astype(np.float32)
    lines, lengths = [], []
    with kaldiio.WriteHelper(f"ark,scp:{out / 'feats.ark'},{out / 'feats.scp'}") as writer:
        for u in range(num_utts):
            n = int(rng.integers(2, 6))
            if chars_per_utt:
                n = chars_per_utt[u]
            ids = rng.integers(0, num_chars, size=n)
            feats = np.concatenate([templates[i] for i in ids])
            feats = feats + rng.normal(0, 0.1, size=feats.shape).astype(np.float32)
            if u in nan_utts:
                feats[:] = np.nan
            key = f"utt{u:03d}"
            writer(key, feats.astype(np.float32))
            lines.append(f"{key} {''.join(chars[i] for i in ids)}")
            lengths.append(f"{key} {len(feats)}")
    (out / "text").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "utt2num_frames").write_text("\n".join(lengths) + "\n", encoding="utf-8")
    tokens = ["<blank>", "<unk>", *chars, "<sos/eos>"]
    (out / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return {
        "feats_scp": out / "feats.scp",
        "text": out / "text",
        "token_list": out / "tokens.txt",
        "vocab_size": len(tokens),
    }


@pytest.fixture
def synthetic_corpus(tmp_path):
    return write_synthetic_corpus(tmp_path / "data")


@pytest.fixture(scope="session")
def corpus_factory():
    """``write_synthetic_corpus`` (session scope, so module-scoped fixtures can use it too)."""
    return write_synthetic_corpus


@pytest.fixture(scope="session")
def tiny_config_factory():
    """``tiny_asr_config`` (session scope, so module-scoped fixtures can use it too)."""
    return tiny_asr_config
