import torch

from cifasr.frontend.specaug import SpecAug


def _masked(x, y):
    return x != y


def test_eval_mode_is_identity():
    aug = SpecAug().eval()
    x = torch.randn(2, 100, 80)
    y, _ = aug(x, torch.tensor([100, 60]))
    assert torch.equal(x, y)


def test_masks_stay_inside_valid_frames_and_bounds():
    torch.manual_seed(0)
    aug = SpecAug(freq_mask_num=2, freq_mask_width=27, time_mask_num=2, time_mask_width=50)
    lengths = torch.tensor([300, 120, 40, 1])
    x = torch.randn(4, 300, 80) + 5.0
    for _ in range(50):
        y, _ = aug(x, lengths)
        changed = _masked(x, y)
        for b, n in enumerate(lengths.tolist()):
            assert not changed[b, n:].any(), "padding was masked"
            rows = changed[b, :n].all(dim=1)  # fully masked frames = time masks
            cols = changed[b, :n].all(dim=0)  # fully masked bins = frequency masks
            # two masks of width < 27 bins cover at most 52 bins; time width < min(50, T)
            assert cols.sum() <= 2 * 26
            assert rows.sum() <= 2 * min(49, n - 1)


def test_mask_value_is_the_utterance_mean():
    torch.manual_seed(1)
    aug = SpecAug(freq_mask_num=1, freq_mask_width=10, time_mask_num=0)
    x = torch.randn(1, 20, 16) + 3.0
    x[0, 15:] = 0.0
    lengths = torch.tensor([15])
    for _ in range(20):
        y, _ = aug(x, lengths)
        changed = _masked(x, y)[0, :15]
        if changed.any():
            mean = x[0, :15].mean()
            assert torch.allclose(y[0, :15][changed], mean.expand(int(changed.sum())))
            return
    raise AssertionError("no frequency mask drawn in 20 tries")


def test_fixed_mask_value_and_seed_reproducibility():
    aug = SpecAug(mask_value=0.0)
    x = torch.randn(3, 80, 20) + 1.0
    lengths = torch.tensor([80, 50, 10])
    torch.manual_seed(5)
    y1, _ = aug(x, lengths)
    torch.manual_seed(5)
    y2, _ = aug(x, lengths)
    assert torch.equal(y1, y2)
    assert torch.all(y1[_masked(x, y1)] == 0.0)
