"""Batch samplers bounded by padded frames (fairseq's ``--max-tokens``, ESPnet's ``batch_bins``).

Utterances are sorted by length (longest first, ties by index) and cut greedily into batches
whose padded size ``batch_size * longest_length`` stays within ``batch_bins`` (and whose size
stays within ``max_batch_size`` when that is > 0). The batches themselves are fixed; training
shuffles only their ORDER, anew each epoch from ``(seed, epoch)``, as the original recipe did.

Distributed training: every rank builds the same global batches and takes ``batch[rank::W]``
of each, so W processes together see exactly the global batches of one process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

logger = logging.getLogger(__name__)


def make_batches(
    lengths: Sequence[int] | np.ndarray,
    batch_bins: int,
    max_batch_size: int = 0,
) -> tuple[list[list[int]], list[int]]:
    """Greedy length-sorted batches.

    Args:
        lengths: (N,) utterance lengths in frames.
        batch_bins: bound on ``batch_size * max_length`` (padded frames); 0 = no frame bound.
        max_batch_size: bound on utterances per batch; 0 = none.

    Returns:
        (batches of indices, longest first; indices of utterances longer than ``batch_bins``,
        which no batch can hold).
    """
    if batch_bins <= 0 and max_batch_size <= 0:
        raise ValueError("give batch_bins > 0 or max_batch_size > 0, or batches are unbounded")
    lengths = np.asarray(lengths, dtype=np.int64)
    # Stable sort on the negated length: longest first, equal lengths in index order.
    order = np.argsort(-lengths, kind="stable")
    batches: list[list[int]] = []
    too_long: list[int] = []
    current: list[int] = []
    longest = 0
    for i in order.tolist():
        n = int(lengths[i])
        if batch_bins > 0 and n > batch_bins:
            too_long.append(i)
            continue
        size = len(current) + 1
        longest_if_added = max(longest, n)
        if current and (
            (batch_bins > 0 and size * longest_if_added > batch_bins)
            or (max_batch_size > 0 and size > max_batch_size)
        ):
            batches.append(current)
            current, longest_if_added = [], n
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    return batches, too_long


class BucketBatchSampler(Sampler[list[int]]):
    """Training batches: fixed length-sorted batches in a per-epoch shuffled order.

    Deterministic given ``(seed, epoch)``. Utterances longer than ``batch_bins`` are dropped
    (counted in :attr:`num_too_long` and logged), so no batch exceeds the budget. With
    ``world_size`` W > 1, a global batch with fewer than W utterances would leave a rank without
    data and hang the others in their collective calls; such batches are dropped on every rank
    (counted in :attr:`num_small_dropped` and logged), so all ranks run the same number of steps.

    Resuming mid-epoch: ``set_epoch(epoch, start_batch=k)`` makes the next iteration skip the
    first k batches of that epoch's order without reading them. After a complete iteration the
    start position returns to 0.

    Args:
        lengths: (N,) utterance lengths in frames.
        batch_bins: bound on padded frames per global batch (30000 in the original recipe).
        max_batch_size: bound on utterances per global batch; 0 = none.
        shuffle: shuffle the batch order per epoch (else longest first).
        seed: base seed; the order of epoch e depends on (seed, e) only.
        world_size: number of ranks.
        rank: this rank.
        keys: utterance ids, only to name dropped utterances in the log.
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_bins: int = 30000,
        max_batch_size: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        world_size: int = 1,
        rank: int = 0,
        keys: Sequence[str] | None = None,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        batches, too_long = make_batches(lengths, batch_bins, max_batch_size)
        self.num_too_long = len(too_long)
        if too_long:
            names = [keys[i] if keys is not None else str(i) for i in too_long[:5]]
            logger.warning(
                "batch sampler: dropped %d utterance(s) longer than batch_bins=%d frames "
                "(e.g. %s); raise batch_bins or filter them out in stage 4",
                len(too_long),
                batch_bins,
                ", ".join(names),
            )
        small = [b for b in batches if len(b) < world_size]
        self.num_small_dropped = len(small)
        if small:
            logger.warning(
                "batch sampler: dropped %d batch(es) (%d utterances) with fewer utterances than "
                "world_size=%d",
                len(small),
                sum(map(len, small)),
                world_size,
            )
        self.batches = [b for b in batches if len(b) >= world_size]
        self.shuffle = shuffle
        self.seed = seed
        self.world_size = world_size
        self.rank = rank
        self.epoch = 0
        self.start_batch = 0

    @property
    def num_batches(self) -> int:
        """Batches per full epoch."""
        return len(self.batches)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's batch order and where the next iteration starts in it."""
        if not 0 <= start_batch <= len(self.batches):
            raise ValueError(f"start_batch {start_batch} outside [0, {len(self.batches)}]")
        self.epoch = epoch
        self.start_batch = start_batch

    def batch_order(self, epoch: int) -> list[int]:
        """Indices into :attr:`batches` in the order epoch ``epoch`` visits them."""
        if not self.shuffle:
            return list(range(len(self.batches)))
        rng = np.random.default_rng([self.seed, epoch])
        return rng.permutation(len(self.batches)).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        order = self.batch_order(self.epoch)
        for b in order[self.start_batch :]:
            yield self.batches[b][self.rank :: self.world_size]
        self.start_batch = 0

    def __len__(self) -> int:
        """Batches the next iteration yields (a full epoch minus ``start_batch``)."""
        return len(self.batches) - self.start_batch


