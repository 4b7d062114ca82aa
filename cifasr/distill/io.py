"""Teacher features on disk: Kaldi ark/scp via kaldiio, one (N + 1, D) matrix per utterance.

Storage formats (both read back by ``kaldiio.load_scp`` with their dtype):

* ``float16`` (default): kaldiio's numpy-in-ark entries (``NPY`` + an ``np.save`` payload, about
  130 bytes of header per utterance). Kaldi's own binaries cannot read them; cifasr's data loader
  can, and half the disk of float32 is what makes dumping the whole corpus practical.
* ``float32``: native Kaldi ``FM`` matrices, readable by Kaldi tools as well.

Next to ``feats.scp`` the writer puts ``feats_shape`` (``utt rows,dim``, ESPnet's shape-file
format) so that a check of the whole set needs no matrix reads. Both files are sorted by
utterance id (byte order, as ``LC_ALL=C sort``) whatever order the matrices were computed in.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import kaldiio
import numpy as np

logger = logging.getLogger(__name__)

DTYPES = {"float16": np.float16, "float32": np.float32}


class TeacherFeatureError(ValueError):
    """Teacher features are missing or do not fit the targets or the config; the message names
    the utterance and the file."""


class TeacherFeatureWriter:
    """Write teacher matrices to ``<output_dir>/feats.ark`` + ``feats.scp`` + ``feats_shape``.

    Args:
        output_dir: created if missing; existing files of a previous run are overwritten.
        dtype: ``float16`` or ``float32`` (see the module docstring).

    Use as a context manager; the sorted ``feats.scp`` and ``feats_shape`` appear on exit.
    """

    def __init__(self, output_dir: str | Path, dtype: str = "float16") -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype '{dtype}': choose one of {', '.join(DTYPES)}")
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.dtype = DTYPES[dtype]
        self.ark = self.output_dir / "feats.ark"
        self.scp = self.output_dir / "feats.scp"
        self.shape_file = self.output_dir / "feats_shape"
        self._unsorted = self.output_dir / "feats.scp.unsorted"
        self._shapes: dict[str, tuple[int, int]] = {}
        self._helper = kaldiio.WriteHelper(
            f"ark,scp:{self.ark},{self._unsorted}",
            write_function="numpy" if self.dtype == np.float16 else None,
        )

    def write(self, utt_id: str, matrix: np.ndarray) -> None:
        """Append one (rows, D) matrix; it is cast to the writer's dtype.

        Raises:
            TeacherFeatureError: ``utt_id`` was already written, or the matrix is not 2-D.
        """
        if utt_id in self._shapes:
            raise TeacherFeatureError(f"{self.scp}: utterance '{utt_id}' written twice")
        if matrix.ndim != 2:
            raise TeacherFeatureError(
                f"{self.scp}: utterance '{utt_id}': expected a (rows, dim) matrix, got shape "
                f"{matrix.shape}"
            )
        self._helper(utt_id, np.ascontiguousarray(matrix, dtype=self.dtype))
        self._shapes[utt_id] = (int(matrix.shape[0]), int(matrix.shape[1]))

    def close(self) -> None:
        """Finish the ark and write the sorted ``feats.scp`` and ``feats_shape``."""
        self._helper.close()
        lines = self._unsorted.read_text(encoding="utf-8").splitlines()
        lines.sort(key=lambda line: line.split(" ", 1)[0].encode("utf-8"))
        self.scp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.remove(self._unsorted)
        keys = sorted(self._shapes, key=lambda k: k.encode("utf-8"))
        self.shape_file.write_text(
            "".join(f"{k} {self._shapes[k][0]},{self._shapes[k][1]}\n" for k in keys),
            encoding="utf-8",
        )

    def __enter__(self) -> TeacherFeatureWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_teacher_shapes(scp: str | Path) -> dict[str, tuple[int, int]]:
    """(rows, dim) of every matrix of a teacher ``feats.scp``.

    Uses the ``feats_shape`` file beside it when present, otherwise reads every matrix.
    """
    scp = Path(scp)
    shape_file = scp.parent / "feats_shape"
    if shape_file.exists():
        shapes = {}
        for lineno, line in enumerate(shape_file.read_text(encoding="utf-8").splitlines(), 1):
            try:
                key, dims = line.split()
                rows, dim = (int(x) for x in dims.split(","))
            except ValueError as e:
                raise TeacherFeatureError(
                    f"{shape_file}, line {lineno}: expected 'utt rows,dim', got {line!r}"
                ) from e
            shapes[key] = (rows, dim)
        return shapes
    return {k: tuple(v.shape) for k, v in kaldiio.load_scp(str(scp)).items()}


def check_teacher_scp(
    scp: str | Path,
    expected_rows: Mapping[str, int],
    dim: int | None = None,
    drop_mismatched: bool = False,
) -> tuple[list[str], dict[str, int]]:
    """Check that a teacher ``feats.scp`` has a fitting matrix for every utterance.

    Args:
        scp: the teacher ``feats.scp`` (stage 8 output).
        expected_rows: utterance id -> N + 1 (ASR tokens plus ``<sos/eos>``).
        dim: the teacher dimension the config expects (``teacher_dim``), or None to skip.
        drop_mismatched: drop (and count) utterances without a matrix or with a wrong number
            of rows instead of raising.

    Returns:
        ``(kept utterance ids in the order of expected_rows, counts)`` where counts has
        ``missing`` and ``wrong_rows``.

    Raises:
        TeacherFeatureError: a missing or mismatched utterance (unless dropped), or a matrix of
            another dimension (always: that is a config error, not a data error).
    """
    shapes = read_teacher_shapes(scp)
    kept: list[str] = []
    counts = {"missing": 0, "wrong_rows": 0}
    for utt, rows in expected_rows.items():
        shape = shapes.get(utt)
        if shape is None:
            if not drop_mismatched:
                raise TeacherFeatureError(
                    f"{scp}: no teacher features for utterance '{utt}'. Run stage 8 (plm_dump) "
                    "for this data set, or drop such utterances."
                )
            counts["missing"] += 1
            continue
        if dim is not None and shape[1] != dim:
            raise TeacherFeatureError(
                f"{scp}: utterance '{utt}' has {shape[1]}-dim teacher features but the config "
                f"says teacher_dim {dim}; set teacher_dim to the PLM's hidden size or re-dump "
                "with the intended PLM."
            )
        if shape[0] != rows:
            if not drop_mismatched:
                raise TeacherFeatureError(
                    f"{scp}: utterance '{utt}' has {shape[0]} teacher rows but its target has "
                    f"{rows} positions (tokens + <sos/eos>); the features were dumped with "
                    "another token type or text. Re-run stage 8 with the same --token_type "
                    "(and --bpemodel)."
                )
            counts["wrong_rows"] += 1
            continue
        kept.append(utt)
    if counts["missing"] or counts["wrong_rows"]:
        logger.warning(
            "%s: dropped %d utterances without teacher features and %d with a wrong number of "
            "rows; %d of %d kept",
            scp,
            counts["missing"],
            counts["wrong_rows"],
            len(kept),
            len(expected_rows),
        )
    return kept, counts
