"""What every speech encoder answers besides its forward: model size and frame rate."""

from __future__ import annotations

from torch import nn


class SpeechEncoder(nn.Module):
    """Base of the encoders: an input layer ``embed`` (with a ``subsampling`` stride), a model
    size ``_output_size`` and the 1-based ``pooling_layers`` after which time is max-pooled 2x."""

    embed: nn.Module
    _output_size: int
    pooling_layers: tuple[int, ...]

    def output_size(self) -> int:
        """Model dimension d of the output."""
        return self._output_size

    @property
    def subsampling_factor(self) -> int:
        """Input frames per output frame: the input layer's stride times 2 per pooling layer
        (8 for the original encoder: 2 x 2 x 2, 80 ms with a 10 ms frame shift)."""
        return self.embed.subsampling * 2 ** len(self.pooling_layers)
