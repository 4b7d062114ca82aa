"""TransformerLM: next-token NLL over [<sos/eos>, y] -> [y, <sos/eos>], incremental == full."""

import math

import pytest
import torch

from cifasr.lm import LM_CLASSES, TransformerLM

V = 9
EOS = V - 1


def tiny_lm() -> TransformerLM:
    return LM_CLASSES["transformer"](
        V, attention_dim=16, attention_heads=2, linear_units=32, num_blocks=2
    ).eval()


def with_sos(sentences: list[list[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sentences) + 1
    tokens = torch.full((len(sentences), width), pad)
    for i, s in enumerate(sentences):
        tokens[i, : len(s) + 1] = torch.tensor([EOS, *s])
    return tokens, torch.tensor([len(s) + 1 for s in sentences])


def test_nll_scores_every_token_and_the_end_token() -> None:
    lm = tiny_lm()
    sentences = [[2, 3, 4], [5], []]
    tokens, lengths = with_sos(sentences, pad=7)
    with torch.no_grad():
        nll, count = lm.nll(tokens, lengths)
        log_probs = torch.log_softmax(lm(tokens, lengths), dim=-1)
    expected = 0.0
    for i, s in enumerate(sentences):
        for t, y in enumerate([*s, EOS]):
            expected -= log_probs[i, t, y].item()
    assert math.isclose(nll.item(), expected, rel_tol=1e-5)
    assert count.item() == 3 + 1 + 1 + 1 + 0 + 1


def test_batch_nll_is_the_sum_of_single_sentence_nlls() -> None:
    lm = tiny_lm()
    sentences = [[2, 3, 4, 1], [5, 6]]
    with torch.no_grad():
        batched, _ = lm.nll(*with_sos(sentences, pad=3))
        alone = sum(lm.nll(*with_sos([s]))[0] for s in sentences)
    assert math.isclose(batched.item(), alone.item(), rel_tol=1e-5)


def test_missing_start_token_is_refused() -> None:
    with pytest.raises(ValueError, match="<sos/eos>"):
        tiny_lm().nll(torch.tensor([[2, 3]]), torch.tensor([2]))


def test_incremental_log_probs_equal_the_full_forward_after_reordering() -> None:
    lm = tiny_lm()
    tokens, lengths = with_sos([[2, 3, 4, 5, 1], [6, 2, 2, 7, 3]])
    expand = torch.tensor([0, 1, 1, 0])
    with torch.no_grad():
        expected = torch.log_softmax(lm(tokens, lengths), dim=-1)[expand]
        rows = tokens[expand]
        state = lm.init_state(2, tokens.size(1), "cpu")
        _, state = lm.forward_step(tokens[:, 0], 0, state)
        state = lm.reorder_state(state, expand)
        for t in range(1, tokens.size(1)):
            log_probs, state = lm.forward_step(rows[:, t], t, state)
            torch.testing.assert_close(log_probs, expected[:, t], atol=1e-5, rtol=0)


def test_a_few_updates_learn_a_repeated_sentence() -> None:
    lm = TransformerLM(V, attention_dim=16, attention_heads=2, linear_units=32, num_blocks=1)
    tokens, lengths = with_sos([[2, 3, 4, 5]] * 2)
    optimizer = torch.optim.Adam(lm.parameters(), lr=3e-2)
    losses = []
    for _ in range(10):
        nll, count = lm.nll(tokens, lengths)
        losses.append((nll / count).item())
        optimizer.zero_grad()
        (nll / count).backward()
        optimizer.step()
    assert losses[-1] < 0.2 * losses[0]
