"""Encoder input layers: subsample the features, project to d, prepare the positions.

Every input layer has the same constructor and call so the encoders can pick one by name from
``INPUT_LAYERS``:

    layer = INPUT_LAYERS[name](idim, odim, pos_enc_class, dropout_rate, positional_dropout_rate,
                               conv_channels, max_len)
    (x, pos_emb), lengths = layer(features, feature_lengths)

``x`` (B, T', d) is ready for the first encoder layer; ``pos_emb`` is (1, 2T'-1, d) for relative
positions or None for absolute ones (already added to ``x``). ``layer.pos_enc`` recomputes the
relative embeddings after in-encoder pooling. Lengths are in frames; an output frame is valid when
every input frame it sees is valid, so valid outputs never depend on batch padding.
"""

from __future__ import annotations

import torch
from torch import nn

from cifasr.encoder.embedding import PositionalEncoding, RelPositionalEncoding
from cifasr.nn import Dropout

PosEncClass = type[PositionalEncoding] | type[RelPositionalEncoding]


def _conv_lengths(lengths: torch.Tensor, n_convs: int) -> torch.Tensor:
    # Each Conv2d(kernel 3, stride 2, no padding) maps L valid frames to floor((L - 1) / 2).
    for _ in range(n_convs):
        lengths = torch.div(lengths - 1, 2, rounding_mode="floor").clamp(min=0)
    return lengths


def _check_input(x: torch.Tensor, idim: int, min_frames: int, name: str) -> None:
    if x.dim() != 3 or x.size(2) != idim:
        raise ValueError(
            f"input layer {name!r}: expected features (B, T, {idim}), got {tuple(x.shape)}; "
            "check the feature dimension given to the encoder (input_size)"
        )
    if x.size(1) < min_frames:
        raise ValueError(
            f"input layer {name!r} needs at least {min_frames} frames, the longest utterance of "
            f"this batch has {x.size(1)}; drop such utterances with the length filter"
        )


class Conv2dCifSubsampling(nn.Module):
    """The original CIF front end (docs/architecture.md §3.1), 2x in time.

    ``Conv2d(1 -> conv_channels, 3x3, stride 2, no padding) -> ReLU -> Linear(C * F' -> d)``
    with F' = (idim - 1) // 2 (4,992 inputs for 80-dim features and 128 channels), then the input
    preparation of the original encoder: ``x * sqrt(d)``, relative positions computed (not added),
    ``Linear(d -> d)``, dropout. Output length floor((T - 1) / 2).

    The original applies no dropout to the positions or before the input Linear, so
    ``positional_dropout_rate`` is not used here; ``dropout_rate`` is the one input dropout.

    Args:
        idim: feature dimension.
        odim: model dimension d.
        pos_enc_class: ``RelPositionalEncoding`` (conformer) or ``PositionalEncoding``.
        dropout_rate: dropout after the input Linear.
        positional_dropout_rate: unused (see above).
        conv_channels: output channels of the Conv2d.
        max_len: frames precomputed by the positional encoding.
    """

    subsampling = 2  # input frames per output frame
    min_frames = 3

    def __init__(
        self,
        idim: int,
        odim: int,
        pos_enc_class: PosEncClass = RelPositionalEncoding,
        dropout_rate: float = 0.1,
        positional_dropout_rate: float = 0.0,
        conv_channels: int = 128,
        max_len: int = 6000,
    ) -> None:
        super().__init__()
        self.idim = idim
        self.conv = nn.Sequential(nn.Conv2d(1, conv_channels, 3, 2), nn.ReLU())
        self.out = nn.Linear(conv_channels * ((idim - 1) // 2), odim)
        self.pos_enc = pos_enc_class(odim, 0.0, max_len)
        self.input_linear = nn.Linear(odim, odim)
        self.dropout = Dropout(dropout_rate)

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, torch.Tensor | None], torch.Tensor]:
        """(B, T, idim), (B,) frames -> ((B, T', d), pos_emb), (B,) frames, T' = (T-1)//2."""
        _check_input(x, self.idim, self.min_frames, "conv2d_cif")
        x = self.conv(x.unsqueeze(1))  # (B, C, T', F')
        b, c, t, f = x.shape
        x = self.out(x.transpose(1, 2).reshape(b, t, c * f))
        x, pos_emb = self.pos_enc(x)
        x = self.dropout(self.input_linear(x))
        return (x, pos_emb), _conv_lengths(lengths, 1)


