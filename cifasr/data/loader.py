"""The one call the trainer and the decoder make to get batches.

>>> loader, sampler = build_dataloader(                                  # doctest: +SKIP
...     "dump/fbank/train/feats.scp", "dump/fbank/train/text",
...     token_list="data/zh_token_list/char/tokens.txt", batch_bins=30000,
...     extra_scps={"plm": "dump/plm/bert/train/feats.scp"}, shuffle=True, seed=1,
...     num_workers=4, world_size=2, rank=0)
>>> for epoch in range(1, 11):                                          # doctest: +SKIP
...     sampler.set_epoch(epoch)            # (epoch, start_batch=k) to resume mid-epoch
...     for batch in loader: ...
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from cifasr.data.collate import collate_asr
from cifasr.data.dataset import AsrDataset
from cifasr.data.sampler import (
    BucketBatchSampler,
    SequentialBatchSampler,
    build_batch_sampler,
)
from cifasr.data.tokenizer import Tokenizer

logger = logging.getLogger(__name__)


def build_dataloader(
    feats_scp: str | Path,
    text_file: str | Path | None = None,
    token_list: str | Path | Sequence[str] | None = None,
    batch_bins: int = 30000,
    *,
    token_type: str = "char",
    bpemodel: str | Path | None = None,
    tokenizer: Tokenizer | None = None,
    extra_scps: Mapping[str, str | Path] | None = None,
    max_batch_size: int = 0,
    shuffle: bool = True,
    seed: int = 0,
    num_workers: int = 0,
    world_size: int = 1,
    rank: int = 0,
    pin_memory: bool = False,
    feat_dim: int | None = None,
) -> tuple[DataLoader, BucketBatchSampler | SequentialBatchSampler]:
    """A DataLoader of padded batches (see :mod:`cifasr.data.collate`) and its batch sampler.

    Args:
        feats_scp: features (``utt2num_frames`` next to it gives the lengths for batching).
        text_file: Kaldi ``text``; None for inference (batches then have no ``text``).
        token_list: ``tokens.txt`` path or list; required with ``text_file`` unless
            ``tokenizer`` is given.
        batch_bins: padded input frames per global batch (30000 in the original recipe);
            0 = bound by ``max_batch_size`` only.
        token_type: "char" or "bpe".
        bpemodel: sentencepiece model for "bpe".
        tokenizer: a ready tokenizer (its unknown-token counts keep accumulating).
        extra_scps: name -> scp of extra per-utterance matrices (``{"plm": ...}``), batched
            as ``name`` / ``name_lengths``.
        max_batch_size: utterances per global batch bound; 0 = none.
        shuffle: training mode: :class:`BucketBatchSampler` (shuffled batch order per epoch);
            else :class:`SequentialBatchSampler` (every utterance once, longest first).
        seed: seed of the batch order.
        num_workers: DataLoader worker processes (0 = read in the main process).
        world_size: number of distributed ranks.
        rank: this rank.
        pin_memory: pin batches for faster host-to-GPU copies.
        feat_dim: expected feature dimension, checked on read.

    Returns:
        (loader, sampler); call ``sampler.set_epoch(epoch[, start_batch])`` before each epoch.
    """
    if text_file is not None and tokenizer is None:
        if token_list is None:
            raise ValueError("build_dataloader: text_file needs token_list (or a tokenizer)")
        tokenizer = Tokenizer(token_list, token_type=token_type, bpemodel=bpemodel)
    dataset = AsrDataset(feats_scp, text_file, tokenizer, extra_scps=extra_scps, feat_dim=feat_dim)
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
        collate_fn=collate_asr,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        # The loader's own generator: creating an iterator must not draw from the global RNG,
        # or a run resumed mid-epoch would see different dropout/SpecAugment draws.
        generator=torch.Generator().manual_seed(seed),
    )
    logger.info(
        "dataloader: %s: %d utterances in %d batches for rank %d/%d (batch_bins=%d, "
        "max_batch_size=%d, shuffle=%s)",
        feats_scp,
        len(dataset),
        len(sampler),
        rank,
        world_size,
        batch_bins,
        max_batch_size,
        shuffle,
    )
    return loader, sampler
