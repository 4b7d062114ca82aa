"""nar_search: the per-position argmax of a NAR decoder, as hypotheses like the AR search."""

import pytest
import torch
from torch import nn

from cifasr.decoder import DecoderOutput, NarDecoder
from cifasr.search import Hypothesis, nar_search

V, C, EOS = 7, 8, 6


class FixedLogits(nn.Module):
    """A NAR scorer with given logits (B, S, V), called like a decoder."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, cif_embeds, cif_lengths, prev_tokens, memory, memory_lengths):
        return DecoderOutput(self.logits, cif_embeds, cif_embeds)


def test_argmax_per_position_cut_at_eos_and_length_blank_dropped_unk_kept() -> None:
    paths = [[2, 0, 1, EOS, 3], [3, 3, 0, 4, 4]]  # utterance 1 has 3 valid positions
    logits = torch.randn(2, 5, V)
    for b, path in enumerate(paths):
        logits[b, torch.arange(5), torch.tensor(path)] = 6.0
    lengths = torch.tensor([5, 3])
    hyps = nar_search(FixedLogits(logits), torch.zeros(2, 5, C), lengths, None, None, eos_id=EOS)
    best = torch.log_softmax(logits, dim=-1).max(-1).values
    assert hyps[0] == [Hypothesis([2, 1], pytest.approx(best[0].sum().item(), rel=1e-6), [0, 2])]
    assert hyps[1] == [
        Hypothesis([3, 3], pytest.approx(best[1, :3].sum().item(), rel=1e-6), [0, 1])
    ]


def test_nar_search_of_one_utterance_equals_its_batched_result() -> None:
    dec = NarDecoder(V, C, attention_dim=8, attention_heads=2, linear_units=16, num_blocks=2).eval()
    lengths, mem_lengths = torch.tensor([5, 2, 0]), torch.tensor([7, 3, 2])
    cif, mem = torch.randn(3, 5, C), torch.randn(3, 7, C)
    batched = nar_search(dec, cif, lengths, mem, mem_lengths, eos_id=EOS)
    for b in range(3):
        n, t = int(lengths[b]), int(mem_lengths[b])
        alone = nar_search(
            dec,
            cif[b : b + 1, :n],
            lengths[b : b + 1],
            mem[b : b + 1, :t],
            mem_lengths[b : b + 1],
            eos_id=EOS,
        )[0]
        assert alone[0][0::2] == batched[b][0][0::2]
        assert alone[0].score == pytest.approx(batched[b][0].score, abs=1e-5)
    assert batched[2] == [Hypothesis([], 0.0, [])]