class SequentialBatchSampler(Sampler[list[int]]):
    """Validation/inference batches: every utterance exactly once, longest first.

    An utterance longer than ``batch_bins`` gets a batch of its own (it must still be scored).
    With W ranks, rank r takes whole batches r, r+W, ...; ranks may differ by one batch, so sum
    statistics locally and reduce once at the end.

    Args:
        lengths: (N,) utterance lengths in frames.
        batch_bins: bound on padded frames per batch; 0 = none.
        max_batch_size: bound on utterances per batch; 0 = none.
        world_size: number of ranks.
        rank: this rank.
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_bins: int = 30000,
        max_batch_size: int = 0,
        world_size: int = 1,
        rank: int = 0,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        batches, too_long = make_batches(lengths, batch_bins, max_batch_size)
        lengths = np.asarray(lengths)
        if too_long:
            logger.info(
                "batch sampler: %d utterance(s) longer than batch_bins=%d get a batch each",
                len(too_long),
                batch_bins,
            )
        # Too-long utterances are the longest of all: they go first, keeping longest-first.
        solo = [[i] for i in sorted(too_long, key=lambda i: (-int(lengths[i]), i))]
        self.batches = solo + batches
        self.world_size = world_size
        self.rank = rank

    def keep_first(self, num_items: int) -> None:
        """Keep only the first ``num_items`` items of the (longest-first) order, cutting the last
        batch kept: a subset that is the same whatever the number of ranks, which then split
        its batches as usual (e.g. the validation decode of several training processes)."""
        kept: list[list[int]] = []
        left = max(num_items, 0)
        for batch in self.batches:
            if left <= 0:
                break
            kept.append(batch[:left])
            left -= len(kept[-1])
        self.batches = kept

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Accepted for interface symmetry with :class:`BucketBatchSampler`; order is fixed."""

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches[self.rank :: self.world_size]

    def __len__(self) -> int:
        return len(self.batches[self.rank :: self.world_size])


def build_batch_sampler(
    lengths: Sequence[int] | np.ndarray,
    batch_bins: int,
    max_batch_size: int = 0,
    *,
    shuffle: bool = True,
    seed: int = 0,
    world_size: int = 1,
    rank: int = 0,
    keys: Sequence[str] | None = None,
) -> BucketBatchSampler | SequentialBatchSampler:
    """The training sampler (:class:`BucketBatchSampler`, shuffled per epoch) when ``shuffle``,
    else the validation/inference one (:class:`SequentialBatchSampler`, every item once).

    Args:
        lengths: (N,) item lengths (frames, or tokens for text).
        batch_bins: bound on padded lengths per (global) batch.
        max_batch_size: bound on items per batch; 0 = none.
        shuffle, seed: training order; world_size, rank: DDP split.
        keys: item ids, to name dropped items in the log (training only).
    """
    if shuffle:
        return BucketBatchSampler(
            lengths,
            batch_bins,
            max_batch_size,
            shuffle=True,
            seed=seed,
            world_size=world_size,
            rank=rank,
            keys=keys,
        )
    return SequentialBatchSampler(
        lengths, batch_bins, max_batch_size, world_size=world_size, rank=rank
    )
