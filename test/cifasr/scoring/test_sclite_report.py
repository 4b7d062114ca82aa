"""sclite's table and alignment-dump layout, on hand-checked numbers."""

import pytest

from cifasr.scoring.align import Alignment, align
from cifasr.scoring.report import (
    SpeakerResult,
    center,
    parse_sum_avg,
    render_alignment,
    render_summary,
)

# sclite's table for s1 = {甲乙丙 / 甲戊丙, 甲乙丙丁 / same},
#                   s2 = {"" / 甲, 甲乙 / "", abc / abcd}
HEADING = " " * 21 + "SYSTEM SUMMARY PERCENTAGES by SPEAKER" + " " * 22
EXPECTED_TABLE = (
    "\n\n\n"
    + HEADING
    + "\n\n"
    + """\
       ,----------------------------------------------------------------.
       |                            hyp.trn                             |
       |----------------------------------------------------------------|
       | SPKR   | # Snt # Wrd | Corr    Sub    Del    Ins    Err  S.Err |
       |--------+-------------+-----------------------------------------|
       | s1     |    2      7 | 85.7   14.3    0.0    0.0   14.3   50.0 |
       |--------+-------------+-----------------------------------------|
       | s2     |    3      5 | 60.0    0.0   40.0   40.0   80.0  100.0 |
       |================================================================|
       | Sum/Avg|    5     12 | 75.0    8.3   16.7   16.7   41.7   80.0 |
       |================================================================|
       |  Mean  |  2.5    6.0 | 72.9    7.1   20.0   20.0   47.1   75.0 |
       |  S.D.  |  0.7    1.4 | 18.2   10.1   28.3   28.3   46.5   35.4 |
       | Median |  2.5    6.0 | 72.9    7.1   20.0   20.0   47.1   75.0 |
       `----------------------------------------------------------------'
"""
)


def _speakers():
    s1 = SpeakerResult(
        "s1",
        ["s1-u1", "s1-u2"],
        [align(list("甲乙丙"), list("甲戊丙")), align(list("甲乙丙丁"), list("甲乙丙丁"))],
    )
    s2 = SpeakerResult(
        "s2",
        ["s2-u1", "s2-u2", "s2-u3"],
        [align([], ["甲"]), align(["甲", "乙"], []), align(list("abc"), list("abcd"))],
    )
    return [s1, s2]


def test_summary_table_matches_sclite():
    assert render_summary("hyp.trn", _speakers()) == EXPECTED_TABLE


def test_raw_table_counts():
    raw = render_summary("hyp.trn", _speakers(), raw=True)
    assert "| Sum  |    5     12 |    9      1      2      2      5      4 |" in raw


# sctk 2.4.10 for a title wider than the table: the spare width is spread over the columns.
EXPECTED_WIDE = """\
 ,---------------------------------------------------------------------------.
 |exp/asr_train_cif_hkd/decode_asr_beam10_lm0.3_ctc0.0/test/score_cer/hyp.trn|
 |---------------------------------------------------------------------------|
 | SPKR          | # Snt  # Wrd   | Corr    Sub    Del    Ins     Err  S.Err |
 |---------------+----------------+------------------------------------------|
 | bac009s0764   | 1000   124000  |100.0    0.0    0.0    0.0     0.0    1.0 |
 |---------------+----------------+------------------------------------------|
 | spklongname12 |    1       1   |100.0    0.0    0.0  100.0   100.0  100.0 |
 |===========================================================================|
 | Sum/Avg       | 1001   124001  |100.0    0.0    0.0    0.0     0.0    1.1 |
 |===========================================================================|
 |     Mean      |500.5  62000.5  |100.0    0.0    0.0   50.0    50.0   50.5 |
 |     S.D.      |706.4  87680.5  |  0.0    0.0    0.0   70.7    70.7   70.0 |
 |    Median     |500.5  62000.5  |100.0    0.0    0.0   50.0    50.0   50.5 |
 `---------------------------------------------------------------------------'
"""


def test_table_widens_for_a_long_title_and_large_counts():
    title = "exp/asr_train_cif_hkd/decode_asr_beam10_lm0.3_ctc0.0/test/score_cer/hyp.trn"
    full, short = "C" * 124, "C" * 123 + "D"
    big = SpeakerResult("bac009s0764")
    for i in range(1000):
        big.labels.append(f"bac009s0764-u{i:04d}")
        ops = short if i < 10 else full
        big.alignments.append(Alignment(["x"] * 124, ["x"] * ops.count("C"), ops))
    small = SpeakerResult("spklongname12", ["spklongname12-u1"], [align(["a"], ["a", "b"])])
    text = render_summary(title, [big, small])
    assert text.split("\n\n", 2)[2] == EXPECTED_WIDE


def test_alignment_dump_marks_errors_like_sclite():
    text = render_alignment("s2-u3", align(list("abc"), list("abcd")))
    assert text.splitlines() == [
        "id: (s2-u3)",
        "Scores: (#C #S #D #I) 3 0 0 1",
        "REF:  a b c * ",
        "HYP:  a b c D ",
        "Eval:       I ",
    ]
    # Widths are UTF-8 bytes: a deleted Chinese character is shown as three asterisks.
    text = render_alignment("s2-u2", align(["甲", "乙"], []))
    assert text.splitlines()[2:] == ["REF:  甲 乙 ", "HYP:  *** *** ", "Eval: D   D   "]


def test_center_puts_the_odd_space_right():
    assert center("ab", 5) == " ab  "
    assert center("abcdef", 3) == "abcdef"


def test_parse_sum_avg_needs_the_row():
    with pytest.raises(ValueError, match="no 'Sum/Avg' row"):
        parse_sum_avg("nothing here")
