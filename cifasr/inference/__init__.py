"""Inference with trained models: Speech2Text (waveform or features -> n-best text with token
timestamps) on PyTorch or on the ONNX graphs in onnxruntime (onnx_model), the LM loader, model
packing."""

from cifasr.inference.speech2text import Result, Speech2Text

__all__ = ["Result", "Speech2Text"]
