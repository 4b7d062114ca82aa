"""Speech encoders: (B, T, D) features -> (B, T', C) encoder frames.

``ENCODER_CLASSES`` is the registry the task reads (``encoder: conformer`` in a config).
"""

from cifasr.encoder.conformer import ConformerEncoder
from cifasr.encoder.transformer import TransformerEncoder

ENCODER_CLASSES = {"conformer": ConformerEncoder, "transformer": TransformerEncoder}

__all__ = ["ENCODER_CLASSES", "ConformerEncoder", "TransformerEncoder"]
