"""Export a trained CIF model to ONNX graphs for onnxruntime (``python -m cifasr.bin.export_onnx``).

:mod:`cifasr.export.graphs` holds the traced modules, :mod:`cifasr.export.onnx_export` the export,
int8 quantisation and verification; :mod:`cifasr.inference.onnx_model` runs the result.
"""
