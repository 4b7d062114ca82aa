"""Kaldi text files in, sclite ``trn`` files out (and back in).

A Kaldi text file holds ``utt_id token token ...`` per line. A ``trn`` file holds
``token token ...<TAB>(spk-utt_id)`` per line, exactly what ESPnet's ``asr.sh`` writes with
``paste <(tokens) <(awk '{ print "(" $2 "-" $1 ")" }' utt2spk)``. sclite, and the built-in
scorer that mirrors it, group sentences by the part of the label before its first ``-``.

>>> tokenize("今天<unk>好 ok", "char")
['今', '天', '<unk>', '好', 'o', 'k']
>>> trn_line(["今", "天"], "S0764-BAC009S0764W0121")
'今 天\\t(S0764-BAC009S0764W0121)'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cifasr.data.kaldi_files import KaldiFileError, read_kaldi_entries

logger = logging.getLogger(__name__)

TOKEN_TYPES = ("char", "word")

# `<unk>`, `<noise>`, ... stay one token in char mode: an OOV character is one error, not five.
_CHAR_TOKEN = re.compile(r"<[^<>\s]+>|\S")

# sclite reads these as syntax, not words: `@` is a null word (cost 0.001), `{ a / b }` an
# alternation. The built-in scorer reads them literally, so the two can disagree on such input.
SCLITE_SPECIAL_TOKENS = frozenset({"@", "{", "}", "/"})

# sclite folds case with the C locale's tolower: ASCII letters only, never UTF-8 bytes.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, as sclite does (``É`` and ``é`` stay different)."""
    return text.translate(_ASCII_LOWER)


def ascii_upper(text: str) -> str:
    """Upper-case ASCII letters only, as sclite prints errors in its alignment dump."""
    return text.translate(_ASCII_UPPER)


