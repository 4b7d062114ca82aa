import torch

from cifasr.nn import Dropout, dropout


def test_drop_rate_and_expectation_match_the_probability():
    torch.manual_seed(0)
    for p in (0.1, 0.2, 0.5):
        y = dropout(torch.ones(2_000_003), p)
        dropped = float((y == 0).float().mean())
        assert abs(dropped - p) < 2e-3, (p, dropped)
        assert abs(float(y.mean()) - 1.0) < 3e-3
        kept = y[y != 0]
        assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - round(p * 32768) / 32768)))


def test_every_word_position_drops_at_the_same_rate():
    # the top int16 of each random int64 has one bit less; its threshold must compensate
    torch.manual_seed(1)
    y = dropout(torch.ones(4_000_000), 0.3).view(-1, 4)
    rates = (y == 0).float().mean(0)
    assert torch.all((rates - 0.3).abs() < 3e-3), rates


def test_gradient_is_the_mask_and_eval_is_identity():
    torch.manual_seed(2)
    x = torch.randn(50, 7, dtype=torch.bfloat16, requires_grad=True)
    y = dropout(x, 0.25)
    y.sum().backward()
    scale = 1 / (1 - round(0.25 * 32768) / 32768)
    assert torch.equal(x.grad, ((y != 0).float() * scale).to(torch.bfloat16))
    module = Dropout(0.25).eval()
    assert module(x) is x


def test_seeded_draws_are_reproducible():
    x = torch.ones(1001)
    torch.manual_seed(3)
    a = dropout(x, 0.1)
    torch.manual_seed(3)
    assert torch.equal(a, dropout(x, 0.1))
