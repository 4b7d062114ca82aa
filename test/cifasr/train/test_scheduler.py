import math

import pytest
import torch

from cifasr.train.scheduler import TriStageLR, WarmupLR


def _lrs(scheduler_cls, steps, **kw):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=3e-4)
    sch = scheduler_cls(opt, **kw)
    out = {0: opt.param_groups[0]["lr"]}
    for k in range(1, max(steps) + 1):
        opt.step()
        sch.step()
        if k in steps:
            out[k] = opt.param_groups[0]["lr"]
    return out


def test_tri_stage_matches_the_original_log():
    lrs = _lrs(TriStageLR, {965, 30000, 120000, 180000, 240000, 250000})
    assert lrs[0] == pytest.approx(3e-6)
    assert lrs[965] == pytest.approx(1.25535e-5, rel=1e-6)  # docs/training.md §4: original log
    assert lrs[30000] == pytest.approx(3e-4)
    assert lrs[120000] == pytest.approx(3e-4)
    assert lrs[180000] == pytest.approx(3e-4 * math.exp(-math.log(100) * 0.5))
    assert lrs[240000] == pytest.approx(3e-6)
    assert lrs[250000] == pytest.approx(3e-6)


def test_warmup_lr_peaks_at_warmup_steps():
    lrs = _lrs(WarmupLR, {99, 100, 400}, warmup_steps=100)
    assert lrs[99] == pytest.approx(3e-4)  # the 100th update uses the peak
    assert lrs[0] == pytest.approx(3e-4 * 100**0.5 * 100**-1.5)
    assert lrs[400] == pytest.approx(3e-4 * (100 / 401) ** 0.5)


def test_scheduler_state_dict_resumes():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=1.0)
    sch = TriStageLR(opt, warmup_steps=10, hold_steps=5, decay_steps=10)
    for _ in range(12):
        opt.step()
        sch.step()
    opt2 = torch.optim.AdamW([p], lr=1.0)
    sch2 = TriStageLR(opt2, warmup_steps=10, hold_steps=5, decay_steps=10)
    opt2.load_state_dict(opt.state_dict())
    sch2.load_state_dict(sch.state_dict())
    opt.step(), sch.step(), opt2.step(), sch2.step()
    assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]
