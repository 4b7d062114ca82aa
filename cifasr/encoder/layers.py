"""Building blocks of the encoder layers: activations, feed-forward, conformer conv module.

Names and shapes follow ESPnet (``w_1``/``w_2``, ``pointwise_conv1``, ``depthwise_conv``,
``norm``, ``pointwise_conv2``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cifasr.nn import Dropout

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "swish": nn.SiLU,
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
}


def build_activation(name: str) -> nn.Module:
    """Activation by name (``ACTIVATIONS``); an unknown name lists the choices."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"encoder_conf.activation: unknown {name!r}; choose one of {sorted(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]()


class PositionwiseFeedForward(nn.Module):
    """``w_2(dropout(act(w_1(x))))``, (B, T, d) -> (B, T, d) (ESPnet).

    Args:
        idim: model dimension d.
        hidden_units: inner dimension.
        dropout_rate: dropout after the activation.
        activation: name in ``ACTIVATIONS``.
    """

    def __init__(
        self, idim: int, hidden_units: int, dropout_rate: float, activation: str = "relu"
    ) -> None:
        super().__init__()
        self.w_1 = nn.Linear(idim, hidden_units)
        self.w_2 = nn.Linear(hidden_units, idim)
        self.dropout = Dropout(dropout_rate)
        self.activation = build_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, T, d)."""
        return self.w_2(self.dropout(self.activation(self.w_1(x))))


class ConvolutionModule(nn.Module):
    """Conformer convolution module without biases (docs/architecture.md §3.2).

    ``pointwise Conv1d d -> 2d -> GLU -> depthwise Conv1d (kernel k) -> BatchNorm1d -> act ->
    pointwise Conv1d d -> d``. The caller applies the LayerNorm before and the dropout after.

    With ``mask`` given, padded frames are zeroed right before the depthwise conv (as WeNet), so
    valid frames never see padding and the output on valid frames does not depend on how much
    the batch is padded. Without it, padding (LayerNorm bias, GLU of it) leaks into the last
    ``k // 2`` valid frames, as in the original fairseq code.

    Args:
        channels: model dimension d.
        kernel_size: depthwise kernel k, odd.
        activation: name in ``ACTIVATIONS``.
    """

    def __init__(self, channels: int, kernel_size: int = 15, activation: str = "swish") -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"encoder_conf.cnn_module_kernel must be odd, got {kernel_size}")
        self.pointwise_conv1 = nn.Conv1d(channels, 2 * channels, 1, bias=False)
        self.depthwise_conv = nn.Conv1d(
            channels, channels, kernel_size, padding=kernel_size // 2, groups=channels, bias=False
        )
        self.norm = nn.BatchNorm1d(channels)
        self.activation = build_activation(activation)
        self.pointwise_conv2 = nn.Conv1d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Convolution module.

        Args:
            x: (B, T, d), already layer-normalised.
            mask: (B, T) bool, True on valid frames, or None to leave padding unmasked.

        Returns:
            (B, T, d).
        """
        # The pointwise convs (kernel 1) are matrix products over the channels: computed as such
        # on (B, T, .), so that an ONNX export holds MatMuls (int8-quantisable) instead of Convs.
        # The parameters stay the Conv1d ones (checkpoints unchanged).
        x = F.glu(F.linear(x, self.pointwise_conv1.weight.squeeze(-1)), dim=-1)  # (B, T, d)
        if mask is not None:
            x = x.masked_fill(~mask[:, :, None], 0.0)
        x = self.activation(self.norm(self.depthwise_conv(x.transpose(1, 2))))  # (B, d, T)
        return F.linear(x.transpose(1, 2), self.pointwise_conv2.weight.squeeze(-1))
