"""CIF weight predictors: per-frame weights in (0, 1) from the encoder output, then the CIF.

Both predictors share what happens after the weights (:class:`_CifPredictor`): padded frames get
weight exactly 0, the unscaled sums feed the quantity loss, training scales the weights to the
target length (docs/cif.md §4), and evaluation applies tail handling.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import torch
from torch import nn
from typeguard import typechecked

from cifasr.cif.cif import cif
from cifasr.nn import Dropout


class PredictorOutput(NamedTuple):
    """What a predictor returns. B batch, T frames, N tokens, C channels.

    Attributes:
        embeds: (B, N, C) float32 CIF outputs, zero beyond ``token_lengths``.
        token_lengths: (B,) int64 number of CIF outputs.
        fire_frames: (B, N) int64 frame at which each output fired, -1 on padding.
        alphas: (B, T) float32 UNscaled weights, exactly 0 on padded frames.
        alpha_sums: (B,) float32 ``alphas.sum(-1)``, for the quantity loss.
    """

    embeds: torch.Tensor
    token_lengths: torch.Tensor
    fire_frames: torch.Tensor
    alphas: torch.Tensor
    alpha_sums: torch.Tensor


class _CifPredictor(nn.Module, ABC):
    """Masking, scaling, tail handling and the CIF around a subclass's ``_weights``."""

    def __init__(
        self,
        threshold: float,
        tail_threshold: float | None,
        scale_to_target: bool,
        scale_eps: float,
        dropout: float,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"{name}: predictor_conf.threshold must be in (0, 1], got {threshold}")
        if tail_threshold is not None and tail_threshold < 0.0:
            raise ValueError(
                f"{name}: predictor_conf.tail_threshold must be null or >= 0, got {tail_threshold}"
            )
        if scale_eps <= 0.0:
            raise ValueError(f"{name}: predictor_conf.scale_eps must be > 0, got {scale_eps}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: predictor_conf.dropout must be in [0, 1), got {dropout}")
        self.threshold = threshold
        # Used only in eval mode; the model may overwrite it (0.4 for test decoding).
        self.tail_threshold = tail_threshold
        self.scale_to_target = scale_to_target
        self.scale_eps = scale_eps

    @abstractmethod
    def _weights(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T) float32 weights in [0, 1], before masking."""

    def forward(
        self,
        hidden: torch.Tensor,
        lengths: torch.Tensor,
        target_lengths: torch.Tensor | None = None,
    ) -> PredictorOutput:
        """Predict weights and integrate-and-fire.

        Args:
            hidden: (B, T, C) encoder output; frames at index >= ``lengths`` are ignored.
            lengths: (B,) valid frames per utterance.
            target_lengths: (B,) token counts including the end token (N + 1); in training
                (with ``scale_to_target``) the weights are scaled to sum to these, so the CIF
                emits exactly that many outputs. Ignored in eval mode.

        Returns:
            :class:`PredictorOutput`.
        """
        if hidden.dim() != 3 or lengths.shape != hidden.shape[:1]:
            raise ValueError(
                f"{type(self).__name__}: expected hidden (B, T, C) and lengths (B,), got "
                f"{tuple(hidden.shape)} and {tuple(lengths.shape)}"
            )
        if target_lengths is not None and target_lengths.shape != lengths.shape:
            raise ValueError(
                f"{type(self).__name__}: target_lengths must be (B,) = {tuple(lengths.shape)}, "
                f"got {tuple(target_lengths.shape)}"
            )
        hidden, alphas, fire_alphas = self.fire_weights(hidden, lengths, target_lengths)
        tail_threshold = None if self.training else self.tail_threshold
        out = cif(hidden, fire_alphas, lengths, self.threshold, tail_threshold)
        return PredictorOutput(
            out.embeds, out.token_lengths, out.fire_frames, alphas, alphas.sum(-1)
        )

    def fire_weights(
        self,
        hidden: torch.Tensor,
        lengths: torch.Tensor,
        target_lengths: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """What the CIF integrates: the masked frames and the weights it fires on.

        Args: as :meth:`forward`.

        Returns:
            ``(hidden, alphas, fire_alphas)``: (B, T, C) frames zeroed beyond ``lengths``;
            (B, T) float32 unscaled weights, 0 beyond ``lengths``; (B, T) the weights the CIF
            fires on (scaled to the target in training, NaN and inf replaced by 0).
        """
        frames = torch.arange(hidden.size(1), device=hidden.device)
        valid = frames < lengths.to(hidden.device)[:, None]
        # Zeroing padded frames keeps the conv at the last real frame (and the CIF) independent
        # of whatever the rest of the batch left in the padding.
        hidden = hidden.masked_fill(~valid.unsqueeze(-1), 0.0)
        alphas = self._weights(hidden).masked_fill(~valid, 0.0)
        fire_alphas = alphas
        if self.training and self.scale_to_target and target_lengths is not None:
            # No detach: the original lets gradients flow through the scale factor.
            scale = target_lengths.to(alphas) / (alphas.sum(-1) + self.scale_eps)
            fire_alphas = alphas * scale[:, None]
        # A diverged step (NaN/Inf in the encoder) must reach the loss as NaN, so the trainer
        # can skip and count it, not stop in cif()'s input check: fire nothing on such frames.
        # alpha_sums keeps the NaN, so the quantity loss (and the total) is NaN.
        fire_alphas = torch.nan_to_num(fire_alphas, nan=0.0, posinf=0.0, neginf=0.0)
        return hidden, alphas, fire_alphas


class ConvCifPredictor(_CifPredictor):
    """The original weight predictor (docs/cif.md §3.1).

    ``sigmoid(Linear(Dropout(Conv1d(h))))`` with no non-linearity between the conv and the
    linear layer; 197,121 parameters for input 256, 256 channels, kernel 3.

    Args:
        input_size: C, the encoder output size.
        channels: conv output channels.
        kernel_size: odd conv width (frames), padded to keep T.
        dropout: dropout after the conv.
        threshold: CIF firing threshold beta in (0, 1].
        tail_threshold: tail-handling threshold in eval mode (None: no tail token).
        scale_to_target: in training, scale the weights to sum to the target length.
        scale_eps: added to the weight sum in the scale factor's denominator.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        channels: int = 256,
        kernel_size: int = 3,
        dropout: float = 0.2,
        threshold: float = 0.99,
        tail_threshold: float | None = 0.5,
        scale_to_target: bool = True,
        scale_eps: float = 1e-8,
    ) -> None:
        super().__init__(threshold, tail_threshold, scale_to_target, scale_eps, dropout)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(
                f"ConvCifPredictor: predictor_conf.kernel_size must be odd and >= 1 (the conv "
                f"pads kernel_size // 2 frames each side to keep T), got {kernel_size}"
            )
        self.conv = nn.Conv1d(input_size, channels, kernel_size, padding=kernel_size // 2)
        self.dropout = Dropout(dropout)
        self.linear = nn.Linear(channels, 1)
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def _weights(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.conv(hidden.transpose(1, 2)).transpose(1, 2)
        logits = self.linear(self.dropout(x)).squeeze(-1)
        # fp32 sigmoid: bf16 would quantise the weights to ~1/256 before they are summed.
        return torch.sigmoid(logits.float())


class ParaformerCifPredictor(_CifPredictor):
    """FunASR's ``CifPredictor`` (V1, Paraformer) weights with this package's CIF.

    ``relu(sigmoid(Linear(ReLU(Dropout(DepthwiseConv(h) + h)))) * smooth_factor
    - noise_threshold)``, the depthwise conv seeing ``l_order`` past and ``r_order`` future
    frames (zero padded).

    Args:
        input_size: C, the encoder output size.
        l_order: frames of left context of the depthwise conv.
        r_order: frames of right context of the depthwise conv.
        dropout: dropout after the residual sum.
        smooth_factor: multiplies the sigmoid output.
        noise_threshold: subtracted after smoothing; weights below it become 0.
        threshold: CIF firing threshold beta in (0, 1]. FunASR uses 1.0; 0.99 (the default)
            keeps the last target token when scaled weights round to just below the target.
        tail_threshold: tail-handling threshold in eval mode (None: no tail token).
        scale_to_target: in training, scale the weights to sum to the target length.
        scale_eps: added to the weight sum in the scale factor's denominator.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        l_order: int = 1,
        r_order: int = 1,
        dropout: float = 0.1,
        smooth_factor: float = 1.0,
        noise_threshold: float = 0.0,
        threshold: float = 0.99,
        tail_threshold: float | None = 0.45,
        scale_to_target: bool = True,
        scale_eps: float = 1e-8,
    ) -> None:
        super().__init__(threshold, tail_threshold, scale_to_target, scale_eps, dropout)
        if l_order < 0 or r_order < 0:
            raise ValueError(
                "ParaformerCifPredictor: predictor_conf.l_order and r_order must be >= 0, got "
                f"{l_order} and {r_order}"
            )
        self.pad = nn.ConstantPad1d((l_order, r_order), 0.0)
        self.conv = nn.Conv1d(input_size, input_size, l_order + r_order + 1, groups=input_size)
        self.dropout = Dropout(dropout)
        self.linear = nn.Linear(input_size, 1)
        self.smooth_factor = smooth_factor
        self.noise_threshold = noise_threshold

    def _weights(self, hidden: torch.Tensor) -> torch.Tensor:
        context = hidden.transpose(1, 2)
        x = self.dropout(self.conv(self.pad(context)) + context).transpose(1, 2)
        logits = self.linear(torch.relu(x)).squeeze(-1)
        alphas = torch.sigmoid(logits.float())
        return torch.relu(alphas * self.smooth_factor - self.noise_threshold)
