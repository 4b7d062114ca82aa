"""The exported ONNX graphs run with onnxruntime, as a drop-in for the PyTorch model in decoding.

:class:`OnnxCifModel` answers what :func:`cifasr.inference.recognize.recognize` asks of a
:class:`~cifasr.models.cif_asr.CifASRModel`: ``compute_outputs`` (the encoder + CIF graph), a
``decoder`` and the special token ids. The decoders follow the search protocols, so the same
batched greedy, beam and NAR searches (:mod:`cifasr.search`) drive both backends:

* :class:`OnnxCifArDecoder` is an :class:`~cifasr.search.protocols.IncrementalDecoder`: its state
  holds the CIF parts and a preallocated key/value cache (numpy) that beam reordering permutes;
* :class:`OnnxNarDecoder` is called like :class:`~cifasr.decoder.NarDecoder` and returns logits.

An LM for shallow fusion stays a PyTorch module: the search adds its log-probabilities to the
decoder's (a torch tensor made from the onnxruntime output without a copy).

The directory layout (written by :mod:`cifasr.export.onnx_export`) is ``onnx_meta.yaml`` (what is
where, the model facts the runtime needs), ``config.yaml`` (the inference config: token list,
fbank settings) and the graphs, ``<name>.onnx`` and ``<name>.int8.onnx``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import yaml

from cifasr.interfaces.outputs import CifModelOutputs

ONNX_META = "onnx_meta.yaml"
PRECISIONS = ("fp32", "int8")


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as e:  # an optional extra
        raise ImportError(
            "the onnxruntime backend needs onnxruntime: pip install -e '.[onnx]' (or set "
            "CIFASR_EXTRAS to include onnx for tools/setup.sh)"
        ) from e
    return onnxruntime


def read_onnx_meta(onnx_dir: str | Path) -> dict[str, Any]:
    """The ``onnx_meta.yaml`` of an export directory, checked for the files it lists.

    Raises:
        FileNotFoundError: not an export directory, or a listed file is missing.
    """
    root = Path(onnx_dir)
    path = root / ONNX_META
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing; {root} is not an ONNX export (python -m cifasr.bin.export_onnx)"
        )
    meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    for what, name in [*meta["files"].items(), *meta["graphs"]["fp32"].items()]:
        if not (root / name).is_file():
            raise FileNotFoundError(f"{path}: lists {what} '{name}', which is not in {root}")
    return meta


def session(
    path: str | Path, num_threads: int | None = None, providers: list[str] | None = None
) -> Any:
    """An onnxruntime session with all graph optimisations and ``num_threads`` intra-op threads
    (default: torch's thread count, so both backends use the same cores).

    The intra-op worker threads do not spin-wait for work after a run: the searches call the
    sessions between PyTorch operations (top-k, reordering, LM fusion), and spinning workers take
    the cores those need. bench/onnx_decode.py's int8 model on 2 cores, median of 12 decodes
    taken in turns: batch 32 beam 10, 2.13 s spinning, 1.92 s not; batch 1 beam 10, 0.163 s and
    0.104 s; the encoder alone runs as fast either way.
    """
    ort = _onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])


def _run(sess: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Run with the feeds the graph has (the exporter drops inputs a graph does not use)."""
    names = {i.name for i in sess.get_inputs()}
    return sess.run(None, {k: v for k, v in feeds.items() if k in names})


@dataclass
class OnnxCifArState:
    """Incremental state of :class:`OnnxCifArDecoder` for N hypotheses of U utterances.

    Attributes:
        input_part, output_part: (U, S, D) the CIF parts of every step (init graph).
        row_of: (N,) the utterance row each hypothesis reads.
        keys, values: (S, L, N, H, D/H) self-attention caches; steps ``< filled`` are written.
        spare_keys, spare_values: buffers of the same shape that reordering writes into (then
            swapped with the caches: one copy per reorder, not a gather and a copy back).
        filled: steps decoded so far.
    """

    input_part: np.ndarray
    output_part: np.ndarray
    row_of: np.ndarray
    keys: np.ndarray
    values: np.ndarray
    spare_keys: np.ndarray
    spare_values: np.ndarray
    filled: int = 0


class OnnxCifArDecoder:
    """The AR CIF decoder as onnxruntime sessions (init + step graphs), with the
    ``init_state / forward_step / reorder_state`` protocol of :class:`cifasr.decoder.CifArDecoder`.

    Args:
        init: session of the init graph; step: session of the step graph.
        num_layers, heads, head_dim: the self-attention cache shape (L, H, D/H).
        max_steps: positions the graphs were exported for (``decoder_conf.max_len``).
    """

    autoregressive = True

    def __init__(
        self, init: Any, step: Any, num_layers: int, heads: int, head_dim: int, max_steps: int
    ) -> None:
        self.init = init
        self.step = step
        self.cache_shape = (num_layers, heads, head_dim)
        self.max_steps = max_steps

    def init_state(self, cif_embeds: torch.Tensor, cif_lengths: torch.Tensor) -> OnnxCifArState:
        """State for decoding ``cif_embeds`` (N, S, C) step by step (``cif_lengths`` unused:
        the search ignores steps beyond an utterance's length)."""
        n, s, _ = cif_embeds.shape
        if s > self.max_steps:
            raise ValueError(
                f"{s} CIF outputs, but the decoder graphs were exported for at most "
                f"{self.max_steps} positions: export again with a larger decoder_conf.max_len"
            )
        input_part, output_part = _run(
            self.init, {"cif_embeds": cif_embeds.detach().float().cpu().numpy()}
        )
        layers, heads, head_dim = self.cache_shape
        shape = (s, layers, n, heads, head_dim)
        caches = [np.zeros(shape, dtype=np.float32) for _ in range(4)]
        return OnnxCifArState(input_part, output_part, np.arange(n), *caches)

    def forward_step(
        self, prev_token: torch.Tensor, step: int, state: OnnxCifArState
    ) -> tuple[torch.Tensor, OnnxCifArState]:
        """Log-probabilities (N, V) float32 of position ``step`` for every hypothesis; steps run
        0, 1, 2, ... (the state is updated in place)."""
        if not 0 <= step <= min(state.filled, state.keys.shape[0] - 1):
            raise IndexError(
                f"decoding step {step} is out of order or beyond the cache: {state.filled} "
                f"positions written, room for {state.keys.shape[0]}; steps must go 0, 1, 2, ..."
            )
        log_probs, keys, values = _run(
            self.step,
            {
                "prev_token": prev_token.detach().cpu().numpy().astype(np.int64),
                "cif_in": state.input_part[state.row_of, step],
                "cif_out": state.output_part[state.row_of, step],
                "past_keys": state.keys[:step],
                "past_values": state.values[:step],
            },
        )
        state.keys[step] = keys
        state.values[step] = values
        state.filled = step + 1
        return torch.from_numpy(log_probs), state

    def reorder_state(self, state: OnnxCifArState, index: torch.Tensor) -> OnnxCifArState:
        """Keep hypotheses ``index`` (N',) of the current N: the written cache prefix and the
        utterance rows are permuted (a new cache when N' differs from N)."""
        idx = index.detach().cpu().numpy()
        t = state.filled
        s, layers, _, heads, head_dim = state.keys.shape
        shape = (s, layers, idx.shape[0], heads, head_dim)
        if state.spare_keys.shape != shape:  # the number of hypotheses changed
            state.spare_keys, state.spare_values = (np.zeros(shape, np.float32) for _ in "kv")
        # mode="clip" (the indices are valid) lets numpy write into the prefix without a buffer.
        np.take(state.keys[:t], idx, axis=2, out=state.spare_keys[:t], mode="clip")
        np.take(state.values[:t], idx, axis=2, out=state.spare_values[:t], mode="clip")
        state.keys, state.spare_keys = state.spare_keys, state.keys
        state.values, state.spare_values = state.spare_values, state.values
        state.row_of = state.row_of[idx]
        return state


class NarOutput(NamedTuple):
    """What :func:`cifasr.search.nar_search` reads from a decoder call: logits (B, S, V)."""

    logits: torch.Tensor


class OnnxNarDecoder:
    """The NAR decoder graph, called like :class:`cifasr.decoder.NarDecoder`.

    Args:
        sess: session of the decoder graph.
        max_steps: positions the graph was exported for (``decoder_conf.max_len``).
    """

    autoregressive = False

    def __init__(self, sess: Any, max_steps: int) -> None:
        self.sess = sess
        self.max_steps = max_steps

    def __call__(
        self,
        cif_embeds: torch.Tensor,
        cif_lengths: torch.Tensor,
        prev_tokens: torch.Tensor | None,
        memory: torch.Tensor | None,
        memory_lengths: torch.Tensor | None,
    ) -> NarOutput:
        """Logits (B, S, V) of every CIF position, in one pass (``prev_tokens`` unused)."""
        if cif_embeds.size(1) > self.max_steps:
            raise ValueError(
                f"{cif_embeds.size(1)} CIF outputs, but the decoder graph was exported for at "
                f"most {self.max_steps} positions: export again with a larger decoder_conf.max_len"
            )
        feeds = {
            "cif_embeds": cif_embeds.detach().float().cpu().numpy(),
            "cif_lengths": cif_lengths.detach().cpu().numpy().astype(np.int64),
        }
        if memory is not None and memory_lengths is not None:
            feeds["encoder_out"] = memory.detach().float().cpu().numpy()
            feeds["encoder_lengths"] = memory_lengths.detach().cpu().numpy().astype(np.int64)
        return NarOutput(torch.from_numpy(_run(self.sess, feeds)[0]))


class OnnxCifModel:
    """An exported CIF model for :func:`cifasr.inference.recognize.recognize`.

    Args:
        onnx_dir: the output directory of ``python -m cifasr.bin.export_onnx``.
        precision: ``fp32`` or ``int8`` (the dynamically quantised graphs).
        num_threads: intra-op threads of every session (default: torch's thread count).
        providers: onnxruntime execution providers (default: CPU).

    Attributes:
        tail_threshold: CIF tail threshold fed to the encoder graph (the exported config's
            validation value until the caller sets the decoding one; None: no tail token).
        subsampling_factor: input frames per encoder frame.
    """

    def __init__(
        self,
        onnx_dir: str | Path,
        precision: str = "fp32",
        num_threads: int | None = None,
        providers: list[str] | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got '{precision}'")
        root = Path(onnx_dir)
        meta = read_onnx_meta(root)
        graphs = meta["graphs"].get(precision)
        if not graphs:
            raise FileNotFoundError(
                f"{root / ONNX_META}: no {precision} graphs; export with --quantize int8"
            )
        for name in graphs.values():
            if not (root / name).is_file():
                raise FileNotFoundError(f"{root / ONNX_META}: lists '{name}', not in {root}")
        self.meta = meta
        model = meta["model"]
        self.sos_eos, self.blank_id, self.unk_id = (
            model["sos_eos"],
            model["blank_id"],
            model["unk_id"],
        )
        self.subsampling_factor = int(model["subsampling_factor"])
        self.min_frames = int(model["min_frames"])
        self.max_frames = int(model["max_frames"])
        self.input_size = int(model["input_size"])
        self.tail_threshold: float | None = model["tail_threshold"]

        def open_graph(name: str) -> Any:
            return session(root / graphs[name], num_threads, providers)

        self.encoder = open_graph("encoder")
        if model["decoder"] == "cif_ar":
            self.decoder: OnnxCifArDecoder | OnnxNarDecoder = OnnxCifArDecoder(
                open_graph("decoder_init"),
                open_graph("decoder_step"),
                model["decoder_layers"],
                model["decoder_heads"],
                model["decoder_head_dim"],
                model["max_tokens"],
            )
        else:
            self.decoder = OnnxNarDecoder(open_graph("decoder"), model["max_tokens"])

    def compute_outputs(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> CifModelOutputs:
        """Encoder and CIF outputs of a padded batch of features (B, T, D), lengths (B,)."""
        if speech.dim() != 3 or speech.size(2) != self.input_size:
            raise ValueError(
                f"features must be (B, T, {self.input_size}), got {tuple(speech.shape)}"
            )
        frames = speech.size(1)
        if frames < self.min_frames:
            raise ValueError(
                f"the encoder needs at least {self.min_frames} frames, the longest utterance "
                f"of this batch has {frames}"
            )
        if frames > self.max_frames:
            raise ValueError(
                f"an utterance of {frames} frames is longer than the exported encoder handles "
                f"({self.max_frames}, from encoder_conf.max_len): split the audio, or export "
                "again with a larger encoder_conf.max_len"
            )
        tail = np.inf if self.tail_threshold is None else float(self.tail_threshold)
        outs = _run(
            self.encoder,
            {
                "feats": speech.detach().float().cpu().numpy(),
                "feats_lengths": speech_lengths.detach().cpu().numpy().astype(np.int64),
                "tail_threshold": np.array(tail, dtype=np.float64),
            },
        )
        enc, enc_lengths, alphas, embeds, cif_lengths, fire_frames = (
            torch.from_numpy(o) for o in outs
        )
        return CifModelOutputs(
            encoder_out=enc,
            encoder_lengths=enc_lengths,
            alphas=alphas,
            cif_embeds=embeds,
            cif_lengths=cif_lengths,
            fire_frames=fire_frames,
        )
