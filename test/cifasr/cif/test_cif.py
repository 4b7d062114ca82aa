"""The loop-free CIF equals the float64 reference loop, including every known pitfall.

The reference is the original integrate-and-fire (docs/cif.md §1), one utterance and one
frame at a time with autograd. ``multi_fire=True`` is its natural exact generalisation: while the
accumulated weight reaches the threshold, fire again. ``multi_fire=False`` is the original loop
(at most one fire per frame).
"""

from __future__ import annotations

import pytest
import torch

from cifasr.cif import cif

TOL = 1e-5


def reference_cif(
    hidden: torch.Tensor,
    alphas: torch.Tensor,
    lengths: torch.Tensor,
    threshold: float = 0.99,
    tail_threshold: float | None = None,
    multi_fire: bool = True,
) -> tuple[list[torch.Tensor], list[list[int]]]:
    """Per utterance: (n_b, C) token vectors and the frame at which each fired."""
    tokens_per_utt, frames_per_utt = [], []
    for b in range(hidden.size(0)):
        acc_w = hidden.new_zeros(())
        acc_s = hidden.new_zeros(hidden.size(2))
        tokens, frames = [], []
        length = int(lengths[b])
        for t in range(length):
            h, incoming = hidden[b, t], alphas[b, t]
            while float((acc_w + incoming).detach()) >= threshold:
                remaining = 1.0 - acc_w
                tokens.append(acc_s + remaining * h)
                frames.append(t)
                incoming = incoming - remaining
                acc_w, acc_s = hidden.new_zeros(()), hidden.new_zeros(hidden.size(2))
                if not multi_fire:
                    break
            acc_w = acc_w + incoming
            acc_s = acc_s + incoming * h
        if tail_threshold is not None and float(acc_w.detach()) > tail_threshold:
            tokens.append(acc_s / (acc_w + 1e-10))
            frames.append(length - 1)
        dim = hidden.size(2)
        tokens_per_utt.append(torch.stack(tokens) if tokens else hidden.new_zeros(0, dim))
        frames_per_utt.append(frames)
    return tokens_per_utt, frames_per_utt


def _padded(tokens: list[torch.Tensor], frames: list[list[int]]) -> tuple[torch.Tensor, ...]:
    """Reference per-utterance lists -> (B, N, C) embeds, (B,) lengths, (B, N) fire frames."""
    n = max([t.size(0) for t in tokens] + [0])
    dim = tokens[0].size(1)
    embeds = torch.zeros(len(tokens), n, dim, dtype=torch.float64)
    fire = torch.full((len(tokens), n), -1, dtype=torch.long)
    for b, (tok, fr) in enumerate(zip(tokens, frames)):
        embeds[b, : tok.size(0)] = tok
        fire[b, : len(fr)] = torch.tensor(fr, dtype=torch.long)
    return embeds, torch.tensor([t.size(0) for t in tokens]), fire


def assert_matches_reference(
    hidden: torch.Tensor,
    alphas: torch.Tensor,
    lengths: torch.Tensor,
    threshold: float = 0.99,
    tail_threshold: float | None = None,
    multi_fire: bool = True,
) -> torch.Tensor:
    """float32 closed form vs float64 loop: values, counts, fire frames and both gradients."""
    h64 = hidden.double().requires_grad_()
    a64 = alphas.double().requires_grad_()
    ref_tokens, ref_frames = reference_cif(h64, a64, lengths, threshold, tail_threshold, multi_fire)
    ref_embeds, ref_lengths, ref_fire = _padded(ref_tokens, ref_frames)

    h32 = hidden.float().requires_grad_()
    a32 = alphas.float().requires_grad_()
    out = cif(h32, a32, lengths, threshold, tail_threshold)
    assert out.embeds.dtype == torch.float32
    assert torch.equal(out.token_lengths, ref_lengths)
    assert torch.equal(out.fire_frames, ref_fire)
    torch.testing.assert_close(out.embeds.double(), ref_embeds, atol=TOL, rtol=0)

    if ref_embeds.numel():
        proj = torch.randn_like(ref_embeds)
        ref_loss = sum((tok * proj[b, : tok.size(0)]).sum() for b, tok in enumerate(ref_tokens))
        ref_gh, ref_ga = torch.autograd.grad(ref_loss, (h64, a64), allow_unused=True)
        gh, ga = torch.autograd.grad((out.embeds * proj.float()).sum(), (h32, a32))
        torch.testing.assert_close(gh.double(), ref_gh, atol=TOL, rtol=0)
        torch.testing.assert_close(ga.double(), ref_ga, atol=TOL, rtol=0)
    return out.token_lengths


