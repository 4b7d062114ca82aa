"""sclite's text reports, reproduced byte for byte.

``render_summary`` is SCTK's ``print_system_summary`` (the ``SYSTEM SUMMARY PERCENTAGES by
SPEAKER`` box, percentages and raw counts), laid out by a port of SCTK's ``rpg.c`` table
writer; ``render_alignment_dump`` is ``dump_SCORES_alignments`` with ``PATH_print`` (the
``-o pralign`` part of ``-o all``). Widths are counted in bytes of UTF-8, as sclite counts them
(a Chinese character is 3 columns wide in its alignment dump).

Quirks of sclite are kept on purpose, because ``grep``-based tools and readers compare
the two: a speaker with no reference words shows raw counts marked ``*``, and the Mean / S.D. /
Median over speakers then drop speakers with the same index shifting sclite uses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from cifasr.scoring.align import Alignment
from cifasr.scoring.trn import ascii_upper

PAGE_WIDTH = 80  # SCTK's SCREEN_WIDTH
DUMP_LINE_WIDTH = 1000  # sclite's default -l


@dataclass
class SpeakerResult:
    """All sentences of one speaker, in hypothesis-file order."""

    name: str
    labels: list[str] = field(default_factory=list)
    alignments: list[Alignment] = field(default_factory=list)

    @property
    def n_sent(self) -> int:
        return len(self.alignments)

    @property
    def n_sent_err(self) -> int:
        return sum(a.errors > 0 for a in self.alignments)

    @property
    def corr(self) -> int:
        return sum(a.corr for a in self.alignments)

    @property
    def sub(self) -> int:
        return sum(a.sub for a in self.alignments)

    @property
    def dele(self) -> int:
        return sum(a.dele for a in self.alignments)

    @property
    def ins(self) -> int:
        return sum(a.ins for a in self.alignments)

    @property
    def n_ref(self) -> int:
        return self.corr + self.sub + self.dele


def _blen(text: str) -> int:
    return len(text.encode("utf-8"))


def _ljust(text: str, width: int) -> str:
    return text + " " * max(0, width - _blen(text))


def _rjust(text: str, width: int) -> str:
    return " " * max(0, width - _blen(text)) + text


def center(text: str, width: int) -> str:
    """SCTK's ``center``: pad to ``width`` bytes, the odd space going right."""
    front = max(0, int((width - _blen(text)) / 2))
    back = max(0, width - _blen(text) - front)
    return " " * front + text + " " * back


def _pct(num: float, den: float) -> float:
    return 0.0 if den == 0 else num / den * 100.0


def _f_round(x: float, prec: int) -> float:
    """SCTK's ``F_ROUND``: half away from zero, truncating through an int."""
    scale = 10.0**prec
    return float(int(x * scale + (0.5 if x > 0.0 else -0.5))) / scale


