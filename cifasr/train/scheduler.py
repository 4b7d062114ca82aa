"""Learning-rate schedules stepped once per optimiser update."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


class TriStageLR(LRScheduler):
    """fairseq's ``tri_stage`` (docs/training.md §4): linear warm-up, hold, exponential decay.

    With ``peak`` the optimiser's lr: lr rises linearly from ``init_lr_scale * peak`` to ``peak``
    over ``warmup_steps`` updates, holds ``hold_steps``, decays as
    ``peak * exp(-ln(1 / final_lr_scale) * k / decay_steps)`` for ``decay_steps`` and then stays at
    ``final_lr_scale * peak``. The lr used for update ``k + 1`` is the value at ``k`` updates done,
    as fairseq's ``step_update(num_updates)``: e.g. 1.25535e-5 after 965 updates of the original.

    Args:
        optimizer: the optimiser whose ``lr`` is the peak.
        warmup_steps: updates of linear warm-up (original 30000).
        hold_steps: updates at the peak (original 90000).
        decay_steps: updates of exponential decay (original 120000).
        init_lr_scale: initial lr as a fraction of the peak (original 0.01).
        final_lr_scale: final lr as a fraction of the peak (original 0.01).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int = 30000,
        hold_steps: int = 90000,
        decay_steps: int = 120000,
        init_lr_scale: float = 0.01,
        final_lr_scale: float = 0.01,
        last_epoch: int = -1,
    ) -> None:
        self.warmup_steps = warmup_steps
        self.hold_steps = hold_steps
        self.decay_steps = decay_steps
        self.init_lr_scale = init_lr_scale
        self.final_lr_scale = final_lr_scale
        super().__init__(optimizer, last_epoch)

    def scale(self, step: int) -> float:
        """lr / peak after ``step`` updates."""
        if step < self.warmup_steps:
            return self.init_lr_scale + (1.0 - self.init_lr_scale) * step / self.warmup_steps
        step -= self.warmup_steps
        if step < self.hold_steps:
            return 1.0
        step -= self.hold_steps
        if step <= self.decay_steps:
            return math.exp(math.log(self.final_lr_scale) * step / max(self.decay_steps, 1))
        return self.final_lr_scale

    def get_lr(self) -> list[float]:
        s = self.scale(self.last_epoch)
        return [base * s for base in self.base_lrs]


class WarmupLR(LRScheduler):
    """ESPnet's (Noam-style) ``warmuplr``: ``lr * w^0.5 * min(n^-0.5, n * w^-1.5)`` with
    ``n`` the update number (from 1) and ``w`` the warm-up steps; the peak equals the optimiser's
    lr at ``n = w``.

    Args:
        optimizer: the optimiser whose ``lr`` is the peak.
        warmup_steps: updates of warm-up (ESPnet's default 25000).
    """

    def __init__(
        self, optimizer: Optimizer, warmup_steps: int = 25000, last_epoch: int = -1
    ) -> None:
        self.warmup_steps = warmup_steps
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        n = self.last_epoch + 1
        w = self.warmup_steps
        s = w**0.5 * min(n**-0.5, n * w**-1.5)
        return [base * s for base in self.base_lrs]


SCHEDULER_CLASSES = {"tri_stage": TriStageLR, "warmuplr": WarmupLR}