def _batch(bsz: int = 4, tlen: int = 60, dim: int = 8, high: float = 0.6):
    hidden = torch.randn(bsz, tlen, dim)
    alphas = torch.rand(bsz, tlen) * high
    lengths = torch.tensor([tlen, tlen - 7, tlen // 3, 1][:bsz])
    return hidden, alphas, lengths


@pytest.mark.parametrize("threshold", [0.99, 1.0, 0.9])
@pytest.mark.parametrize("tail_threshold", [None, 0.4, 0.5])
def test_random_batch_equals_original_loop(threshold, tail_threshold):
    # Weights below 0.45 never need two fires in a frame: the plain original loop applies.
    hidden, alphas, lengths = _batch(high=0.45)
    counts = assert_matches_reference(
        hidden, alphas, lengths, threshold, tail_threshold, multi_fire=False
    )
    assert counts.min() >= 0 and counts.max() > 5


def test_scaled_weights_keep_the_last_token():
    # Scaled weights summing to N+1 - 1e-6 lose the last token with threshold 1.0 (a popular
    # loop's bug); with 0.99 every utterance yields exactly N+1 outputs.
    hidden, alphas, lengths = _batch(bsz=4, tlen=50)
    alphas[:, :] = torch.rand(4, 50) * 0.5 + 0.01
    valid = torch.arange(50) < lengths[:, None]
    alphas = alphas * valid
    targets = torch.tensor([11, 9, 4, 1])
    for delta in (-1e-6, 1e-6):
        sums = alphas.double().sum(-1, keepdim=True)
        scaled = (alphas.double() * (targets[:, None] + delta) / sums).float()
        counts = assert_matches_reference(hidden, scaled, lengths)
        assert counts.tolist() == targets.tolist()
    plain = cif(hidden, scaled, lengths, threshold=1.0)  # the +1e-6 case: still all there
    assert plain.token_lengths.tolist() == targets.tolist()
    under = (alphas.double() * (targets[:, None] - 1e-6) / sums).float()
    assert (cif(hidden, under, lengths, threshold=1.0).token_lengths < targets).all()


def test_weight_above_one_emits_every_token():
    hidden, alphas, lengths = _batch(bsz=2, tlen=20)
    lengths = torch.tensor([20, 20])
    alphas[0, 5] = 2.6  # three fires in one frame
    alphas[1, 0] = 1.7  # two fires in the first frame ...
    alphas[1, 19] = 1.7  # ... and in the last one
    counts = assert_matches_reference(hidden, alphas, lengths, multi_fire=True)
    expected = torch.floor(alphas.double().sum(-1) + 0.01).long()
    assert counts.tolist() == expected.tolist()
    out = cif(hidden, alphas, lengths)
    # The token fired entirely inside frame 5 is exactly that frame (weight 1).
    middle = out.fire_frames[0].tolist().index(5) + 1
    assert out.fire_frames[0, middle] == 5
    torch.testing.assert_close(out.embeds[0, middle], hidden[0, 5])
    # The original loop fires once per frame: the excess leaks into the next token with a
    # negative weight, and at the last frame a token is lost. We differ on purpose.
    original, _ = reference_cif(hidden.double(), alphas.double(), lengths, multi_fire=False)
    assert original[1].size(0) == counts[1] - 1
    assert not torch.allclose(original[0][middle].float(), out.embeds[0, middle])


def test_all_zero_weights_give_zero_tokens():
    hidden = torch.randn(3, 10, 4, requires_grad=True)
    alphas = torch.zeros(3, 10, requires_grad=True)
    for tail in (None, 0.4):
        out = cif(hidden, alphas, torch.tensor([10, 5, 0]), tail_threshold=tail)
        assert out.embeds.shape == (3, 0, 4)
        assert out.token_lengths.tolist() == [0, 0, 0]
        assert out.fire_frames.shape == (3, 0)
        out.embeds.sum().backward()  # an empty output still backpropagates (zero gradients)
        assert hidden.grad.abs().sum() == 0


@pytest.mark.parametrize("tail_threshold", [None, 0.4])
def test_padded_batch_result_is_independent_of_the_rest(tail_threshold):
    hidden, alphas, lengths = _batch(bsz=3, tlen=40)
    lengths = torch.tensor([40, 23, 9])
    # Garbage in the padding: huge frames, big weights, even inf/NaN.
    for b, length in enumerate(lengths.tolist()):
        hidden[b, length:] = 1e30
        alphas[b, length:] = 5.0
    hidden[2, 30] = float("nan")
    alphas[1, 35] = float("inf")
    h = hidden.clone().requires_grad_()
    a = alphas.clone().requires_grad_()
    batched = cif(h, a, lengths, tail_threshold=tail_threshold)
    (batched.embeds.sum()).backward()
    for b, length in enumerate(lengths.tolist()):
        hb = hidden[b : b + 1, :length].clone().requires_grad_()
        ab = alphas[b : b + 1, :length].clone().requires_grad_()
        alone = cif(hb, ab, lengths[b : b + 1], tail_threshold=tail_threshold)
        alone.embeds.sum().backward()
        n = int(alone.token_lengths[0])
        assert batched.token_lengths[b] == n
        torch.testing.assert_close(batched.embeds[b, :n], alone.embeds[0], atol=1e-6, rtol=0)
        assert batched.embeds[b, n:].abs().sum() == 0
        torch.testing.assert_close(h.grad[b, :length], hb.grad[0], atol=1e-6, rtol=0)
        torch.testing.assert_close(a.grad[b, :length], ab.grad[0], atol=1e-6, rtol=0)
        assert h.grad[b, length:].abs().sum() == 0 and a.grad[b, length:].abs().sum() == 0


@pytest.mark.parametrize("tail_threshold", [None, 0.4, 0.5])
def test_tail_handling_for_every_utterance(tail_threshold):
    hidden, alphas, lengths = _batch(bsz=4, tlen=30)
    # Leftovers (sum mod 1) of 0.45 and 0.7 sit between and above the thresholds; utterance 0
    # is the longest (unpadded) one, which the original never tail-handles.
    targets = torch.tensor([6.7, 5.45, 2.2, 0.7])
    valid = torch.arange(30) < lengths[:, None]
    alphas = alphas * valid
    alphas = (alphas.double() * targets[:, None] / alphas.double().sum(-1, keepdim=True)).float()
    counts = assert_matches_reference(hidden, alphas, lengths, tail_threshold=tail_threshold)
    floors = torch.tensor([6, 5, 2, 0])
    if tail_threshold is None:
        assert counts.tolist() == floors.tolist()
    else:
        leftover = targets - floors
        assert counts.tolist() == (floors + (leftover > tail_threshold).long()).tolist()
        out = cif(hidden, alphas, lengths, tail_threshold=tail_threshold)
        if leftover[0] > tail_threshold:
            assert out.fire_frames[0, counts[0] - 1] == lengths[0] - 1


def test_float64_prefix_sums_keep_fire_decisions_exact():
    tlen, threshold = 3000, 0.99
    alphas = torch.rand(tlen) * 0.5
    # Put one prefix sum so close to a firing boundary that a float32 cumsum decides otherwise.
    t0 = 2900
    prev64 = alphas[:t0].double().sum()
    prev32 = alphas[:t0].cumsum(0)[-1]
    boundary = torch.floor(prev64 - threshold) + 1 + threshold
    base = (boundary - prev64).float()
    steps = torch.arange(-3000, 3000, dtype=torch.float32)
    candidates = base + steps * torch.finfo(torch.float32).eps * 0.5
    fires64 = torch.floor(prev64 + candidates.double() + 1 - threshold)
    fires32 = torch.floor((prev32 + candidates).double() + 1 - threshold)
    alphas[t0] = candidates[(fires64 != fires32).nonzero()[0, 0]]
    p64, p32 = alphas.double().cumsum(0), alphas.cumsum(0).double()
    assert (torch.floor(p64 + 1 - threshold) != torch.floor(p32 + 1 - threshold)).any()

    hidden = torch.randn(1, tlen, 2, dtype=torch.float64)
    with torch.no_grad():
        ref_tokens, ref_frames = reference_cif(
            hidden, alphas[None].double(), torch.tensor([tlen]), threshold
        )
    out = cif(hidden.float(), alphas[None], torch.tensor([tlen]), threshold)
    assert out.token_lengths.item() == ref_tokens[0].size(0)
    assert out.fire_frames[0].tolist() == ref_frames[0]
    torch.testing.assert_close(out.embeds[0].double(), ref_tokens[0], atol=TOL, rtol=0)


def test_fire_frames_are_non_decreasing_and_padded_with_minus_one():
    hidden, alphas, lengths = _batch(bsz=4, tlen=80, high=0.8)
    alphas[0, 10] = 2.2
    out = cif(hidden, alphas, lengths, tail_threshold=0.4)
    for b in range(4):
        n = int(out.token_lengths[b])
        frames = out.fire_frames[b]
        assert (frames[:n].diff() >= 0).all()
        assert (frames[:n] >= 0).all() and (frames[:n] < lengths[b]).all()
        assert (frames[n:] == -1).all()


def test_token_count_uses_floor_not_round():
    hidden = torch.randn(4, 4, 3)
    lengths = torch.full((4,), 4)
    # Exactly representable sums: 3.0, 2.75, 2.5 and 2.996.
    alphas = torch.tensor(
        [
            [1.0, 0.5, 0.5, 1.0],
            [0.75, 0.5, 0.5, 1.0],
            [0.5, 0.5, 0.5, 1.0],
            [0.75, 0.75, 0.75, 0.746],
        ]
    )
    assert cif(hidden, alphas, lengths, threshold=1.0).token_lengths.tolist() == [3, 2, 2, 2]
    assert cif(hidden, alphas, lengths, threshold=0.99).token_lengths.tolist() == [3, 2, 2, 3]
    with_tail = cif(hidden, alphas, lengths, threshold=1.0, tail_threshold=0.6)
    assert with_tail.token_lengths.tolist() == [3, 3, 2, 3]
    assert_matches_reference(hidden, alphas, lengths, threshold=1.0, tail_threshold=0.6)


def test_bf16_autocast_gives_float32_equal_to_fp32():
    hidden, alphas, lengths = _batch()
    ref = cif(hidden, alphas, lengths, tail_threshold=0.4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = cif(hidden, alphas, lengths, tail_threshold=0.4)
        from_bf16 = cif(hidden.bfloat16(), alphas, lengths)
    assert out.embeds.dtype == torch.float32 and from_bf16.embeds.dtype == torch.float32
    assert torch.equal(out.embeds, ref.embeds)
    assert torch.equal(out.token_lengths, ref.token_lengths)
    assert torch.equal(from_bf16.embeds, cif(hidden.bfloat16().float(), alphas, lengths).embeds)


def test_backward_is_the_exact_derivative():
    hidden, alphas, lengths = _batch(bsz=3, tlen=12, dim=3)
    alphas[0, 4] = 1.6
    h = hidden.double().requires_grad_()
    a = alphas.double().requires_grad_()
    for tail in (None, 0.3):
        fn = lambda x, y, tail=tail: cif(x, y, lengths, 0.99, tail).embeds  # noqa: E731
        assert torch.autograd.gradcheck(fn, (h, a))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 0.0}, "threshold must be in"),
        ({"threshold": 1.5}, "threshold must be in"),
        ({"tail_threshold": -0.1}, "tail_threshold"),
        ({"lengths": torch.tensor([7, 2])}, "lengths must be in"),
        ({"lengths": torch.tensor([3])}, "lengths must be"),
        ({"alphas": -torch.ones(2, 5)}, "alphas must be >= 0, finite"),
        ({"alphas": torch.full((2, 5), float("nan"))}, "alphas must be >= 0, finite"),
        ({"alphas": torch.full((2, 5), float("inf"))}, "alphas must be >= 0, finite"),
        ({"alphas": torch.ones(2, 4)}, "alphas must be"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(kwargs, message):
    args = {"hidden": torch.randn(2, 5, 3), "alphas": torch.rand(2, 5)}
    args["lengths"] = torch.tensor([5, 3])
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        cif(**args)
