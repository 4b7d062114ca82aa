"""Teacher features from a pre-trained language model, aligned to the ASR targets.

:class:`PLMFeatureExtractor` is the single place where teacher rows are computed: the offline
dump (``python -m cifasr.bin.plm_dump``) and the online teacher
(:class:`cifasr.distill.teacher.OnlinePLMTeacher`) both call it, so they give the same rows.

What the PLM reads and how its tokens map to the ASR tokens (docs/distillation.md §3):

* ``token_type="char"`` with ``alignment="positional"`` (the default for char): the transcript
  with all whitespace removed (the original's ``--lang cn``); the j-th PLM content token is the
  teacher of the j-th character; [CLS] dropped, [SEP] -> ``<sos/eos>``.
* ``alignment="offsets"`` (the default for ``bpe`` and ``word``; allowed for ``char``): the
  transcript as written; each ASR token averages the PLM sub-tokens overlapping its characters,
  through the fast tokenizer's offset mapping.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cifasr.distill.alignment import (
    Alignment,
    Span,
    char_spans,
    offset_alignment,
    piece_spans,
    positional_alignment,
    word_spans,
)

logger = logging.getLogger(__name__)

TOKEN_TYPES = ("char", "bpe", "word")
ALIGNMENTS = ("auto", "positional", "offsets")
# the autocast argument: None/"fp32" (float32) or a half type, by its dtype or precision name
AUTOCAST_DTYPES = {
    None: None,
    "fp32": None,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


class PLMError(ValueError):
    """The PLM, its tokenizer or the options cannot give aligned teacher features; the message
    says which and what to do."""


def load_plm(name_or_path: str | Path, device: str | torch.device = "cpu"):
    """Load a Hugging Face encoder and its tokenizer, frozen, in eval mode.

    Args:
        name_or_path: a hub name (``bert-base-chinese``, needs the network or the local hub
            cache) or a directory written by ``save_pretrained``.
        device: where the model runs.

    Returns:
        ``(model, tokenizer)``; every parameter has ``requires_grad=False``.

    Raises:
        PLMError: the model or tokenizer cannot be loaded (the message names ``name_or_path``).
    """
    import transformers

    verbosity = transformers.logging.get_verbosity()
    # A masked-LM checkpoint loaded as an encoder reports its unused head and fresh pooler at
    # warning level; neither is used here, so the report would only alarm the user.
    transformers.logging.set_verbosity_error()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(name_or_path), use_fast=True)
        model = transformers.AutoModel.from_pretrained(str(name_or_path))
    except (OSError, ValueError) as e:
        raise PLMError(
            f"cannot load the PLM '{name_or_path}': {e}. Give a local directory written by "
            "save_pretrained (model and tokenizer) or a hub name available offline."
        ) from e
    finally:
        transformers.logging.set_verbosity(verbosity)
    model.eval().requires_grad_(False).to(device)
    return model, tokenizer


@dataclass(frozen=True)
class TeacherBatch:
    """Aligned teacher features for a list of texts.

    Attributes:
        features: (B, L_max, D) float32, zero-padded; row i of utterance b is the teacher of
            target position i (ASR tokens, then ``<sos/eos>``).
        lengths: (B,) int64, N_b + 1.
        problems: per utterance, why its alignment is imperfect, or None.
    """

    features: torch.Tensor
    lengths: torch.Tensor
    problems: list[str | None]


# A probe of common characters that a word-piece tokenizer would merge into multi-character pieces.
_HANZI_PROBE = "我们今天的经济发展中国人民"


def _one_token_per_hanzi(tokenizer) -> bool:
    """Whether the tokenizer splits Chinese text into exactly one token per character."""
    ids = tokenizer(_HANZI_PROBE, add_special_tokens=False)["input_ids"]
    return len(ids) == len(_HANZI_PROBE)


class PLMFeatureExtractor:
    """Compute aligned teacher features with a frozen PLM.

    Args:
        model: a Hugging Face encoder (``AutoModel``) in eval mode.
        tokenizer: its tokenizer; a fast tokenizer is required for ``alignment="offsets"``.
        layer: which hidden state: -1 = ``last_hidden_state`` (the original: BERT layer 12);
            k >= 0 = ``hidden_states[k]`` (0 = embeddings, k = output of layer k); other negative
            values index ``hidden_states`` from the end.
        token_type: ``char``, ``bpe`` or ``word`` - how the ASR targets were tokenised.
        alignment: ``auto``: positional for char targets when the PLM's tokenizer gives one
            token per Chinese character (BERT-Chinese, the original), offsets otherwise (e.g.
            XLM-R/SentencePiece pieces that span several characters); ``positional`` or
            ``offsets``.
        bpemodel: the sentencepiece model of the ASR token list (``token_type="bpe"`` only).
        max_length: PLM input limit in tokens (default: the smaller of the model's
            ``max_position_embeddings`` and the tokenizer's ``model_max_length``); longer texts
            are truncated and reported imperfect.
        name: shown in messages (the ``--plm`` value).
        autocast: None or ``fp32`` (float32, the original), or ``bfloat16``/``bf16`` or
            ``float16``/``fp16`` (dtype or :class:`~cifasr.utils.precision.Precision` names):
            run the PLM under autocast - several times faster on GPUs and on CPUs with
            AMX/AVX512-bf16, at the cost of rows that differ from the float32 ones by about 1%
            (bfloat16).

    Raises:
        PLMError: unknown options, a missing bpemodel, or a tokenizer without offsets where
            offsets are needed.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        layer: int = -1,
        token_type: str = "char",
        alignment: str = "auto",
        bpemodel: str | Path | None = None,
        max_length: int | None = None,
        name: str = "the PLM",
        autocast: str | None = None,
    ) -> None:
        if autocast not in AUTOCAST_DTYPES:
            raise PLMError(
                f"autocast '{autocast}': choose None, {', '.join(k for k in AUTOCAST_DTYPES if k)}"
            )
        if token_type not in TOKEN_TYPES:
            raise PLMError(f"token_type '{token_type}': choose one of {', '.join(TOKEN_TYPES)}")
        if alignment not in ALIGNMENTS:
            raise PLMError(f"alignment '{alignment}': choose one of {', '.join(ALIGNMENTS)}")
        if alignment == "auto":
            per_char = token_type == "char" and _one_token_per_hanzi(tokenizer)
            alignment = "positional" if per_char else "offsets"
        if alignment == "positional" and token_type != "char":
            raise PLMError(
                f"positional alignment needs one ASR token per character; token_type "
                f"'{token_type}' needs alignment 'offsets'"
            )
        if alignment == "offsets" and not getattr(tokenizer, "is_fast", False):
            raise PLMError(
                f"{name}: its tokenizer ({type(tokenizer).__name__}) is not a fast tokenizer, so "
                "it has no offset mapping for aligning PLM tokens to ASR tokens. Use a PLM with a "
                "tokenizer.json (a fast tokenizer), or char tokens with positional alignment."
            )
        self.sp = None
        if token_type == "bpe":
            if bpemodel is None:
                raise PLMError("token_type 'bpe' needs the sentencepiece model (--bpemodel)")
            import sentencepiece as spm

            if not Path(bpemodel).is_file():
                raise PLMError(f"{bpemodel}: no such sentencepiece model (--bpemodel)")
            self.sp = spm.SentencePieceProcessor(model_file=str(bpemodel))
        num_layers = getattr(model.config, "num_hidden_layers", None)
        if num_layers is not None and not -(num_layers + 1) <= layer <= num_layers:
            raise PLMError(
                f"{name} has {num_layers} layers: layer must be in "
                f"[{-(num_layers + 1)}, {num_layers}] (-1 = last), got {layer}"
            )
        end_ids = {tokenizer.sep_token_id, tokenizer.eos_token_id} - {None}
        if not end_ids:
            raise PLMError(f"{name}: its tokenizer has neither a sep nor an eos token")
        self.model = model
        self.tokenizer = tokenizer
        self.layer = layer
        self.token_type = token_type
        self.alignment = alignment
        self.end_ids = sorted(end_ids)
        # Pieces with no text of their own (SentencePiece's bare word-boundary "▁", a byte-level
        # "Ġ"): fast tokenizers give them the span of the next character, so offset alignment
        # would average them into it (the first character of most XLM-R-tokenized sentences).
        self.textless_ids = np.array(
            sorted(
                i
                for piece, i in tokenizer.get_vocab().items()
                if piece and not piece.replace("▁", "").replace("Ġ", "").strip()
            ),
            dtype=np.int64,
        )
        # RoBERTa-style models reserve positions, so the tokenizer's limit can be the lower one.
        limits = [
            getattr(model.config, "max_position_embeddings", None),
            getattr(tokenizer, "model_max_length", None),
        ]
        self.max_length = max_length or min((x for x in limits if x), default=None)
        self.name = name
        self.autocast = AUTOCAST_DTYPES[autocast]

    @property
    def dim(self) -> int:
        """D, the teacher dimension (the PLM's hidden size)."""
        return int(self.model.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def plm_text(self, text: str) -> str:
        """What the PLM reads for the transcript ``text``."""
        if self.alignment == "positional":
            return "".join(text.split())
        return text

    def token_spans(self, text: str) -> list[Span]:
        """Character spans (in :meth:`plm_text`) of the ASR tokens of ``text``."""
        if self.token_type == "char":
            return char_spans(text)
        if self.token_type == "word":
            return word_spans(text)
        pieces = self.sp.encode(text, out_type=str)
        normalized, offsets = self.sp.normalize(text, with_offsets=True)
        return piece_spans(pieces, normalized, offsets)

    def num_tokens(self, text: str) -> int:
        """N, the number of ASR tokens of ``text`` (the teacher matrix has N + 1 rows)."""
        if self.token_type == "bpe":
            return len(self.sp.encode(text, out_type=str))
        return len(self.token_spans(text))

    @torch.no_grad()
    def __call__(self, texts: Sequence[str]) -> TeacherBatch:
        """Teacher features for a batch of transcripts (one PLM forward pass).

        Args:
            texts: B transcripts as in the Kaldi ``text`` file (without the utterance id).

        Returns:
            A :class:`TeacherBatch` on the model's device. (Computed under ``no_grad`` rather than
            ``inference_mode`` so that the online teacher's tensors can enter a loss whose
            backward saves them.)
        """
        plm_texts = [self.plm_text(t) for t in texts]
        offsets = self.alignment == "offsets"
        enc = self.tokenizer(
            plm_texts,
            padding=True,
            truncation=self.max_length is not None,
            max_length=self.max_length,
            return_special_tokens_mask=True,
            return_offsets_mapping=offsets,
            return_tensors="np",
        )
        attn = enc["attention_mask"].astype(bool)
        special = enc["special_tokens_mask"].astype(bool) | ~attn
        alignments: list[Alignment] = []
        for b, text in enumerate(texts):
            valid = np.flatnonzero(attn[b])
            ids = enc["input_ids"][b, valid]
            if offsets:
                spans = enc["offset_mapping"][b, valid]
                spans = np.where(np.isin(ids, self.textless_ids)[:, None], 0, spans)
                a = offset_alignment(
                    self.token_spans(text),
                    spans,
                    special[b, valid],
                    ids,
                    self.end_ids,
                )
            else:
                n = self.num_tokens(text)
                a = positional_alignment(n, special[b, valid], ids, self.end_ids)
            full = np.zeros((a.num_rows, attn.shape[1]), dtype=np.float32)
            full[:, valid] = a.weights
            alignments.append(Alignment(full, a.problem))

        hidden = self._hidden(enc)  # (B, P, D)
        lengths = [a.num_rows for a in alignments]
        weights = np.zeros((len(texts), max(lengths, default=0), attn.shape[1]), dtype=np.float32)
        for b, a in enumerate(alignments):
            weights[b, : a.num_rows] = a.weights
        # One batched product: exact copies for one-hot rows, means for offset rows.
        feats = torch.bmm(torch.from_numpy(weights).to(hidden.device), hidden.float())
        return TeacherBatch(
            features=feats,
            lengths=torch.tensor(lengths, dtype=torch.long, device=hidden.device),
            problems=[a.problem for a in alignments],
        )

    def _hidden(self, enc) -> torch.Tensor:
        """(B, P, D) hidden states of the chosen layer."""
        names = ("input_ids", "attention_mask", "token_type_ids")
        inputs = {k: torch.from_numpy(enc[k]).to(self.device) for k in names if k in enc}
        with torch.autocast(
            self.device.type, dtype=self.autocast, enabled=self.autocast is not None
        ):
            out = self.model(**inputs, output_hidden_states=self.layer != -1, return_dict=True)
        if self.layer == -1:
            return out.last_hidden_state
        return out.hidden_states[self.layer]
