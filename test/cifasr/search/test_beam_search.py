"""The fixed-length beam search of docs/decoding.md §2: exact on small cases, equal to greedy at
beam 1, independent of batching, and LM fusion that is off at weight 0."""

import itertools
import math

import pytest
import torch

from cifasr.decoder import CifArDecoder, NarDecoder
from cifasr.lm import TransformerLM
from cifasr.search import Hypothesis, beam_search, greedy_search
from cifasr.search.hypothesis import make_hypothesis

BLANK, UNK, A, B, EOS = 0, 1, 2, 3, 4  # a 5-token list in ESPnet order


class MarkovTable:
    """A scorer whose log p(token at step t | previous token) is read from a (S, V, V) table.

    It follows the IncrementalDecoder / IncrementalLM protocol, so it can stand in for either,
    and its exact optimum is easy to enumerate.
    """

    autoregressive = True

    def __init__(self, probs: torch.Tensor) -> None:
        self.log_probs = torch.log(probs / probs.sum(-1, keepdim=True))

    def init_state(self, *args: object) -> None:
        return None

    def forward_step(self, prev: torch.Tensor, step: int, state: None) -> tuple[torch.Tensor, None]:
        return self.log_probs[step, prev], None

    def reorder_state(self, state: None, index: torch.Tensor) -> None:
        return None

    def score(self, sequence: tuple[int, ...]) -> float:
        prev, total = EOS, 0.0
        for t, token in enumerate(sequence):
            total += self.log_probs[t, prev, token].item()
            prev = token
        return total


