"""CIF on a CUDA device gives what it gives on the CPU: the same fires, embeddings and gradients
(skipped without a GPU; bench/gpu_check.sh runs it)."""

import pytest
import torch

from cifasr.cif import cif

pytestmark = pytest.mark.cuda


def _batch(seed: int, bsz: int = 6, tlen: int = 300, dim: int = 16):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(bsz, tlen, dim, generator=g)
    alphas = torch.rand(bsz, tlen, generator=g) * 0.5
    alphas[0, 10] = 2.6  # a frame that fires three times
    alphas[1] = 0.0  # silence: no token
    lengths = torch.randint(tlen // 2, tlen + 1, (bsz,), generator=g)
    lengths[2] = tlen
    return hidden, alphas, lengths


@pytest.mark.parametrize("tail_threshold", [None, 0.4])
def test_cif_on_cuda_equals_cpu_forward_and_backward(tail_threshold):
    hidden, alphas, lengths = _batch(0)
    results = {}
    for device in ("cpu", "cuda"):
        h = hidden.to(device).requires_grad_()
        a = alphas.to(device).requires_grad_()
        out = cif(h, a, lengths.to(device), threshold=0.99, tail_threshold=tail_threshold)
        proj = torch.linspace(-1, 1, out.embeds.shape[-1], device=device)
        (out.embeds * proj).sum().backward()
        results[device] = {
            "token_lengths": out.token_lengths,
            "fire_frames": out.fire_frames,
            "embeds": out.embeds.detach(),
            "hidden grad": h.grad,
            "alpha grad": a.grad,
        }
    cpu, gpu = results["cpu"], results["cuda"]
    for name in ("token_lengths", "fire_frames"):
        assert torch.equal(gpu[name].cpu(), cpu[name]), name
    for name in ("embeds", "hidden grad", "alpha grad"):
        torch.testing.assert_close(gpu[name].cpu(), cpu[name], rtol=1e-5, atol=1e-5, msg=name)


def test_cif_under_bf16_autocast_on_cuda_stays_float32():
    hidden, alphas, lengths = _batch(1)
    hidden, alphas, lengths = hidden.cuda(), alphas.cuda(), lengths.cuda()
    plain = cif(hidden, alphas, lengths)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        auto = cif(hidden, alphas, lengths)
    assert auto.embeds.dtype == torch.float32
    assert torch.equal(auto.embeds, plain.embeds)
