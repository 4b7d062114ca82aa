"""Speech2Text: a trained CIF model (and optional LM) as a callable on waveforms or features.

>>> s2t = Speech2Text("exp/asr_train_cif/config.yaml",                      # doctest: +SKIP
...                   "exp/asr_train_cif/ave_last10epoch.pth", beam_size=10)
>>> text, tokens, token_ids, timestamps = s2t(waveform_16k)[0]             # doctest: +SKIP

``Speech2Text.from_pretrained(path)`` loads a model packed by stage 14 (a zip or its directory).
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import yaml

from cifasr.data.tokenizer import Tokenizer
from cifasr.frontend.fbank import FbankConfig
from cifasr.inference.recognize import recognize
from cifasr.inference.timestamps import token_timestamps
from cifasr.models.cif_asr import CifASRModel
from cifasr.tasks.asr import build_model
from cifasr.tasks.lm import build_lm
from cifasr.train.checkpoint import load_checkpoint, model_state
from cifasr.utils.precision import normalize_request, resolve_precision

logger = logging.getLogger(__name__)

PACK_META = "meta.yaml"


def build_inference_model(
    config: Mapping[str, Any], model_file: str | Path
) -> tuple[dict[str, Any], dict[str, torch.Tensor], CifASRModel]:
    """The inference model of a training config and checkpoint.

    The distillers (teacher projections) are training-only: they are removed from the config
    and their parameters from the weights, so a distilled model exports with exactly the
    baseline's parameters.

    Args:
        config: the experiment's config.yaml as a mapping.
        model_file: a ``{N}epoch.pth``, averaged or training checkpoint.

    Returns:
        ``(config, state, model)``: the config and weights without distillers, and the model
        built from them with the weights loaded (loading fails loudly if they do not fit).
    """
    config = {**config, "distillers": {}}
    if config.get("normalize") == "global_mvn":
        # The statistics are buffers restored from the weights: the training machine's
        # feats_stats.npz (an absolute path) is not needed, so a packed model loads anywhere.
        conf = config.get("normalize_conf") or {}
        config["normalize_conf"] = {
            **conf,
            "stats_file": None,
            "feat_dim": int(config.get("input_size", 80)),
        }
    state = {
        k: v
        for k, v in model_state(load_checkpoint(model_file)).items()
        if not k.startswith("distillers.")
    }
    model = build_model(config)
    model.load_state_dict(state)
    return config, state, model


class Result(NamedTuple):
    """One hypothesis: text, tokens, token ids and per-token (start, end) seconds."""

    text: str
    tokens: list[str]
    token_ids: list[int]
    timestamps: list[tuple[float, float]]
    score: float


class Speech2Text:
    """Recognise speech with a trained CIF ASR model.

    Args:
        asr_train_config: the experiment's ``config.yaml`` (written by asr_train).
        asr_model_file: model weights (``{N}epoch.pth``, an averaged model, or ``checkpoint.pth``).
        lm_train_config: the LM experiment's ``config.yaml`` (optional).
        lm_file: LM weights (optional; needed with ``lm_train_config``).
        device: ``cpu`` or ``cuda[:i]``.
        beam_size: beam width (1: greedy; the original decodes with 10).
        nbest: hypotheses returned per utterance.
        lm_weight: shallow-fusion weight (0: the LM is not run).
        tail_threshold: CIF tail-firing threshold at test time (0.4 in the original); None keeps
            the config's validation value.
        dtype: precision of the network: ``auto`` (bf16 autocast where the device computes
            bf16 natively, else float32; :mod:`cifasr.utils.precision`), ``float32``,
            ``bfloat16`` or ``float16`` (CUDA). CIF stays float32.
        backend: ``pytorch``, or ``onnxruntime`` for the graphs of ``python -m
            cifasr.bin.export_onnx``: then ``asr_model_file`` is the export directory (and
            ``asr_train_config`` its ``config.yaml``; :meth:`from_onnx` fills both). The search
            code is the same; an LM still runs in PyTorch. Its graphs run in float32 (or int8):
            ``dtype`` must then be ``auto`` or ``float32``.
        onnx_precision: ``fp32`` or ``int8`` graphs (onnxruntime backend only).
    """

    def __init__(
        self,
        asr_train_config: str | Path,
        asr_model_file: str | Path,
        lm_train_config: str | Path | None = None,
        lm_file: str | Path | None = None,
        device: str = "cpu",
        beam_size: int = 10,
        nbest: int = 1,
        lm_weight: float = 0.0,
        tail_threshold: float | None = 0.4,
        dtype: str = "auto",
        backend: str = "pytorch",
        onnx_precision: str = "fp32",
    ) -> None:
        config = yaml.safe_load(Path(asr_train_config).read_text(encoding="utf-8"))
        self.device = torch.device(device)
        self.backend = backend
        if backend == "onnxruntime" and normalize_request(dtype, "dtype") == "auto":
            dtype = "fp32"  # the exported graphs' own precision
        self.precision = resolve_precision(dtype, self.device, what="dtype")
        self.precision.log(logger)
        if backend == "pytorch":
            config, _, model = build_inference_model(config, asr_model_file)
            model.to(self.device).eval()
            if tail_threshold is not None:
                model.predictor.tail_threshold = tail_threshold
            self.subsampling = int(model.encoder.subsampling_factor)
        elif backend == "onnxruntime":
            from cifasr.inference.onnx_model import OnnxCifModel  # onnxruntime: optional

            if self.precision.name != "fp32" or self.device.type != "cpu":
                raise ValueError(
                    f"the onnxruntime backend runs float32 (or int8) graphs on the CPU; got "
                    f"dtype={dtype}, device={device}"
                )
            model = OnnxCifModel(asr_model_file, onnx_precision)
            if tail_threshold is not None:
                model.tail_threshold = tail_threshold
            self.subsampling = model.subsampling_factor
        else:
            raise ValueError(f"backend must be pytorch or onnxruntime, got '{backend}'")
        self.model = model
        self.config = config
        bpemodel = config.get("bpemodel")
        beside = Path(asr_train_config).parent / str(bpemodel)
        if bpemodel and not Path(bpemodel).is_absolute() and beside.is_file():
            bpemodel = str(beside)  # a packed or exported model keeps it next to its config
        self.tokenizer = Tokenizer(config["token_list"], config["token_type"], bpemodel)
        self.fbank = FbankConfig.from_dict(config["frontend_conf"], source=str(asr_train_config))
        self.lm = None
        if lm_train_config is not None or lm_file is not None:
            if lm_train_config is None or lm_file is None:
                raise ValueError("give both lm_train_config and lm_file, or neither")
            self.lm = load_lm(lm_train_config, lm_file, len(self.tokenizer.tokens), self.device)
        elif lm_weight != 0.0:
            raise ValueError(
                f"lm_weight={lm_weight} but no LM was given (lm_train_config, lm_file)"
            )
        self.beam_size = beam_size
        self.nbest = nbest
        self.lm_weight = lm_weight

    # ------------------------------------------------------------------ inputs
    def features(
        self, speech: np.ndarray | torch.Tensor, sample_rate: int | None = None
    ) -> np.ndarray:
        """Fbank (frames, D) of a mono waveform in [-1, 1] with the training settings."""
        if isinstance(speech, torch.Tensor):
            speech = speech.detach().cpu().numpy()
        return self.fbank.compute(np.asarray(speech, dtype=np.float32), sample_rate)

    def __call__(
        self, speech: np.ndarray | torch.Tensor, sample_rate: int | None = None
    ) -> list[Result]:
        """The n-best list for one waveform ((samples,) float in [-1, 1] at the model's rate)."""
        return self.recognize_features([self.features(speech, sample_rate)])[0]

    @torch.no_grad()
    def recognize_features(self, feats: Sequence[np.ndarray | torch.Tensor]) -> list[list[Result]]:
        """N-best lists for a batch of feature matrices ((frames, D) each), decoded together.

        Results do not depend on how utterances are batched.
        """
        lengths = torch.tensor([len(f) for f in feats], dtype=torch.long)
        dim = int(self.config["input_size"])
        batch = torch.zeros(len(feats), int(lengths.max()) if len(feats) else 0, dim)
        for i, f in enumerate(feats):
            # a copy: the array may be read-only (kaldiio memory maps, onnxruntime outputs)
            f = torch.tensor(np.asarray(f), dtype=torch.float32)
            if f.ndim != 2 or f.shape[1] != dim:
                raise ValueError(
                    f"utterance {i}: features must be (frames, {dim}), got {tuple(f.shape)}"
                )
            batch[i, : len(f)] = f
        batch, lengths = batch.to(self.device), lengths.to(self.device)
        with self.precision.autocast(self.device.type):
            hyps, out = recognize(
                self.model,
                batch,
                lengths,
                beam_size=self.beam_size,
                nbest=self.nbest,
                lm=self.lm,
                lm_weight=self.lm_weight,
            )
        fire_frames = out.fire_frames.tolist()
        shift = self.fbank.frame_shift_ms / 1000.0
        window = self.fbank.frame_length_ms / 1000.0
        results = []
        for b, nbest in enumerate(hyps):
            rows = []
            for h in nbest:
                tokens = [self.tokenizer.tokens[i] for i in h.token_ids]
                times = token_timestamps(
                    h.fire_index, fire_frames[b], int(lengths[b]), self.subsampling, shift, window
                )
                text = self.tokenizer.tokenizer.tokens2text(tokens)
                rows.append(Result(text, tokens, list(h.token_ids), times, float(h.score)))
            results.append(rows)
        return results

    # ------------------------------------------------------------------ packed models
    @classmethod
    def from_pretrained(cls, path: str | Path, **decode_options: Any) -> Speech2Text:
        """Load a model packed by ``python -m cifasr.bin.pack`` (a zip or an unpacked directory).

        A zip is extracted next to itself (``<name>/``) once. ``decode_options`` are the
        constructor's keyword arguments (beam_size, lm_weight, ...).
        """
        files = packed_model_files(path)
        return cls(
            files["asr_train_config"],
            files["asr_model_file"],
            lm_train_config=files.get("lm_train_config"),
            lm_file=files.get("lm_file"),
            **decode_options,
        )

    @classmethod
    def from_onnx(
        cls, onnx_dir: str | Path, precision: str = "fp32", **decode_options: Any
    ) -> Speech2Text:
        """Decode with onnxruntime and the graphs of ``python -m cifasr.bin.export_onnx``.

        Args:
            onnx_dir: the export directory.
            precision: ``fp32`` or ``int8``.
            decode_options: the constructor's keyword arguments (beam_size, lm_weight, ...); an
                LM exported with the model is used unless ``lm_train_config``/``lm_file`` say
                otherwise.
        """
        from cifasr.inference.onnx_model import read_onnx_meta  # onnxruntime: optional

        root = Path(onnx_dir)
        files = {k: root / v for k, v in read_onnx_meta(root)["files"].items()}
        if decode_options.get("lm_train_config") is None and decode_options.get("lm_file") is None:
            decode_options["lm_train_config"] = files.get("lm_train_config")
            decode_options["lm_file"] = files.get("lm_file")
        return cls(
            files["asr_train_config"],
            root,
            backend="onnxruntime",
            onnx_precision=precision,
            **decode_options,
        )


def packed_model_files(path: str | Path) -> dict[str, Path]:
    """The files of a model packed by ``python -m cifasr.bin.pack``, by role.

    A zip is extracted next to itself (``<name>/``), again whenever the zip is newer than the
    extracted copy (a re-packed model); a directory is read as it is.

    Returns:
        ``{"asr_train_config": ..., "asr_model_file": ..., ["lm_train_config", "lm_file"]}``.

    Raises:
        ValueError: a file that is not a zip.
        FileNotFoundError: no ``meta.yaml``, or the config or the weights it lists are missing.
    """
    root = Path(path)
    if root.is_file():
        if not zipfile.is_zipfile(root):
            raise ValueError(f"{root}: not a zip made by cifasr.bin.pack")
        target = root.with_suffix("")
        extracted = target / PACK_META
        if not extracted.is_file() or extracted.stat().st_mtime < root.stat().st_mtime:
            with zipfile.ZipFile(root) as z:
                z.extractall(target)
        root = target
    meta_path = root / PACK_META
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path}: missing; {path} is not a packed cifasr model")
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    listed = meta.get("files") or {}
    for role, what in (("asr_train_config", "config"), ("asr_model_file", "model weights")):
        if role not in listed:
            raise FileNotFoundError(f"{path}: {PACK_META} lists no {what} ({role})")
        if not (root / listed[role]).is_file():
            raise FileNotFoundError(
                f"{path}: the {what} '{listed[role]}' ({role} in {PACK_META}) is missing; "
                "pack the model again with python -m cifasr.bin.pack"
            )
    return {k: root / v for k, v in listed.items()}


def load_lm(
    lm_train_config: str | Path, lm_file: str | Path, vocab_size: int, device: torch.device
) -> torch.nn.Module:
    """The LM network (eval mode) of an lm_train experiment, checked against the ASR vocabulary."""
    config = yaml.safe_load(Path(lm_train_config).read_text(encoding="utf-8"))
    wrapper = build_lm(config)
    if wrapper.vocab_size != vocab_size:
        raise ValueError(
            f"{lm_train_config}: the LM has {wrapper.vocab_size} tokens, the ASR model "
            f"{vocab_size}; train the LM on the ASR token list"
        )
    wrapper.load_state_dict(model_state(load_checkpoint(lm_file)))
    return wrapper.lm.to(device).eval()