def cif(lengths: list[int], dim: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    n = torch.tensor(lengths)
    steps = max(lengths) if lengths else 0
    x = torch.randn(len(lengths), steps, dim) * (
        torch.arange(steps)[None, :, None] < n[:, None, None]
    )
    return x, n


def test_beam_2_finds_the_path_greedy_misses() -> None:
    probs = torch.full((2, 5, 5), 1e-3)
    probs[0, EOS, A], probs[0, EOS, B] = 0.55, 0.45
    probs[1, A] = torch.tensor([0.1, 0.1, 0.3, 0.25, 0.25])
    probs[1, B, EOS] = 0.9
    table = MarkovTable(probs)
    x, n = cif([2])
    greedy = greedy_search(table, x, n, eos_id=EOS)[0][0]
    beam = beam_search(table, x, n, beam_size=2, eos_id=EOS)[0][0]
    assert greedy.token_ids == [A, A] and greedy.fire_index == [0, 1]
    assert beam.token_ids == [B] and beam.fire_index == [0]
    assert math.isclose(beam.score, table.score((B, EOS)), rel_tol=1e-6)
    assert beam.score > greedy.score


def test_nbest_are_the_exact_best_sequences_in_score_order() -> None:
    # With 2 steps and beam = V, the search keeps every first token, so it is exhaustive.
    table = MarkovTable(torch.rand(2, 5, 5) + 0.05)
    x, n = cif([2])
    hyps = beam_search(table, x, n, beam_size=5, nbest=5, eos_id=EOS)[0]
    ranked = sorted(itertools.product(range(5), repeat=2), key=table.score, reverse=True)[:5]
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    for hyp, seq in zip(hyps, ranked):
        assert math.isclose(hyp.score, table.score(seq), rel_tol=1e-6)
        assert hyp[0::2] == make_hypothesis(seq, 0.0, EOS, BLANK)[0::2]


def test_truncation_at_first_eos_drops_blank_keeps_unk_and_scores_all_steps() -> None:
    path = [A, BLANK, UNK, EOS, A]
    probs = torch.full((5, 5, 5), 0.01)
    for t, token in enumerate(path):
        probs[t, :, token] = 1.0
    table = MarkovTable(probs)
    x, n = cif([5])
    hyp = beam_search(table, x, n, beam_size=3, eos_id=EOS)[0][0]
    assert hyp == Hypothesis([A, UNK], pytest.approx(table.score(tuple(path))), [0, 2])


def test_lm_fusion_adds_weighted_lm_scores() -> None:
    torch.manual_seed(1)
    asr = MarkovTable(torch.rand(2, 5, 5) + 0.05)
    lm = MarkovTable(torch.rand(2, 5, 5) + 0.05)
    x, n = cif([2])

    def fused(sequence: tuple[int, ...]) -> float:
        return asr.score(sequence) + 0.5 * lm.score(sequence)

    best = max(itertools.product(range(5), repeat=2), key=fused)
    hyp = beam_search(asr, x, n, beam_size=5, lm=lm, lm_weight=0.5, eos_id=EOS)[0][0]
    assert math.isclose(hyp.score, fused(best), rel_tol=1e-6)


def test_empty_utterance_gives_nbest_empty_hypotheses() -> None:
    table = MarkovTable(torch.rand(3, 5, 5))
    x, n = cif([3, 0])
    assert (
        beam_search(table, x, n, beam_size=3, nbest=2, eos_id=EOS)[1]
        == [Hypothesis([], 0.0, [])] * 2
    )
    assert greedy_search(table, x, n, eos_id=EOS)[1] == [Hypothesis([], 0.0, [])]


def tiny_models() -> tuple[CifArDecoder, TransformerLM]:
    dec = CifArDecoder(11, 4, attention_dim=16, attention_heads=2, linear_units=32, num_blocks=2)
    lm = TransformerLM(11, attention_dim=16, attention_heads=2, linear_units=32, num_blocks=1)
    return dec.eval(), lm.eval()


def test_beam_1_equals_greedy_with_a_real_decoder_and_lm() -> None:
    dec, lm = tiny_models()
    x, n = cif([6, 3, 1, 0])
    for weight in (0.0, 0.4):
        greedy = greedy_search(dec, x, n, lm=lm, lm_weight=weight, eos_id=10)
        assert beam_search(dec, x, n, beam_size=1, lm=lm, lm_weight=weight, eos_id=10) == greedy


def test_batched_equals_one_by_one() -> None:
    dec, lm = tiny_models()
    x, n = cif([5, 0, 1, 3, 5])
    batched = beam_search(dec, x, n, beam_size=4, nbest=3, lm=lm, lm_weight=0.3, eos_id=10)
    for b in range(len(n)):
        alone = beam_search(
            dec,
            x[b : b + 1, : n[b]],
            n[b : b + 1],
            beam_size=4,
            nbest=3,
            lm=lm,
            lm_weight=0.3,
            eos_id=10,
        )[0]
        assert [(h.token_ids, h.fire_index) for h in alone] == [
            (h.token_ids, h.fire_index) for h in batched[b]
        ]
        assert [h.score for h in alone] == pytest.approx([h.score for h in batched[b]], abs=1e-5)


def test_lm_weight_0_equals_no_lm() -> None:
    dec, lm = tiny_models()
    x, n = cif([5, 2, 4])
    assert beam_search(dec, x, n, beam_size=3, nbest=3, lm=lm, lm_weight=0.0, eos_id=10) == (
        beam_search(dec, x, n, beam_size=3, nbest=3, eos_id=10)
    )
    assert beam_search(dec, x, n, beam_size=3, lm=lm, lm_weight=1.0, eos_id=10) != (
        beam_search(dec, x, n, beam_size=3, eos_id=10)
    )


def test_bad_arguments_are_refused() -> None:
    dec, _ = tiny_models()
    x, n = cif([3])
    with pytest.raises(ValueError, match="exceeds the vocabulary"):
        beam_search(dec, x, n, beam_size=12, eos_id=10)
    with pytest.raises(ValueError, match="nbest"):
        beam_search(dec, x, n, beam_size=2, nbest=3, eos_id=10)
    with pytest.raises(ValueError, match="distinct"):
        beam_search(dec, x, n, eos_id=10, unk_id=0)
    with pytest.raises(ValueError, match="cif_lengths"):
        beam_search(dec, x, torch.tensor([4]), eos_id=10)
    with pytest.raises(ValueError, match="nar_search"):
        beam_search(NarDecoder(11, 4, attention_dim=8, num_blocks=1), x, n, eos_id=10)
