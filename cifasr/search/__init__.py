"""Decoding: fixed-length batched beam / greedy search for AR CIF decoders (with optional LM
shallow fusion) and parallel greedy decoding for NAR decoders."""

from cifasr.search.beam_search import beam_search, greedy_search
from cifasr.search.hypothesis import Hypothesis
from cifasr.search.nar_search import nar_search
from cifasr.search.protocols import IncrementalDecoder, IncrementalLM, IncrementalScorer

__all__ = [
    "Hypothesis",
    "IncrementalDecoder",
    "IncrementalLM",
    "IncrementalScorer",
    "beam_search",
    "greedy_search",
    "nar_search",
]
