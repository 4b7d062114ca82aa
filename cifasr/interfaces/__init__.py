"""What the model's parts hand each other, below every part that produces or reads it.

:class:`CifModelOutputs` is what one forward pass of the CIF ASR model computes; the model
(:mod:`cifasr.models`) fills it, the distillers (:mod:`cifasr.distill`), the searches' caller
(:mod:`cifasr.inference`) and the ONNX graphs read it. It lives here, not in ``models/``, so that
the distillers need not import the model that uses them.
"""

from cifasr.interfaces.outputs import CifModelOutputs

__all__ = ["CifModelOutputs"]
