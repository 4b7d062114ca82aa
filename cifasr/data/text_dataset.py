"""Text-only data for language-model training: Kaldi ``text`` files as token-id batches."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from cifasr.data.collate import TEXT_PAD, pad_arrays
from cifasr.data.kaldi_files import read_text
from cifasr.data.sampler import (
    BucketBatchSampler,
    SequentialBatchSampler,
    build_batch_sampler,
)
from cifasr.data.tokenizer import Tokenizer

logger = logging.getLogger(__name__)


class TextDataset(Dataset):
    """Transcripts of a Kaldi ``text`` file as token ids (no ``<sos/eos>``).

    Empty transcripts carry nothing for an LM: they are dropped, counted and logged.

    Args:
        text_file: ``utt text`` lines.
        tokenizer: maps transcripts to ids (unknown tokens become ``<unk>`` and are counted).
    """

    def __init__(self, text_file: str | Path, tokenizer: Tokenizer) -> None:
        table = read_text(text_file)
        before = tokenizer.num_unk
        self.keys: list[str] = []
        self.text: list[np.ndarray] = []
        dropped = 0
        for key, text in table.items():
            ids = tokenizer.text2ids(text)
            if not ids:
                dropped += 1
                continue
            self.keys.append(key)
            self.text.append(np.asarray(ids, dtype=np.int64))
        if dropped:
            logger.warning("text dataset: %s: dropped %d empty transcript(s)", text_file, dropped)
        if tokenizer.num_unk > before:
            logger.warning("text dataset: %s: %s", text_file, tokenizer.unk_summary())
        if not self.keys:
            raise ValueError(f"{text_file}: no non-empty transcripts")
        # +1: the LM also predicts <sos/eos>
        self.lengths = np.array([len(t) + 1 for t in self.text], dtype=np.int64)
        logger.info(
            "text dataset: %s: %d sentences, %d tokens",
            text_file,
            len(self.keys),
            int(self.lengths.sum()),
        )

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"utt_id": self.keys[index], "text": self.text[index]}


def collate_text(items: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"utt_id", "text" (B, L) padded with -1, "text_lengths" (B,)}``."""
    text, lengths = pad_arrays([it["text"] for it in items], TEXT_PAD, torch.long)
    return {"utt_id": [it["utt_id"] for it in items], "text": text, "text_lengths": lengths}


def build_text_dataloader(
    text_file: str | Path,
    tokenizer: Tokenizer,
    batch_bins: int,
    *,
    max_batch_size: int = 0,
    shuffle: bool = True,
    seed: int = 0,
    num_workers: int = 0,
    world_size: int = 1,
    rank: int = 0,
) -> tuple[DataLoader, BucketBatchSampler | SequentialBatchSampler]:
    """Batches bounded by ``batch_bins`` padded tokens (batch size x longest sentence + 1),
    with the same samplers as the ASR data (shuffled batch order per epoch, resumable)."""
    dataset = TextDataset(text_file, tokenizer)
    sampler = build_batch_sampler(
        dataset.lengths,
        batch_bins,
        max_batch_size,
        shuffle=shuffle,
        seed=seed,
        world_size=world_size,
        rank=rank,
        keys=dataset.keys,
    )
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate_text,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
    )
    return loader, sampler
