"""The quantity loss is the summed L1 distance to the target count (incl. the end token)."""

from __future__ import annotations

import pytest
import torch

from cifasr.cif import quantity_loss


def test_value_is_summed_absolute_difference():
    sums = torch.tensor([3.5, 7.0, 1.25], requires_grad=True)
    loss = quantity_loss(sums, torch.tensor([4, 6, 1]))
    assert loss.item() == pytest.approx(0.5 + 1.0 + 0.25)
    loss.backward()
    assert sums.grad.tolist() == [-1.0, 1.0, 1.0]


def test_half_precision_sums_give_a_float32_loss():
    loss = quantity_loss(torch.tensor([2.5], dtype=torch.bfloat16), torch.tensor([3]))
    assert loss.dtype == torch.float32 and loss.item() == 0.5


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="must both be"):
        quantity_loss(torch.ones(3), torch.ones(2))
