"""Stage 8: dump aligned PLM teacher features of a Kaldi ``text`` file to ark/scp."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cifasr.data.tokenizer import TokenListError, load_token_list
from cifasr.distill.io import TeacherFeatureWriter
from cifasr.distill.plm import PLMFeatureExtractor

logger = logging.getLogger(__name__)


def check_token_list(
    token_list: str | Path, extractor: PLMFeatureExtractor, texts: Mapping[str, str]
) -> int:
    """Check that the ASR token list fits ``extractor.token_type`` and count unknown tokens.

    A char token list whose entries are longer than one character means the targets are not
    characters and positional alignment would silently shift every row: that is an error.

    Returns:
        How many ASR tokens of ``texts`` are not in the list (training maps them to ``<unk>``;
        their teacher rows are still the PLM vectors of the actual text).

    Raises:
        FileNotFoundError: the file is missing.
        TokenListError: the list is malformed (:func:`cifasr.data.tokenizer.load_token_list`), or
            a char list has a multi-character token (naming the file and line).
    """
    path = Path(token_list)
    tokens = load_token_list(path)
    vocab = set(tokens)
    if extractor.token_type == "char":
        for lineno, tok in enumerate(tokens, 1):
            if len(tok) > 1 and not (tok.startswith("<") and tok.endswith(">")):
                raise TokenListError(
                    f"{path}: line {lineno}: token {tok!r} is not one character, but "
                    "--token_type is char; pass the token type the list was made with "
                    "(bpe needs --bpemodel)"
                )
    unknown = 0
    for text in texts.values():
        if extractor.token_type == "char":
            units = [ch for ch in text if not ch.isspace()]
        elif extractor.token_type == "word":
            units = text.split()
        else:
            units = extractor.sp.encode(text, out_type=str)
        unknown += sum(u not in vocab for u in units)
    if unknown:
        logger.warning(
            "%d ASR tokens of the text are not in %s (they are <unk> in training)", unknown, path
        )
    return unknown


@dataclass
class DumpReport:
    """What a dump did. ``imperfect`` lists (utt, reason) for every imperfect alignment."""

    num_in: int = 0
    num_written: int = 0
    num_empty: int = 0
    imperfect: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def dump_teacher_features(
    extractor: PLMFeatureExtractor,
    texts: Mapping[str, str],
    output_dir: str | Path,
    batch_size: int = 256,
    dtype: str = "float16",
) -> DumpReport:
    """Compute and write the teacher matrix of every utterance.

    Texts are batched in order of length so that padding costs little; the scp is written in
    utterance order regardless. ``output_dir`` gets ``feats.ark``, ``feats.scp``, ``feats_shape``
    and ``imperfect_alignments`` (``utt<TAB>reason`` per imperfectly aligned utterance; empty
    when all aligned).

    Args:
        extractor: computes the aligned rows.
        texts: utterance id -> transcript.
        output_dir: the set's dump directory (``dump/plm/<name>/<set>``).
        batch_size: texts per PLM forward pass (the original's 256: the texts are sorted, so
            large batches cost little padding, and they keep CPU matrix products efficient).
        dtype: ``float16`` or ``float32`` on disk.

    Returns:
        The :class:`DumpReport`; it is also logged.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    start = time.perf_counter()
    report = DumpReport(num_in=len(texts))
    order = sorted(texts, key=lambda u: (len(extractor.plm_text(texts[u])), u))
    torch_dtype = torch.float16 if dtype == "float16" else torch.float32
    output_dir = Path(output_dir)
    with TeacherFeatureWriter(output_dir, dtype=dtype) as writer:
        for i in range(0, len(order), batch_size):
            utts = order[i : i + batch_size]
            batch = extractor([texts[u] for u in utts])
            # Cast on the device: a GPU then sends half the bytes to the host.
            feats = batch.features.to(torch_dtype).cpu().numpy()
            for b, utt in enumerate(utts):
                writer.write(utt, feats[b, : int(batch.lengths[b])])
                report.num_written += 1
                report.num_empty += not texts[utt]
                if batch.problems[b] is not None:
                    report.imperfect.append((utt, batch.problems[b]))
    report.imperfect.sort()
    (output_dir / "imperfect_alignments").write_text(
        "".join(f"{u}\t{r}\n" for u, r in report.imperfect), encoding="utf-8"
    )
    report.seconds = time.perf_counter() - start
    logger.info(
        "%s: %d utterances in, %d written (%d with an empty transcript: only the end-token row) "
        "in %.1f s",
        output_dir,
        report.num_in,
        report.num_written,
        report.num_empty,
        report.seconds,
    )
    if report.imperfect:
        examples = "; ".join(f"{u}: {r}" for u, r in report.imperfect[:3])
        logger.warning(
            "%d of %d utterances aligned imperfectly (rows without a PLM vector are zero); "
            "all listed in %s. E.g. %s",
            len(report.imperfect),
            report.num_in,
            output_dir / "imperfect_alignments",
            examples,
        )
    return report
