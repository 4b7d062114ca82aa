"""A tiny BERT teacher built locally and saved with save_pretrained (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cifasr.distill.pretrain import SPECIALS, build_char_tokenizer

# Every character the distill tests write (tests import nothing from here: only fixtures).
CHARS = "我们今天去北京他说好的气很欢迎你上海helowrdk"


def tiny_vocab() -> list[str]:
    """CHARS, ## continuations of the Latin ones, and the whole word "ok" (so "ok" is ONE PLM
    token for two ASR characters, as English words are in bert-base-chinese)."""
    chars = sorted(set(CHARS))
    latin = [c for c in chars if c.isascii()]
    return [*SPECIALS, *chars, *(f"##{c}" for c in latin), "ok"]


def save_tiny_bert(path: Path, hidden_size: int = 16, num_layers: int = 2) -> Path:
    """BertConfig(small) + BertModel + BertTokenizerFast over a char vocab -> save_pretrained."""
    from transformers import BertConfig, BertModel

    vocab = tiny_vocab()
    tokenizer = build_char_tokenizer(vocab, model_max_length=64)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=64,
    )
    BertModel(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_plm(tmp_path_factory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread_module):
    """These models are tiny: one intra-op thread (see test/conftest.py)."""
