"""Batches never exceed the frame budget; the same (seed, epoch) gives the same order; resuming
and distributed slicing see exactly the batches of an uninterrupted single process."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from cifasr.data.sampler import BucketBatchSampler, SequentialBatchSampler, make_batches

LENGTHS = np.random.default_rng(0).integers(50, 1500, size=500)


def padded(batch: list[int], lengths=LENGTHS) -> int:
    return len(batch) * int(max(lengths[i] for i in batch))


def test_budget_is_never_exceeded_and_every_utterance_is_used() -> None:
    sampler = BucketBatchSampler(LENGTHS, batch_bins=6000, seed=1)
    batches = list(sampler)
    assert max(padded(b) for b in batches) <= 6000
    assert sorted(i for b in batches for i in b) == list(range(len(LENGTHS)))
    # Greedy packing: adding the next utterance of the length-sorted order would overflow.
    order = np.argsort(-LENGTHS, kind="stable").tolist()
    for b in sorted(sampler.batches, key=lambda b: order.index(b[0]))[:-1]:
        nxt = order[order.index(b[-1]) + 1]
        assert padded([*b, nxt]) > 6000


def test_max_batch_size() -> None:
    batches, _ = make_batches(LENGTHS, batch_bins=10**9, max_batch_size=7)
    assert max(map(len, batches)) == 7


def test_same_seed_same_order_other_epoch_other_order() -> None:
    a = BucketBatchSampler(LENGTHS, 6000, seed=3)
    b = BucketBatchSampler(LENGTHS, 6000, seed=3)
    a.set_epoch(5)
    b.set_epoch(5)
    epoch5 = list(a)
    assert epoch5 == list(b)
    a.set_epoch(6)
    assert list(a) != epoch5 and sorted(map(tuple, a)) == sorted(map(tuple, epoch5))
    c = BucketBatchSampler(LENGTHS, 6000, seed=4)
    c.set_epoch(5)
    assert list(c) != epoch5


def test_resume_mid_epoch_yields_the_rest_then_full_epochs() -> None:
    sampler = BucketBatchSampler(LENGTHS, 6000, seed=7)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start_batch=5)
    assert len(sampler) == len(full) - 5
    assert list(sampler) == full[5:]
    assert len(sampler) == len(full)  # back to full epochs afterwards


def test_distributed_ranks_partition_every_global_batch() -> None:
    single = BucketBatchSampler(LENGTHS, 6000, seed=9)
    ranks = [BucketBatchSampler(LENGTHS, 6000, seed=9, world_size=3, rank=r) for r in range(3)]
    for s in (single, *ranks):
        s.set_epoch(4)
    global_batches = [b for b in single if len(b) >= 3]
    per_rank = [list(s) for s in ranks]
    assert all(len(p) == len(global_batches) for p in per_rank)
    for step, batch in enumerate(global_batches):
        assert sorted(i for p in per_rank for i in p[step]) == sorted(batch)
        assert all(p[step] == batch[r::3] for r, p in enumerate(per_rank))


def test_small_batches_are_dropped_and_counted_in_distributed_mode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lengths = [1000, 900, 100, 100, 100, 100]
    with caplog.at_level(logging.WARNING):
        sampler = BucketBatchSampler(lengths, batch_bins=1000, world_size=2, rank=1)
    # Batches: [0] (1000 frames alone), [1] (900 alone), [2, 3, 4, 5]; the two singletons
    # cannot feed 2 ranks.
    assert sampler.num_small_dropped == 2
    assert list(sampler) == [[3, 5]]
    expected = "dropped 2 batch(es) (2 utterances) with fewer utterances than world_size=2"
    assert expected in caplog.text


def test_too_long_utterances_are_dropped_in_training_kept_alone_in_validation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lengths = [100, 5000, 200, 300]
    with caplog.at_level(logging.WARNING):
        train = BucketBatchSampler(lengths, batch_bins=1000, keys=["a", "b", "c", "d"])
    assert train.num_too_long == 1 and "longer than batch_bins=1000 frames (e.g. b)" in caplog.text
    assert sorted(i for b in train for i in b) == [0, 2, 3]
    valid = SequentialBatchSampler(lengths, batch_bins=1000)
    assert list(valid) == [[1], [3, 2, 0]]


def test_sequential_sampler_covers_each_utterance_once_across_ranks() -> None:
    ranks = [SequentialBatchSampler(LENGTHS, 6000, world_size=2, rank=r) for r in range(2)]
    seen = sorted(i for s in ranks for b in s for i in b)
    assert seen == list(range(len(LENGTHS)))
    assert abs(len(ranks[0]) - len(ranks[1])) <= 1


def test_keep_first_takes_the_same_utterances_whatever_the_number_of_ranks() -> None:
    whole = SequentialBatchSampler(LENGTHS, 6000, max_batch_size=3)
    whole.keep_first(5)
    first = [i for b in whole for i in b]
    assert len(first) == 5
    assert (
        first == [i for b in SequentialBatchSampler(LENGTHS, 6000, max_batch_size=3) for i in b][:5]
    )
    ranks = [
        SequentialBatchSampler(LENGTHS, 6000, max_batch_size=3, world_size=2, rank=r)
        for r in range(2)
    ]
    for s in ranks:
        s.keep_first(5)
    assert sorted(i for s in ranks for b in s for i in b) == sorted(first)
