"""Export a trained CIF model to ONNX graphs for onnxruntime, optionally int8-quantised.

Graphs (opset >= 17, dynamic batch, frame and token axes; see :mod:`cifasr.export.graphs`):

* ``encoder.onnx``: features -> encoder and CIF outputs (the loop-free CIF in dense form);
* AR decoder (``decoder: cif_ar``): ``decoder_init.onnx`` (per-utterance CIF parts) and
  ``decoder_step.onnx`` (one step with the earlier steps' keys/values as inputs);
* NAR decoder (``decoder: nar``): ``decoder.onnx``, one pass.

With ``quantize=True`` each graph also gets an ``.int8.onnx`` twin: onnxruntime's dynamic
quantisation of the MatMul/Gemm weights to int8 (activations quantised per call). The
TorchScript-based exporter (``dynamo=False``) is used because it records size arithmetic as
graph operations: the encoder's odd-length padding and the CIF's data-dependent token count stay
dynamic, where torch.export specialises such branches to the example's shapes.

Every export is checked: onnxruntime runs the fp32 graphs on inputs of other sizes than the
traced ones and must agree with PyTorch (:data:`VERIFY_TOLERANCE`).
"""

from __future__ import annotations

import datetime
import logging
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from cifasr.export.graphs import CifArInitGraph, CifArStepGraph, EncoderCifGraph, NarDecoderGraph
from cifasr.inference.onnx_model import ONNX_META, OnnxCifModel
from cifasr.inference.speech2text import build_inference_model
from cifasr.models.cif_asr import CifASRModel
from cifasr.tasks.asr import count_parameters
from cifasr.utils.config import ConfigError, KeyLocations, dump_config
from cifasr.version import __version__

logger = logging.getLogger(__name__)

MIN_OPSET = 17
# The model parts the exporter knows how to trace, by config key.
SUPPORTED: dict[str, tuple[str | None, ...]] = {
    "normalize": (None, "utterance_mvn", "global_mvn"),
    "encoder": ("conformer", "transformer"),
    "predictor": ("conv", "paraformer"),
    "decoder": ("cif_ar", "nar"),
}
# Largest |onnxruntime - PyTorch| accepted on the encoder output and the decoder scores.
VERIFY_TOLERANCE = 1e-3
# Ops whose weights dynamic quantisation turns into int8 (Linear layers); convolutions stay fp32.
QUANTIZED_OPS = ("MatMul", "Gemm")


class ExportError(ValueError):
    """The model cannot be exported, or the export does not match PyTorch."""


def check_supported(config: Mapping[str, Any], locations: KeyLocations | None = None) -> None:
    """Refuse a config with a part the exporter cannot trace, naming the key and the choices.

    Raises:
        ConfigError: an unsupported choice (``decoder: xyz``).
    """
    locations = locations or KeyLocations()
    for key, names in SUPPORTED.items():
        value = config.get(key)
        if value not in names:
            choices = ", ".join("null" if n is None else n for n in names)
            raise ConfigError(
                f"{locations.where(key)}: '{value}' cannot be exported to ONNX "
                f"(the exporter supports {key}: {choices})"
            )


def _export(module: torch.nn.Module, args: tuple, path: Path, opset: int) -> None:
    with warnings.catch_warnings():
        # The tracer warns about every Python int it records; the verification below is the
        # check that matters.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=list(module.input_names),
            output_names=list(module.output_names),
            dynamic_axes=module.dynamic_axes,
            do_constant_folding=True,
        )