def _read_lines(path: Path) -> Iterable[tuple[int, str]]:
    """Yield ``(line_number, line)`` of a UTF-8 trn file, naming file and line on bad bytes."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                yield lineno, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise ValueError(
                    f"{path}:{lineno}: not valid UTF-8 ({e}); re-encode the file"
                ) from e


def _check_label_part(path: Path, line: int, what: str, value: str) -> None:
    """An id inside the trn label ``(spk-utt)`` cannot carry parentheses."""
    if "(" in value or ")" in value:
        raise KaldiFileError(
            f"{path}: line {line}: {what} {value!r} contains '(' or ')', which the trn label "
            "'(spk-utt)' cannot carry; rename it"
        )


def read_kaldi_text(path: str | Path) -> dict[str, str]:
    """Read a Kaldi ``text`` file for scoring into ``{utt_id: text}`` in file order.

    :func:`cifasr.data.kaldi_files.read_text` with sclite's needs: a line with only an id is an
    empty transcript (decoders write those); blank lines, duplicate ids and ids with ``(`` or
    ``)`` (they would break the trn label) are :class:`KaldiFileError` naming the file and line.
    """
    entries = read_kaldi_entries(path, allow_empty_value=True)
    for e in entries:
        _check_label_part(Path(path), e.line, "utterance id", e.key)
    return {e.key: e.value for e in entries}


def read_utt2spk(path: str | Path) -> dict[str, str]:
    """Read a Kaldi ``utt2spk`` file for scoring (:func:`cifasr.data.kaldi_files.read_utt2spk`,
    and no ``(`` or ``)`` in a speaker id)."""
    entries = read_kaldi_entries(path, one_field=True)
    for e in entries:
        _check_label_part(Path(path), e.line, "speaker id", e.value)
    return {e.key: e.value for e in entries}


def tokenize(text: str, token_type: str, remove_tokens: Sequence[str] = ()) -> list[str]:
    """Split a transcript into scoring units.

    ``char``: every non-space character is a token, except ``<...>`` symbols such as ``<unk>``,
    which stay whole (Mandarin CER). ``word``: whitespace-separated words (WER). Tokens listed in
    ``remove_tokens`` are dropped.
    """
    if token_type == "char":
        tokens = _CHAR_TOKEN.findall(text)
    elif token_type == "word":
        tokens = text.split()
    else:
        raise ValueError(f"unknown token_type {token_type!r}; choose one of {TOKEN_TYPES}")
    if remove_tokens:
        drop = set(remove_tokens)
        tokens = [t for t in tokens if t not in drop]
    return tokens


def default_speaker(utt_id: str) -> str:
    """Speaker of an utterance when no utt2spk is given.

    Kaldi and ESPnet recipes put the speaker first (``spk-utt`` or ``spk_utt``), so the part
    before the first ``-`` or ``_`` is taken; an id with neither is its own speaker.
    """
    cut = min((i for i in (utt_id.find("-"), utt_id.find("_")) if i > 0), default=len(utt_id))
    return utt_id[:cut]


def trn_label(utt_id: str, speaker: str) -> str:
    """The sclite ``rm``-style id ``spk-utt`` that ESPnet writes inside the parentheses."""
    return f"{speaker}-{utt_id}"


def trn_line(tokens: Sequence[str], label: str) -> str:
    """One trn line: tokens, a TAB (ESPnet writes it with ``paste``), ``(label)``."""
    return " ".join(tokens) + "\t(" + label + ")"


@dataclass(frozen=True)
class TrnPair:
    """Reference and hypothesis trn lines for the same utterances, in reference order."""

    labels: list[str]
    refs: list[list[str]]
    hyps: list[list[str]]
    n_missing_hyp: int


def build_trn_pair(
    ref_text: Mapping[str, str],
    hyp_text: Mapping[str, str],
    utt2spk: Mapping[str, str] | None,
    token_type: str,
    remove_tokens: Sequence[str] = (),
    hyp_name: str = "hypothesis",
    ref_name: str = "reference",
    vocabulary: Collection[str] | None = None,
    unk: str = "<unk>",
) -> TrnPair:
    """Tokenize both sides and label them ``spk-utt``, in reference order.

    With ``vocabulary`` (the model's token list), every token outside it, on either side, becomes
    ``unk`` before scoring, as the original HieraDist scoring does (fairseq's dictionary maps an
    out-of-vocabulary reference character to ``<unk>``, so a hypothesis ``<unk>`` there counts as
    correct); the number mapped is logged. Without it (the default, as ESPnet) an
    out-of-vocabulary reference token is an error whatever the hypothesis says.

    A reference without a hypothesis is scored against an empty one (all deletions) and
    counted; a hypothesis id absent from the reference is an error naming the id, because it
    means the two files belong to different sets.
    """
    unknown = [u for u in hyp_text if u not in ref_text]
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise ValueError(
            f"{hyp_name}: utterance id {unknown[0]!r}{more} is not in {ref_name}; "
            "score a hypothesis against the reference of the same set"
        )
    missing = [u for u in ref_text if u not in hyp_text]
    if missing:
        logger.warning(
            "%d of %d reference utterances have no hypothesis in %s (e.g. %s); "
            "they are scored as empty hypotheses",
            len(missing),
            len(ref_text),
            hyp_name,
            ", ".join(missing[:5]),
        )
    if utt2spk is not None:
        no_spk = [u for u in ref_text if u not in utt2spk]
        if no_spk:
            raise ValueError(
                f"utt2spk has no speaker for {len(no_spk)} utterance(s), e.g. {no_spk[0]!r}"
            )
        dashed = sorted({utt2spk[u] for u in ref_text if "-" in utt2spk[u]})
        if dashed:
            logger.warning(
                "speaker ids contain '-' (e.g. %r); sclite groups by the text before the first "
                "'-', so the SPKR table shows %r",
                dashed[0],
                dashed[0].split("-", 1)[0],
            )

    labels, refs, hyps, seen = [], [], [], {}
    removed_before = removed_after = mapped = 0
    known = None if vocabulary is None else {*vocabulary, unk}
    for utt, text in ref_text.items():
        spk = utt2spk[utt] if utt2spk is not None else default_speaker(utt)
        label = trn_label(utt, spk)
        key = ascii_lower(label)
        if key in seen:
            raise ValueError(
                f"{ref_name}: ids {seen[key]!r} and {utt!r} give the same trn label after "
                "sclite's case folding; rename one"
            )
        seen[key] = utt
        ref_tokens = tokenize(text, token_type)
        hyp_tokens = tokenize(hyp_text.get(utt, ""), token_type)
        removed_before += len(ref_tokens) + len(hyp_tokens)
        if remove_tokens:
            drop = set(remove_tokens)
            ref_tokens = [t for t in ref_tokens if t not in drop]
            hyp_tokens = [t for t in hyp_tokens if t not in drop]
        removed_after += len(ref_tokens) + len(hyp_tokens)
        if known is not None:
            before = ref_tokens + hyp_tokens
            ref_tokens = [t if t in known else unk for t in ref_tokens]
            hyp_tokens = [t if t in known else unk for t in hyp_tokens]
            mapped += sum(a != b for a, b in zip(before, ref_tokens + hyp_tokens))
        labels.append(label)
        refs.append(ref_tokens)
        hyps.append(hyp_tokens)
    if remove_tokens:
        logger.info(
            "removed %d token(s) in %s from reference and hypothesis",
            removed_before - removed_after,
            sorted(set(remove_tokens)),
        )
    if known is not None:
        logger.info("mapped %d token(s) outside the token list to %s", mapped, unk)
    special = sum(t in SCLITE_SPECIAL_TOKENS for side in (refs, hyps) for s in side for t in s)
    if special:
        logger.warning(
            "%d token(s) are sclite syntax (%s): sclite reads them as null words or alternations, "
            "the built-in scorer as plain tokens, so the two scorers may differ",
            special,
            " ".join(sorted(SCLITE_SPECIAL_TOKENS)),
        )
    return TrnPair(labels=labels, refs=refs, hyps=hyps, n_missing_hyp=len(missing))


def write_trn(path: str | Path, labels: Sequence[str], sentences: Sequence[Sequence[str]]) -> None:
    """Write a trn file (overwrites; UTF-8, one ``tokens<TAB>(label)`` line per sentence)."""
    with open(path, "w", encoding="utf-8") as f:
        for label, tokens in zip(labels, sentences, strict=True):
            f.write(trn_line(tokens, label) + "\n")


def read_trn(path: str | Path) -> list[tuple[str, list[str]]]:
    """Read a trn file into ``[(label, tokens)]`` in file order, as sclite reads it.

    Labels and tokens are ASCII-lower-cased (sclite's default, case-insensitive scoring). A
    line that does not end in ``(label)`` or repeats a label is an error naming file and line.
    """
    path = Path(path)
    out: list[tuple[str, list[str]]] = []
    seen: dict[str, int] = {}
    for lineno, line in _read_lines(path):
        body = line.rstrip()
        if not body:
            continue
        open_at = body.rfind("(")
        if not body.endswith(")") or open_at < 0:
            raise ValueError(f"{path}:{lineno}: expected 'tokens (spk-utt)', got {line!r}")
        label = ascii_lower(body[open_at + 1 : -1])
        if "-" not in label:
            raise ValueError(
                f"{path}:{lineno}: label {label!r} has no '-'; sclite needs '(spk-utt)'"
            )
        if label in seen:
            raise ValueError(
                f"{path}:{lineno}: duplicate label {label!r} (first on line {seen[label]})"
            )
        seen[label] = lineno
        out.append((label, ascii_lower(body[:open_at]).split()))
    return out
