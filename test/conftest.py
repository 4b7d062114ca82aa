"""Shared pytest set-up: small, deterministic, CPU-only."""

import os

import pytest
import torch

# The suite must stay fast on 2 cores; intra-op threads beyond the cores only add contention.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