def _mean_sd_median(values: Sequence[float]) -> tuple[float, float, float]:
    """SCTK's ``calc_mean_var_std_dev_Zstat*``: sample S.D. (n - 1), 0 when all equal."""
    n = len(values)
    if n == 0:
        return 0.0, 0.0, 0.0
    total = 0.0
    for v in values:
        total += v
    mean = total / n
    ordered = sorted(values)
    median = (ordered[n // 2] + ordered[n // 2 - 1]) / 2 if n % 2 == 0 else ordered[n // 2]
    sq = 0.0
    for v in values:
        sq += (v - mean) * (v - mean)
    sd = math.sqrt(sq / (n - 1)) if sq != 0.0 else 0.0
    return mean, sd, median


@dataclass
class _Row:
    fmt: str
    cells: list[str]
    seps_before: str = ""


def _parse_fmt(fmt: str) -> tuple[list[str], list[str]]:
    """``"l|cc|cccccc"`` -> justifications and the separator after each column."""
    just, inter = [], []
    i = 0
    while i < len(fmt):
        just.append(fmt[i])
        i += 1
        if i < len(fmt) and fmt[i] == "|":
            inter.append("|")
            i += 1
        else:
            inter.append(" ")
    return just, inter


def _render_desc(rows: Sequence[_Row], page_width: int = PAGE_WIDTH) -> list[str]:
    """Port of SCTK ``Desc_dump_report`` for tables without spanning or locked columns."""
    parsed = [_parse_fmt(r.fmt) for r in rows]
    # Column widths are shared by every format with the same number of columns.
    sizes: dict[int, list[int]] = {}
    for row, (just, _) in zip(rows, parsed, strict=True):
        cur = sizes.setdefault(len(just), [0] * len(just))
        for c, cell in enumerate(row.cells):
            cur[c] = max(cur[c], _blen(cell))
    min_width = {n: 2 + sum(s) + n - 1 for n, s in sizes.items()}
    width = max(min_width.values())
    indent = " " * ((page_width - width) // 2) if width < page_width else ""

    lines = [indent + "," + "-" * (width - 2) + "."]
    for r, (row, (just, inter)) in enumerate(zip(rows, parsed, strict=True)):
        n_col = len(just)
        text_size = sizes[n_col]
        underage = width - min_width[n_col]
        col_size, added = [], 0
        for c in range(n_col):
            if c != n_col - 1:
                # Spread the spare width over the columns, rounding the running share (what
                # sctk 2.4.10 prints; older SCTK sources truncate instead).
                adj = int((underage / n_col) * (c + 1) + 0.5) - added
                added += adj
            else:
                adj = underage - added
            col_size.append(text_size[c] + adj)
        prev_inter = parsed[r - 1][1] if r > 0 else []
        for sep in row.seps_before:
            out = "|"
            for c in range(n_col):
                out += sep * col_size[c]
                if c == n_col - 1:
                    continue
                cchr = inter[c]
                lcchr = prev_inter[c] if c < len(prev_inter) else ""
                out += "+" if cchr == "|" and sep == "-" and lcchr == "|" else sep
            lines.append(indent + out + "|")
        out = "|"
        for c in range(n_col):
            cell = row.cells[c] if c < len(row.cells) else ""
            pad = col_size[c] - text_size[c]
            left, right = " " * (pad // 2), " " * (pad - pad // 2)
            if just[c] == "c":
                body = _rjust(center(cell, text_size[c]), text_size[c])
            elif just[c] == "l":
                body = _ljust(cell, text_size[c])
            else:
                body = _rjust(cell, text_size[c])
            out += left + body + right
            if c != n_col - 1:
                out += inter[c]
        lines.append(indent + out + "|")
    lines.append(indent + "`" + "-" * (width - 2) + "'")
    return lines


def render_summary(title: str, speakers: Sequence[SpeakerResult], raw: bool = False) -> str:
    """The ``SYSTEM SUMMARY PERCENTAGES by SPEAKER`` report (``-o sum`` or ``-o rsum``).

    Args:
        title: the system name sclite prints, i.e. the hypothesis path as given.
        speakers: in order of first appearance in the hypothesis file.
        raw: counts instead of percentages (sclite's second table).
    """
    pct_fmt, prec = ("%5.0f ", 0) if raw else ("%5.1f ", 1)
    tot_fmt, tprec = "%5.1f ", 1
    n = len(speakers)
    corr, sub, dele, ins, err, serr = ([0.0] * n for _ in range(6))
    sent_num = [s.n_sent for s in speakers]
    word_num = [s.n_ref for s in speakers]
    for k, s in enumerate(speakers):
        counts = (s.corr, s.sub, s.dele, s.ins, s.sub + s.ins + s.dele)
        if raw or s.n_ref == 0:
            corr[k], sub[k], dele[k], ins[k], err[k] = (float(x) for x in counts)
        else:
            corr[k], sub[k], dele[k], ins[k], err[k] = (_pct(x, s.n_ref) for x in counts)
        serr[k] = float(s.n_sent_err) if raw else _pct(s.n_sent_err, s.n_sent)

    rows = [_Row("c", [title])]
    body_fmt, stat_fmt = "l|cc|cccccc", "c|cc|cccccc"
    header = [" SPKR", " # Snt", "# Wrd", "Corr", " Sub", " Del", " Ins", " Err", "S.Err"]
    rows.append(_Row(body_fmt, header, "-"))
    n_zero = 0
    for k, s in enumerate(speakers):
        cells = [f" {s.name} ", f"{sent_num[k]:5d}", f"{word_num[k]:5d}"]
        if word_num[k] > 0 or raw:
            cells += [pct_fmt % _f_round(v[k], prec) for v in (corr, sub, dele, ins, err)]
        else:
            cells += [f"{_f_round(v[k], 0):5.0f}*" for v in (corr, sub, dele, ins, err)]
            n_zero += 1
        cells.append(pct_fmt % _f_round(serr[k], prec))
        rows.append(_Row(body_fmt, cells, "-"))

    tot = {
        "corr": sum(s.corr for s in speakers),
        "sub": sum(s.sub for s in speakers),
        "del": sum(s.dele for s in speakers),
        "ins": sum(s.ins for s in speakers),
        "ref": sum(word_num),
        "sent": sum(sent_num),
        "serr": sum(s.n_sent_err for s in speakers),
    }
    tot_err = tot["sub"] + tot["ins"] + tot["del"]
    if not raw:
        values = [_pct(tot[k], tot["ref"]) for k in ("corr", "sub", "del", "ins")]
        values += [_pct(tot_err, tot["ref"]), _pct(tot["serr"], tot["sent"])]
        cells = [" Sum/Avg", f"{tot['sent']:5d}", f"{tot['ref']:5d}"]
        cells += [tot_fmt % _f_round(v, tprec) for v in values]
    else:
        values = [float(tot[k]) for k in ("corr", "sub", "del", "ins")] + [float(tot_err)]
        values.append(float(tot["serr"]))
        cells = [" Sum", f"{tot['sent']:5d}", f"{tot['ref']:5d}"]
        cells += [pct_fmt % _f_round(v, prec) for v in values]
    rows.append(_Row(body_fmt, cells, "="))

    if n_zero > 0:
        # sclite shifts the per-speaker arrays over a zero-word speaker but keeps indexing
        # word counts by the original position; mirrored so Mean/S.D./Median read the same.
        for k in range(n):
            if word_num[k] == 0:
                for arr in (corr, sub, ins, dele, err):
                    arr[k : n - 1] = arr[k + 1 : n]
                    arr[n - 1] = -1000.0
    kept = n - n_zero
    stats = [_mean_sd_median(sent_num), _mean_sd_median(word_num)]
    stats += [_mean_sd_median(v[:kept]) for v in (corr, sub, dele, ins, err)]
    stats.append(_mean_sd_median(serr))
    errs_fmt = "%5.1f+" if n_zero > 0 else tot_fmt
    for which, label in enumerate((" Mean ", " S.D. ", "Median")):
        vals = [st[which] for st in stats]
        cells = [label]
        cells += [tot_fmt % _f_round(v, tprec) for v in vals[:2]]
        cells += [errs_fmt % _f_round(v, tprec) for v in vals[2:7]]
        cells.append(tot_fmt % _f_round(vals[7], tprec))
        rows.append(_Row(stat_fmt, cells, "=" if which == 0 else ""))

    text = "\n\n\n" + center("SYSTEM SUMMARY PERCENTAGES by SPEAKER", PAGE_WIDTH) + "\n\n"
    text += "\n".join(_render_desc(rows)) + "\n"
    if n_zero > 0 and not raw:
        text += (
            "\n* No Reference words for this/these speaker(s).  Word counts supplied\n"
            "  rather than percents.\n"
            "# No Reference words for this/these speaker(s).  NCE not computable.\n"
            "+ Speaker(s) with no reference data is ignored\n"
        )
    return text


def render_alignment(label: str, alignment: Alignment, line_width: int = DUMP_LINE_WIDTH) -> str:
    """One sentence as sclite's ``PATH_print`` shows it (id, scores, REF/HYP/Eval lines).

    Errors are printed upper-cased, as sclite does in case-insensitive mode; a missing token
    is shown as asterisks as wide as the token opposite it. Lines longer than ``line_width``
    bytes continue in ``>>``-prefixed blocks.
    """
    a = alignment
    out = f"id: ({label})\nScores: (#C #S #D #I) {a.corr} {a.sub} {a.dele} {a.ins}\n"
    # Each column as (REF cell, HYP cell, Eval cell, width), cells padded to width + 1 bytes.
    cols = []
    for ref_tok, hyp_tok, op in a.pairs():
        if op == "C":
            r, h = ref_tok, hyp_tok
        else:
            r = ascii_upper(ref_tok) if ref_tok is not None else None
            h = ascii_upper(hyp_tok) if hyp_tok is not None else None
        wr = _blen(r) if r is not None else 1
        wh = _blen(h) if h is not None else 1
        if r is None:
            r, wr = "*" * wh, wh
        if h is None:
            h, wh = "*" * wr, wr
        width = max(wr, wh)
        ev = "" if op == "C" else op
        cols.append(
            (
                r + " " * (width - wr + 1),
                h + " " * (width - wh + 1),
                ev + " " * (width - len(ev) + 1),
                width,
            )
        )

    used, total = 0, len(cols)
    while used < total:
        plen, i = (9 if used > 0 else 6), used
        while plen < line_width and i < total:
            plen += 1 + cols[i][3]
            i += 1
        end = i - (1 if i < total else 0)
        end = max(end, used + 1)  # a single column wider than the line still gets printed
        if used > 0:
            out += "\n"
        prefix = ">> " if used > 0 else ""
        chunk = cols[used:end]
        for name, k in (("REF:  ", 0), ("HYP:  ", 1), ("Eval: ", 2)):
            out += prefix + name + "".join(col[k] for col in chunk) + "\n"
        used = end
    return out


def render_alignment_dump(
    title: str, speakers: Sequence[SpeakerResult], line_width: int = DUMP_LINE_WIDTH
) -> str:
    """sclite's ``DUMP OF SYSTEM ALIGNMENT STRUCTURE`` (the ``pralign`` output of ``-o all``)."""
    parts = ["\n\n\t\tDUMP OF SYSTEM ALIGNMENT STRUCTURE\n\n", f"System name:   {title}\n", "\n"]
    parts.append("Speakers: \n")
    parts += [f"   {k:2d}:  {s.name}\n" for k, s in enumerate(speakers)]
    parts.append("\n")
    for k, s in enumerate(speakers):
        parts.append(f"Speaker sentences{k:4d}:  {s.name}   #utts: {s.n_sent}\n")
        for label, ali in zip(s.labels, s.alignments, strict=True):
            parts.append(render_alignment(label, ali, line_width) + "\n")
    parts.append("\n")
    return "".join(parts)


SUM_AVG_FIELDS = ("Snt", "Wrd", "Corr", "Sub", "Del", "Ins", "Err", "S.Err")


def parse_sum_avg(result_text: str) -> dict[str, str]:
    """The ``Sum/Avg`` row of a sclite (or built-in) ``result.txt``, as printed.

    Returns ``{"Snt": "7176", "Wrd": "104765", "Corr": "95.4", ...}``; the strings are kept as
    sclite formatted them so RESULTS.md shows exactly what result.txt shows.
    """
    for line in result_text.splitlines():
        if "Sum/Avg" in line:
            values = re.sub(r"[|]", " ", line.replace("Sum/Avg", "")).split()
            if len(values) != len(SUM_AVG_FIELDS):
                break
            return dict(zip(SUM_AVG_FIELDS, values, strict=True))
    raise ValueError("no 'Sum/Avg' row with 8 values found; is this a sclite result.txt?")
