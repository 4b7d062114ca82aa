import math

import torch
import torch.nn.functional as F

from cifasr.models.losses import CTC, label_smoothed_nll_loss


def test_label_smoothing_equals_the_fairseq_formula():
    torch.manual_seed(0)
    v, eps = 7, 0.1
    logits = torch.randn(2, 4, v)
    target = torch.tensor([[1, 2, 3, -1], [4, 5, -1, -1]])
    loss, nll = label_smoothed_nll_loss(logits, target, eps, ignore_id=-1)
    ref_loss, ref_nll = 0.0, 0.0
    for b in range(2):
        for t in range(4):
            y = int(target[b, t])
            if y < 0:
                continue
            lp = torch.log_softmax(logits[b, t].double(), -1)
            # (1 - eps - eps_i) * nll + eps_i * sum_v -log p_v, eps_i = eps / (V - 1)
            eps_i = eps / (v - 1)
            ref_loss += (1 - eps - eps_i) * -lp[y] + eps_i * -lp.sum()
            ref_nll += -lp[y]
    assert math.isclose(float(loss), float(ref_loss), rel_tol=1e-5)
    assert math.isclose(float(nll), float(ref_nll), rel_tol=1e-5)
    # the same as spreading eps uniformly over the wrong classes
    q = torch.full((v,), eps / (v - 1))
    q[1] = 1 - eps
    lp = torch.log_softmax(logits[0, 0].double(), -1)
    one, _ = label_smoothed_nll_loss(logits[:1, :1], target[:1, :1], eps)
    assert math.isclose(float(one), float(-(q.double() * lp).sum()), rel_tol=1e-5)


def test_ctc_head_sums_per_utterance_losses_with_blank_zero():
    torch.manual_seed(0)
    ctc = CTC(vocab_size=6, encoder_output_size=4)
    hs = torch.randn(2, 9, 4)
    hs_len = torch.tensor([9, 6])
    ys = torch.tensor([[1, 2, 5], [3, 5, -1]])
    ys_len = torch.tensor([3, 2])
    loss = ctc(hs, hs_len, ys, ys_len)
    ref = 0.0
    for b in range(2):
        lp = torch.log_softmax(ctc.ctc_lo(hs[b : b + 1, : hs_len[b]]), -1).transpose(0, 1)
        ref += F.ctc_loss(
            lp,
            ys[b : b + 1, : ys_len[b]],
            hs_len[b : b + 1],
            ys_len[b : b + 1],
            blank=0,
            reduction="sum",
        )
    assert torch.allclose(loss, ref, rtol=1e-5)
    assert torch.all(ctc.ctc_lo.bias == 0)


def test_ctc_keeps_infinity_unless_asked():
    ctc = CTC(vocab_size=4, encoder_output_size=3)
    hs = torch.randn(1, 2, 3)
    ys = torch.tensor([[1, 2, 3]])
    assert torch.isinf(ctc(hs, torch.tensor([2]), ys, torch.tensor([3])))
    ctc.zero_infinity = True
    assert ctc(hs, torch.tensor([2]), ys, torch.tensor([3])) == 0