def _example_feats(model: CifASRModel, input_size: int, frames: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(0)
    lengths = torch.tensor([frames, max(frames - 2 * model.encoder.subsampling_factor - 1, 8)])
    feats = torch.randn(2, frames, input_size, generator=gen)
    return feats, lengths, torch.tensor(0.4, dtype=torch.float64)


def _max_frames(model: CifASRModel, config: Mapping[str, Any]) -> int:
    """Input frames the encoder's positional table covers: T' <= encoder_conf.max_len."""
    stride = int(model.encoder.embed.subsampling)
    return stride * (int(config["encoder_conf"]["max_len"]) + 1) - 1


def export_graphs(
    model: CifASRModel, config: Mapping[str, Any], out_dir: Path, opset: int
) -> dict[str, str]:
    """Trace the graphs of ``model`` (eval mode) into ``out_dir``; returns name -> file."""
    model.eval()
    input_size = int(config["input_size"])
    sub = model.encoder.subsampling_factor
    graphs = {"encoder": "encoder.onnx"}
    with torch.no_grad():
        _export(
            EncoderCifGraph(model),
            _example_feats(model, input_size, 12 * sub + 1),
            out_dir / graphs["encoder"],
            opset,
        )
        decoder = model.decoder
        cif_dim = model.encoder.output_size()
        if config["decoder"] == "cif_ar":
            graphs["decoder_init"] = "decoder_init.onnx"
            graphs["decoder_step"] = "decoder_step.onnx"
            _export(
                CifArInitGraph(decoder),
                (torch.randn(2, 5, cif_dim),),
                out_dir / graphs["decoder_init"],
                opset,
            )
            layers, heads = len(decoder.transformer.layers), decoder.transformer.heads
            past = torch.randn(2, layers, 3, heads, decoder.dim // heads)
            _export(
                CifArStepGraph(decoder),
                (
                    torch.tensor([model.sos_eos, 2, 3]),
                    torch.randn(3, decoder.dim),
                    torch.randn(3, decoder.dim),
                    past,
                    past.clone(),
                ),
                out_dir / graphs["decoder_step"],
                opset,
            )
        else:
            graphs["decoder"] = "decoder.onnx"
            _export(
                NarDecoderGraph(decoder),
                (
                    torch.randn(2, 5, cif_dim),
                    torch.tensor([5, 3]),
                    torch.randn(2, 9, cif_dim),
                    torch.tensor([9, 6]),
                ),
                out_dir / graphs["decoder"],
                opset,
            )
    return graphs


def quantize_int8(src: Path, dst: Path) -> None:
    """onnxruntime dynamic quantisation: int8 weights of :data:`QUANTIZED_OPS`, per output
    channel; activations quantised (uint8) at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs a line per tensor on the root logger: keep only its errors.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            src,
            dst,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(QUANTIZED_OPS),
            per_channel=True,
        )
    finally:
        root.setLevel(level)


def verify(model: CifASRModel, out_dir: Path, precision: str = "fp32") -> dict[str, float]:
    """Run the exported graphs and PyTorch on the same random batch (other sizes than the traced
    ones) and return the largest differences: ``encoder_out`` and the first two decoding steps'
    (or the NAR pass's) log-probabilities, plus ``cif_lengths`` (0 when equal)."""
    onnx_model = OnnxCifModel(out_dir, precision)
    onnx_model.tail_threshold = model.predictor.tail_threshold
    feats, lengths, _ = _example_feats(
        model, onnx_model.input_size, 20 * model.encoder.subsampling_factor
    )
    with torch.no_grad():
        ref = model.compute_outputs(feats, lengths)
        got = onnx_model.compute_outputs(feats, lengths)
        diffs = {
            "encoder_out": float((ref.encoder_out - got.encoder_out).abs().max()),
            "cif_lengths": float((ref.cif_lengths != got.cif_lengths).sum()),
        }
        # The decoders on the same (PyTorch) CIF outputs, so that they are compared alone.
        embeds, cif_lengths = ref.cif_embeds, ref.cif_lengths
        if embeds.size(1) == 0:
            embeds, cif_lengths = torch.randn(2, 3, embeds.size(2)), torch.tensor([3, 2])
        if getattr(model.decoder, "autoregressive", True):
            # Two steps: the second one reads the cached keys/values of the first.
            prev = torch.full((embeds.size(0),), model.sos_eos, dtype=torch.long)
            want_state = model.decoder.init_state(embeds, cif_lengths)
            have_state = onnx_model.decoder.init_state(embeds, cif_lengths)
            want, have = [], []
            for step in range(min(2, embeds.size(1))):
                w, want_state = model.decoder.forward_step(prev, step, want_state)
                h, have_state = onnx_model.decoder.forward_step(prev, step, have_state)
                want.append(w)
                have.append(h)
                prev = w.argmax(-1)
            want, have = torch.cat(want), torch.cat(have)
        else:
            args = (embeds, cif_lengths, None, ref.encoder_out, ref.encoder_lengths)
            want = torch.log_softmax(model.decoder(*args).logits, -1)
            have = torch.log_softmax(onnx_model.decoder(*args).logits, -1)
            valid = torch.arange(embeds.size(1))[None, :] < cif_lengths[:, None]
            want, have = want[valid], have[valid]
        diffs["log_probs"] = float((want - have).abs().max())
    return diffs


def export_onnx(
    asr_train_config: Mapping[str, Any],
    asr_model_file: str | Path,
    output_dir: str | Path,
    *,
    opset: int = MIN_OPSET,
    quantize: bool = True,
    bpemodel: str | Path | None = None,
    lm_train_config: str | Path | None = None,
    lm_file: str | Path | None = None,
    locations: KeyLocations | None = None,
) -> Path:
    """Export a trained model to ``output_dir`` (see the module docstring for the files).

    Args:
        asr_train_config: the experiment's config (token list inline, as asr_train writes it).
        asr_model_file: the weights.
        output_dir: created if needed; files of an earlier export there are overwritten.
        opset: ONNX opset, at least :data:`MIN_OPSET`.
        quantize: also write the int8 graphs.
        bpemodel: the sentencepiece model of a ``token_type: bpe`` config (copied).
        lm_train_config, lm_file: an LM for shallow fusion, copied for the PyTorch LM path.
        locations: where the config's keys are (for error messages).

    Returns:
        ``output_dir``.

    Raises:
        ConfigError: a part the exporter does not support.
        ExportError: opset below 17, or onnxruntime disagrees with PyTorch.
    """
    if opset < MIN_OPSET:
        raise ExportError(f"opset {opset}: the exported graphs need opset >= {MIN_OPSET}")
    check_supported(asr_train_config, locations)
    config, _, model = build_inference_model(asr_train_config, asr_model_file)
    model.eval()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    logger.info(
        "exporting %s parameters to %s (opset %d)", f"{count_parameters(model):,}", out, opset
    )
    fp32 = export_graphs(model, config, out, opset)
    graphs = {"fp32": fp32}
    if quantize:
        graphs["int8"] = {k: v.replace(".onnx", ".int8.onnx") for k, v in fp32.items()}
        for name, file in fp32.items():
            quantize_int8(out / file, out / graphs["int8"][name])
    files = {"asr_train_config": "config.yaml"}
    if config.get("token_type") == "bpe":
        if bpemodel is None:
            raise ExportError("token_type is bpe: give the sentencepiece model (bpemodel)")
        shutil.copyfile(bpemodel, out / "bpe.model")
        files["bpemodel"] = "bpe.model"
        config = {**config, "bpemodel": "bpe.model"}
    (out / files["asr_train_config"]).write_text(dump_config(config), encoding="utf-8")
    if lm_train_config and lm_file:
        (out / "lm").mkdir(exist_ok=True)
        shutil.copyfile(lm_train_config, out / "lm/config.yaml")
        shutil.copyfile(lm_file, out / "lm/model.pth")
        files.update(lm_train_config="lm/config.yaml", lm_file="lm/model.pth")
    meta = _meta(model, config, files, graphs, opset)
    (out / ONNX_META).write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")

    for precision in graphs:
        diffs = verify(model, out, precision)
        logger.info("%s graphs vs PyTorch, largest differences: %s", precision, diffs)
        if precision == "fp32" and (
            diffs["cif_lengths"] > 0
            or max(diffs["encoder_out"], diffs["log_probs"]) > VERIFY_TOLERANCE
        ):
            raise ExportError(
                f"{out}: onnxruntime disagrees with PyTorch beyond {VERIFY_TOLERANCE}: {diffs}"
            )
    return out


def _meta(
    model: CifASRModel,
    config: Mapping[str, Any],
    files: dict[str, str],
    graphs: dict[str, dict[str, str]],
    opset: int,
) -> dict[str, Any]:
    import onnx

    decoder = model.decoder
    facts: dict[str, Any] = {
        "decoder": config["decoder"],
        "input_size": int(config["input_size"]),
        "subsampling_factor": int(model.encoder.subsampling_factor),
        "min_frames": int(model.encoder.embed.min_frames),
        "max_frames": _max_frames(model, config),
        "max_tokens": int(config["decoder_conf"]["max_len"]),
        "tail_threshold": model.predictor.tail_threshold,
        "sos_eos": int(model.sos_eos),
        "blank_id": int(model.blank_id),
        "unk_id": int(model.unk_id),
        "parameters": count_parameters(model),
    }
    if config["decoder"] == "cif_ar":
        facts["decoder_layers"] = len(decoder.transformer.layers)
        facts["decoder_heads"] = int(decoder.transformer.heads)
        facts["decoder_head_dim"] = int(decoder.dim // decoder.transformer.heads)
    return {
        "cifasr_version": __version__,
        "torch_version": str(torch.__version__),
        "onnx_version": onnx.__version__,
        "opset": opset,
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "files": files,
        "graphs": graphs,
        "model": facts,
    }
