"""AISHELL-1 (openslr resource 33): download, unpack and prepare Kaldi data directories.

Corpus layout under ``corpus_root`` (the directory that holds ``data_aishell/``)::

    data_aishell/transcript/aishell_transcript_v0.8.txt   "<utt> <word> <word> ..." per line
    data_aishell/wav/S0002.tar.gz ...                     as downloaded ("packed"), each holding
                                                          train|dev|test/S0002/<utt>.wav
    data_aishell/wav/{train,dev,test}/S0002/BAC009S0002W0122.wav     once unpacked

:func:`prepare_aishell` writes ``<out_dir>/{train,dev,test}/{wav.scp,text,utt2spk,spk2utt}``
like ESPnet's ``egs2/aishell/asr1/local/data.sh``: keys are the file names, the speaker is the
speaker directory (``S0002``, also characters 6-11 of the id, so sorting by utterance groups
speakers), the text is the transcript with its spaces removed. Utterances without a transcript,
with an empty transcript, or transcripts without audio are dropped and counted. With the full
corpus the result is 120,098 / 14,326 / 7,176 utterances.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cifasr.data.kaldi_files import KaldiFileError, scan_kaldi_file, write_kaldi_map, write_spk2utt

logger = logging.getLogger(__name__)

URL = "https://www.openslr.org/resources/33/data_aishell.tgz"
ARCHIVE = "data_aishell.tgz"
ARCHIVE_BYTES = 15582913665
SPLITS = ("train", "dev", "test")
EXPECTED_UTTERANCES = {"train": 120098, "dev": 14326, "test": 7176}
TRANSCRIPT = Path("data_aishell/transcript/aishell_transcript_v0.8.txt")
WAV_DIR = Path("data_aishell/wav")
_CHUNK = 1 << 20


class AishellError(RuntimeError):
    """The corpus is missing, incomplete or malformed; the message says where and what to do."""


def _extract(archive: Path, dest: Path) -> None:
    """Extract a tar archive, refusing members that would land outside ``dest``."""
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # Python < 3.10.12 / 3.11.4: check paths ourselves
                root = dest.resolve()
                for member in tar.getmembers():
                    target = (dest / member.name).resolve()
                    if root not in target.parents and target != root:
                        raise AishellError(f"{archive}: member {member.name} escapes {dest}")
                tar.extractall(dest)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise AishellError(f"cannot extract {archive} into {dest}: {e}") from e


def download_aishell(
    corpus_root: str | Path,
    url: str = URL,
    expected_bytes: int | None = ARCHIVE_BYTES,
    timeout_s: float = 60.0,
) -> Path:
    """Download ``data_aishell.tgz`` into ``corpus_root`` (resuming a partial download).

    Args:
        corpus_root: download directory (created).
        url: where from.
        expected_bytes: size of the complete archive (None: not checked).
        timeout_s: network timeout per read.

    Returns:
        The archive path.

    Raises:
        AishellError: no network or a wrong size, with what to do instead.
    """
    root = Path(corpus_root)
    root.mkdir(parents=True, exist_ok=True)
    archive = root / ARCHIVE
    if archive.is_file() and (expected_bytes is None or archive.stat().st_size == expected_bytes):
        logger.info("aishell: %s is already complete", archive)
        return archive
    partial = root / (ARCHIVE + ".part")
    have = partial.stat().st_size if partial.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    resume = f" from byte {have}" if have else ""
    logger.info("aishell: downloading %s to %s%s", url, archive, resume)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            # A server that ignores Range answers 200 with the whole file: start over.
            mode = "ab" if have and response.status == 206 else "wb"
            with open(partial, mode) as out:
                shutil.copyfileobj(response, out, _CHUNK)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise AishellError(
            f"could not download {url}: {e}. Without network, fetch {ARCHIVE} "
            f"(15.6 GB, https://www.openslr.org/33/) yourself and put it in {root}, or set "
            f"AISHELL (db.sh or the environment) to the directory that holds data_aishell/"
        ) from e
    size = partial.stat().st_size
    if expected_bytes is not None and size != expected_bytes:
        raise AishellError(
            f"{partial}: downloaded {size} bytes, expected {expected_bytes}; run again to resume, "
            f"or delete the file to start over"
        )
    partial.replace(archive)
    return archive


def unpack_aishell(corpus_root: str | Path) -> int:
    """Make the corpus unpacked: extract ``data_aishell.tgz`` if only it is there, then every
    per-speaker ``wav/*.tar.gz`` not yet extracted.

    Each speaker archive, once extracted, gets a marker ``wav/.<name>.done``, so an interrupted
    run resumes where it stopped; the archives themselves are kept.

    Returns:
        Number of speaker archives extracted by this call.
    """
    root = Path(corpus_root)
    if not (root / TRANSCRIPT).is_file() and (root / ARCHIVE).is_file():
        logger.info("aishell: extracting %s", root / ARCHIVE)
        _extract(root / ARCHIVE, root)
    wav_dir = root / WAV_DIR
    extracted = 0
    archives = sorted(wav_dir.glob("*.tar.gz")) if wav_dir.is_dir() else []
    for archive in archives:
        marker = wav_dir / f".{archive.name}.done"
        if marker.exists():
            continue
        _extract(archive, wav_dir)
        marker.touch()
        extracted += 1
    if extracted:
        logger.info("aishell: extracted %d speaker archive(s) in %s", extracted, wav_dir)
    return extracted


def read_transcripts(path: str | Path) -> tuple[dict[str, str], dict[str, int]]:
    """Transcripts with spaces removed, and counts of the lines dropped by reason.

    The corpus file is Kaldi ``text`` shaped; :func:`cifasr.data.kaldi_files.scan_kaldi_file`
    reads it, and empty lines, empty transcripts and repeated ids (the first is kept) are dropped,
    counted and logged rather than fatal.

    Raises:
        KaldiFileError: a line is not UTF-8 (names the file and line).
    """
    path = Path(path)
    scan = scan_kaldi_file(path, allow_empty_value=False)
    dropped = {"empty transcript": 0, "duplicate id": 0, "empty line": 0}
    reasons = {"empty_value": "empty transcript", "duplicate": "duplicate id"}
    for problem in scan.problems:
        if problem.kind == "not_utf8":
            raise KaldiFileError(f"{problem.message}; if the corpus was extracted, re-extract it")
        if problem.kind == "empty_line":
            dropped["empty line"] += 1
        elif problem.kind in reasons:
            dropped[reasons[problem.kind]] += 1
            logger.warning(
                "aishell: %s (dropped; the first of a repeated id is kept)", problem.message
            )
    return {e.key: "".join(e.value.split()) for e in scan.entries}, dropped


@dataclass
class PrepareReport:
    """Per split: utterances written, and audio files without a transcript; overall: transcript
    lines dropped by reason and transcripts without audio."""

    written: dict[str, int] = field(default_factory=dict)
    no_transcript: dict[str, int] = field(default_factory=dict)
    transcript_dropped: dict[str, int] = field(default_factory=dict)
    no_audio: int = 0


def prepare_aishell(
    corpus_root: str | Path,
    out_dir: str | Path,
    splits: tuple[str, ...] = SPLITS,
) -> PrepareReport:
    """Write Kaldi data directories ``<out_dir>/<split>`` from an unpacked corpus.

    Args:
        corpus_root: the directory holding ``data_aishell/`` (packed archives are unpacked
            first, see :func:`unpack_aishell`).
        out_dir: e.g. ``data``.
        splits: which splits.

    Raises:
        AishellError: no transcript file, or a split without any audio.
    """
    root = Path(corpus_root).resolve()
    if not (root / TRANSCRIPT).is_file() and not (root / ARCHIVE).is_file():
        raise AishellError(
            f"{root / TRANSCRIPT} not found: {root} does not hold data_aishell/ (or "
            f"{ARCHIVE}); set AISHELL (db.sh or the environment) to the directory that does, "
            f"or let local/data.sh download it"
        )
    unpack_aishell(root)
    texts, dropped = read_transcripts(root / TRANSCRIPT)
    report = PrepareReport(transcript_dropped=dropped)
    used: set[str] = set()
    for split in splits:
        wavs = sorted((root / WAV_DIR / split).glob("*/*.wav"))
        if not wavs:
            raise AishellError(
                f"{root / WAV_DIR / split}: no <speaker>/<utt>.wav files; the corpus is "
                f"incomplete (packed speaker archives that failed to extract?)"
            )
        wav_scp: dict[str, str] = {}
        utt2spk: dict[str, str] = {}
        missing_text = []
        for wav in wavs:
            utt, spk = wav.stem, wav.parent.name
            if utt not in texts:
                missing_text.append(utt)
                continue
            wav_scp[utt] = str(wav)
            utt2spk[utt] = spk
        if missing_text:
            logger.warning(
                "aishell: %s: %d audio file(s) without a transcript dropped (e.g. %s)",
                split,
                len(missing_text),
                ", ".join(missing_text[:3]),
            )
        used.update(wav_scp)
        d = Path(out_dir) / split
        d.mkdir(parents=True, exist_ok=True)
        write_kaldi_map(d / "wav.scp", wav_scp)
        write_kaldi_map(d / "text", {u: texts[u] for u in wav_scp})
        write_kaldi_map(d / "utt2spk", utt2spk)
        write_spk2utt(d / "spk2utt", utt2spk)
        report.written[split] = len(wav_scp)
        report.no_transcript[split] = len(missing_text)
        logger.info(
            "aishell: %s: %d audio files in, %d utterances out, %d without transcript (the "
            "full corpus gives %s)",
            d,
            len(wavs),
            len(wav_scp),
            len(missing_text),
            EXPECTED_UTTERANCES.get(split, "?"),
        )
    if set(splits) == set(SPLITS):
        report.no_audio = len(set(texts) - used)
        logger.info(
            "aishell: %s: %d transcript lines, %d without audio in any split; dropped lines: %s",
            root / TRANSCRIPT,
            len(texts),
            report.no_audio,
            ", ".join(f"{n} {reason}" for reason, n in dropped.items()),
        )
    return report
