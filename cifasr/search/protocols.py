"""What the searches need from a decoder and from a fused LM (structural typing only)."""

from __future__ import annotations

from typing import Any, Protocol

import torch


class IncrementalScorer(Protocol):
    """Step-by-step scoring shared by AR decoders and LMs.

    ``forward_step(prev_token (N,), step, state) -> (log_probs (N, V) float32, state)``: the
    scores of the token at ``step`` (0-based) given ``prev_token``, the token at ``step - 1``
    (``<sos/eos>`` at step 0); steps run 0, 1, 2, ... and the state may be updated in place.

    ``reorder_state(state, index (N',)) -> state``: keep rows ``index`` of the current N, in that
    order. N' may differ from N: the beam search initialises B rows and expands them to
    B * beam with ``index = arange(B).repeat_interleave(beam)`` after the first step.
    """

    def forward_step(
        self, prev_token: torch.Tensor, step: int, state: Any
    ) -> tuple[torch.Tensor, Any]: ...

    def reorder_state(self, state: Any, index: torch.Tensor) -> Any: ...


class IncrementalDecoder(IncrementalScorer, Protocol):
    """An AR CIF decoder: ``init_state(cif_embeds (N, S, C), cif_lengths (N,)) -> state``."""

    def init_state(self, cif_embeds: torch.Tensor, cif_lengths: torch.Tensor) -> Any: ...


class IncrementalLM(IncrementalScorer, Protocol):
    """An LM for shallow fusion: ``init_state(batch_size, max_len, device) -> state`` for
    ``batch_size`` sequences of up to ``max_len`` steps (e.g. :class:`cifasr.lm.TransformerLM`)."""

    def init_state(self, batch_size: int, max_len: int, device: torch.device | str) -> Any: ...
