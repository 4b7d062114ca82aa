"""CIF decoders: the original autoregressive decoder and a non-autoregressive one.

Choose one in a config with ``decoder: cif_ar`` (or ``nar``) and ``decoder_conf: {...}``.
"""

from cifasr.decoder.cif_ar import CifArDecoder, CifArState
from cifasr.decoder.nar import NarDecoder
from cifasr.decoder.outputs import DecoderOutput

DECODER_CLASSES = {"cif_ar": CifArDecoder, "nar": NarDecoder}

__all__ = ["DECODER_CLASSES", "CifArDecoder", "CifArState", "DecoderOutput", "NarDecoder"]
