"""Read matrices that feats.scp entries (``<ark path>:<byte offset>``) point to.

Reads Kaldi binary matrices (what stage 3 writes) and kaldiio's numpy entries (float16 teacher
features). A broken entry (missing ark, offset past the end or into the middle of a
matrix, truncated ark) raises :class:`ArkReadError` naming the scp line and key, rather than a
bare struct/numpy error. :func:`matrix_shape` reads only the header, which lets a dataset get
utterance lengths without reading the features.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import BinaryIO

import kaldiio
import numpy as np

# "<path>:<offset>"; the path itself may contain colons.
_ARK_ENTRY = re.compile(r"^(?P<path>.+):(?P<offset>\d+)$")


class ArkReadError(RuntimeError):
    """A feats.scp entry cannot be read; the message names the scp line, the key and the fix."""


def _split_entry(entry: str, source: str) -> tuple[str, int]:
    match = _ARK_ENTRY.match(entry.strip())
    if match is None:
        raise ArkReadError(f"{source}: '{entry}' is not '<ark path>:<byte offset>'")
    return match["path"], int(match["offset"])


def _fail(source: str, entry: str, why: str) -> ArkReadError:
    return ArkReadError(
        f"{source}: cannot read the matrix at '{entry}': {why}. The ark is truncated or the scp "
        f"offset is wrong; re-run the feature dump (stage 3) for this set"
    )


def _read_header(f: BinaryIO, source: str, entry: str) -> tuple[bytes, int, int]:
    """Type token, rows and cols of the binary Kaldi matrix at the current position of ``f``.

    Layout: "\\0B", a 3-byte type token, then for FM/DM "\\4"<rows int32>"\\4"<cols int32>,
    for compressed CM/CM2/CM3 min and range (float32) then rows and cols (int32).
    """
    head = f.read(5)
    if len(head) < 5 or head[:2] != b"\0B":
        raise _fail(source, entry, "no Kaldi matrix starts at that offset")
    token = head[2:5]
    if token in (b"FM ", b"DM "):
        dims = f.read(10)
        if len(dims) < 10 or dims[0] != 4 or dims[5] != 4:
            raise _fail(source, entry, "truncated matrix header")
        rows, cols = struct.unpack("<i", dims[1:5])[0], struct.unpack("<i", dims[6:10])[0]
    elif token in (b"CM ", b"CM2", b"CM3"):
        header = f.read(16)
        if len(header) < 16:
            raise _fail(source, entry, "truncated matrix header")
        _, _, rows, cols = struct.unpack("<ffii", header)
    else:
        raise _fail(source, entry, f"unknown matrix type {token!r}")
    if rows < 0 or cols < 0:
        raise _fail(source, entry, f"impossible shape ({rows}, {cols})")
    return token, rows, cols


def _open(entry: str, source: str) -> BinaryIO:
    path, offset = _split_entry(entry, source)
    if not Path(path).is_file():
        relative = f" (relative to {Path.cwd()}; run from the recipe directory)"
        where = "" if Path(path).is_absolute() else relative
        raise ArkReadError(f"{source}: ark file {path} of '{entry}' does not exist{where}")
    f = open(path, "rb")  # closed by the callers' with-blocks
    f.seek(offset)
    return f


def _is_npy(f: BinaryIO) -> bool:
    """Whether a kaldiio numpy entry (``NPY`` + np.save payload; float16 teacher features are
    stored so) starts at the current position; the position is left unchanged."""
    head = f.read(3)
    f.seek(-len(head), 1)
    return head == b"NPY"


def _load_with_kaldiio(entry: str, source: str) -> np.ndarray:
    try:
        mat = np.asarray(kaldiio.load_mat(entry))
    except Exception as e:  # kaldiio raises struct/Value/EOF errors on broken data
        raise _fail(source, entry, f"{type(e).__name__}: {e}") from e
    if mat.ndim != 2:
        raise _fail(source, entry, f"expected a matrix, found shape {mat.shape}")
    return mat


def matrix_shape(entry: str, source: str = "feats.scp") -> tuple[int, int]:
    """(rows, cols) of the matrix at ``entry``; reads only the header of a Kaldi binary matrix.

    Raises:
        ArkReadError: missing ark, offset past its end, or no matrix at the offset.
    """
    with _open(entry, source) as f:
        if _is_npy(f):
            rows, cols = _load_with_kaldiio(entry, source).shape
            return rows, cols
        _, rows, cols = _read_header(f, source, entry)
    return rows, cols


def read_matrix(entry: str, source: str = "feats.scp") -> np.ndarray:
    """The matrix at ``entry`` (``<ark path>:<offset>``) as float32.

    Reads Kaldi binary float/double matrices directly, compressed ones and kaldiio's numpy
    entries through kaldiio.

    Args:
        entry: the scp value.
        source: where the entry came from, for messages (``"feats.scp: line 3: utterance 'X'"``).

    Returns:
        (rows, cols) float32.

    Raises:
        ArkReadError: see the module docstring.
    """
    with _open(entry, source) as f:
        if _is_npy(f):
            return _load_with_kaldiio(entry, source).astype(np.float32)
        token, rows, cols = _read_header(f, source, entry)
        if token in (b"FM ", b"DM "):
            dtype = np.dtype("<f4") if token == b"FM " else np.dtype("<f8")
            data = f.read(rows * cols * dtype.itemsize)
            if len(data) != rows * cols * dtype.itemsize:
                raise _fail(source, entry, f"the ark ends inside the ({rows}, {cols}) matrix")
            return np.frombuffer(data, dtype=dtype).reshape(rows, cols).astype(np.float32)
    mat = _load_with_kaldiio(entry, source)
    if mat.shape != (rows, cols):
        raise _fail(source, entry, f"read shape {mat.shape}, header says ({rows}, {cols})")
    return mat.astype(np.float32, copy=False)
