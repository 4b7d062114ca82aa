"""A dataset over Kaldi feats.scp + text (+ extra feature scps such as teacher features).

Transcripts are tokenised once, at construction, so unknown tokens are counted in one place
and logged, and a worker process only reads matrices. Every feats.scp utterance must have a
transcript and every extra feature; a missing one is an error naming the file and the key
(keys the other files have beyond feats.scp are counted and logged, not an error: teacher
features are often dumped for a superset).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from cifasr.data.ark import matrix_shape, read_matrix
from cifasr.data.kaldi_files import Entry, read_kaldi_entries, read_kaldi_map, read_text
from cifasr.data.tokenizer import Tokenizer

logger = logging.getLogger(__name__)

# Keys of an item (and of a batch) that are not extra features.
BASE_KEYS = ("utt_id", "speech", "text")


class DatasetError(ValueError):
    """The files of a dataset disagree; the message names the file and the keys."""


def _align(keys: list[str], table: Mapping[str, Any], name: str, path: str | Path) -> None:
    missing = [k for k in keys if k not in table]
    if missing:
        shown = ", ".join(f"'{k}'" for k in missing[:5])
        raise DatasetError(
            f"{path}: {len(missing)} utterance(s) of feats.scp missing from this {name} file "
            f"(e.g. {shown}); run utils/fix_data_dir.sh on the data directory, or dump the "
            f"{name} features for every utterance"
        )
    unused = len(table) - len(keys)
    if unused > 0:
        logger.info("dataset: %s has %d utterance(s) not in feats.scp, unused", path, unused)


class AsrDataset(Dataset):
    """Utterances of a feats.scp, in its order.

    An item is ``{"utt_id": str, "speech": (T, D) float32, "text": (L,) int64}`` plus one
    ``(T2, D2)`` float32 array per extra scp (under its name). ``text`` is absent without a
    text file. Text ids do not include ``<sos/eos>``.

    Args:
        feats_scp: ``<utt> <ark>:<offset>`` lines.
        text_file: Kaldi ``text`` (None for inference).
        tokenizer: maps transcripts to ids (required with ``text_file``).
        extra_scps: name -> scp of further per-utterance matrices (e.g. ``{"plm": ...}``).
        lengths_file: utt2num_frames; by default the one next to ``feats_scp``, else the
            lengths are read from the ark headers.
        feat_dim: expected feature dimension, checked on every read (None: not checked).

    Attributes:
        keys: utterance ids in feats.scp order.
        lengths: (N,) int64 frames per utterance (what the batch samplers bound).
        unk_counts: tokens of this text file that are not in the token list (-> ``<unk>``).
        num_tokens: tokens in this text file.
    """

    def __init__(
        self,
        feats_scp: str | Path,
        text_file: str | Path | None = None,
        tokenizer: Tokenizer | None = None,
        extra_scps: Mapping[str, str | Path] | None = None,
        lengths_file: str | Path | None = None,
        feat_dim: int | None = None,
    ) -> None:
        self.feats_scp = Path(feats_scp)
        entries: list[Entry] = read_kaldi_entries(self.feats_scp)
        if not entries:
            raise DatasetError(f"{self.feats_scp}: no utterances")
        self.keys = [e.key for e in entries]
        self._feats = [e.value for e in entries]
        self._lines = [e.line for e in entries]
        self.feat_dim = feat_dim
        self.lengths = self._read_lengths(lengths_file)

        self.text: list[np.ndarray] | None = None
        self.unk_counts: Counter[str] = Counter()
        self.num_tokens = 0
        self.tokenizer = tokenizer
        if text_file is not None:
            if tokenizer is None:
                raise ValueError("AsrDataset: a text file needs a tokenizer")
            transcripts = read_text(text_file)
            _align(self.keys, transcripts, "text", text_file)
            # The tokenizer may be shared by several datasets: count this file's share.
            unk_before, tokens_before = Counter(tokenizer.unk_counts), tokenizer.num_tokens
            self.text = [
                np.asarray(tokenizer.text2ids(transcripts[k]), dtype=np.int64) for k in self.keys
            ]
            self.unk_counts = tokenizer.unk_counts - unk_before
            self.num_tokens = tokenizer.num_tokens - tokens_before
            empty = sum(1 for t in self.text if t.size == 0)
            if empty:
                logger.warning("dataset: %s: %d empty transcript(s)", text_file, empty)
            summary = tokenizer.unk_summary(counts=self.unk_counts, num_tokens=self.num_tokens)
            level = logging.WARNING if self.unk_counts else logging.INFO
            logger.log(level, "dataset: %s: %s", text_file, summary)

        self.extra: dict[str, list[str]] = {}
        self.extra_sources: dict[str, str] = {}
        for name, scp in (extra_scps or {}).items():
            if name in BASE_KEYS or name.endswith("_lengths"):
                raise ValueError(f"extra scp name '{name}' clashes with a batch key")
            table = read_kaldi_map(scp)
            _align(self.keys, table, name, scp)
            self.extra[name] = [table[k] for k in self.keys]
            self.extra_sources[name] = str(scp)
        logger.info(
            "dataset: %s: %d utterances, %d frames%s",
            self.feats_scp,
            len(self.keys),
            int(self.lengths.sum()),
            "".join(f", +{n}" for n in self.extra),
        )

    def _read_lengths(self, lengths_file: str | Path | None) -> np.ndarray:
        if lengths_file is None:
            candidate = self.feats_scp.parent / "utt2num_frames"
            lengths_file = candidate if candidate.is_file() else None
        if lengths_file is not None:
            table = read_kaldi_map(lengths_file)
            _align(self.keys, table, "utt2num_frames", lengths_file)
            try:
                return np.array([int(table[k]) for k in self.keys], dtype=np.int64)
            except ValueError as e:
                raise DatasetError(f"{lengths_file}: a frame count is not an integer: {e}") from e
        logger.info("dataset: no utt2num_frames next to %s; reading ark headers", self.feats_scp)
        return np.array(
            [matrix_shape(v, self._where(i))[0] for i, v in enumerate(self._feats)], dtype=np.int64
        )

    def _where(self, index: int, scp: str | Path | None = None) -> str:
        return f"{scp or self.feats_scp}: line {self._lines[index]}: utterance '{self.keys[index]}'"

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> dict[str, Any]:
        speech = read_matrix(self._feats[index], self._where(index))
        if self.feat_dim is not None and speech.shape[1] != self.feat_dim:
            raise DatasetError(
                f"{self._where(index)}: features have dimension {speech.shape[1]}, expected "
                f"{self.feat_dim}"
            )
        if speech.shape[0] != self.lengths[index]:
            raise DatasetError(
                f"{self._where(index)}: the ark holds {speech.shape[0]} frames but the lengths "
                f"file says {self.lengths[index]}; feats.scp and utt2num_frames are out of step, "
                f"re-run the feature dump (stage 3)"
            )
        item: dict[str, Any] = {"utt_id": self.keys[index], "speech": speech}
        if self.text is not None:
            item["text"] = self.text[index]
        for name, values in self.extra.items():
            where = f"{self.extra_sources[name]}: utterance '{self.keys[index]}'"
            item[name] = read_matrix(values[index], where)
        return item