class Conv2dSubsampling(nn.Module):
    """ESPnet ``Conv2dSubsampling``, 4x in time.

    ``Conv2d(1 -> d, 3, 2) -> ReLU -> Conv2d(d -> d, 3, 2) -> ReLU -> Linear(d * F'' -> d)``,
    then the positional encoding (``x * sqrt(d)``, dropout ``positional_dropout_rate``). Output
    length ((T - 1) // 2 - 1) // 2. The channels are d, as in ESPnet; ``conv_channels`` and
    ``dropout_rate`` are not used (ESPnet's only input dropout is the positional one).
    """

    subsampling = 4  # input frames per output frame
    min_frames = 7

    def __init__(
        self,
        idim: int,
        odim: int,
        pos_enc_class: PosEncClass = RelPositionalEncoding,
        dropout_rate: float = 0.1,
        positional_dropout_rate: float = 0.1,
        conv_channels: int = 128,
        max_len: int = 6000,
    ) -> None:
        super().__init__()
        self.idim = idim
        self.conv = nn.Sequential(
            nn.Conv2d(1, odim, 3, 2), nn.ReLU(), nn.Conv2d(odim, odim, 3, 2), nn.ReLU()
        )
        self.out = nn.Linear(odim * (((idim - 1) // 2 - 1) // 2), odim)
        self.pos_enc = pos_enc_class(odim, positional_dropout_rate, max_len)

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, torch.Tensor | None], torch.Tensor]:
        """(B, T, idim), (B,) frames -> ((B, T', d), pos_emb), (B,), T' = ((T-1)//2-1)//2."""
        _check_input(x, self.idim, self.min_frames, "conv2d")
        x = self.conv(x.unsqueeze(1))
        b, c, t, f = x.shape
        x = self.out(x.transpose(1, 2).reshape(b, t, c * f))
        return self.pos_enc(x), _conv_lengths(lengths, 2)


class LinearNoSubsampling(nn.Module):
    """ESPnet ``LinearNoSubsampling``: ``Linear -> LayerNorm -> Dropout -> ReLU -> positions``.

    No subsampling; ``conv_channels`` is not used.
    """

    subsampling = 1  # input frames per output frame
    min_frames = 1

    def __init__(
        self,
        idim: int,
        odim: int,
        pos_enc_class: PosEncClass = RelPositionalEncoding,
        dropout_rate: float = 0.1,
        positional_dropout_rate: float = 0.1,
        conv_channels: int = 128,
        max_len: int = 6000,
    ) -> None:
        super().__init__()
        self.idim = idim
        self.out = nn.Sequential(
            nn.Linear(idim, odim), nn.LayerNorm(odim), Dropout(dropout_rate), nn.ReLU()
        )
        self.pos_enc = pos_enc_class(odim, positional_dropout_rate, max_len)

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, torch.Tensor | None], torch.Tensor]:
        """(B, T, idim), (B,) frames -> ((B, T, d), pos_emb), (B,) frames."""
        _check_input(x, self.idim, self.min_frames, "linear")
        return self.pos_enc(self.out(x)), lengths


INPUT_LAYERS: dict[str, type[nn.Module]] = {
    "conv2d_cif": Conv2dCifSubsampling,
    "conv2d": Conv2dSubsampling,
    "linear": LinearNoSubsampling,
}


def build_input_layer(
    name: str,
    idim: int,
    odim: int,
    pos_enc_class: PosEncClass,
    dropout_rate: float,
    positional_dropout_rate: float,
    conv_channels: int,
    max_len: int,
) -> nn.Module:
    """Look ``name`` up in ``INPUT_LAYERS`` and build it; an unknown name lists the choices."""
    if name not in INPUT_LAYERS:
        raise ValueError(
            f"encoder_conf.input_layer: unknown {name!r}; choose one of {sorted(INPUT_LAYERS)}"
        )
    return INPUT_LAYERS[name](
        idim, odim, pos_enc_class, dropout_rate, positional_dropout_rate, conv_channels, max_len
    )
