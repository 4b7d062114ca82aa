"""The built-in scorer writes what ``sclite -i rm -o all stdout`` writes.

``data/golden_sclite_result.txt`` is sclite 2.10's output for ``data/golden_*.trn``: speakers
with no reference words, empty sentences, ASCII case folding, non-ASCII letters (not folded),
a 300-token sentence that wraps. The random test re-checks against the installed sclite.
"""

import random
import re
import shutil
from pathlib import Path

import pytest

from cifasr.scoring.builtin import score_trn
from cifasr.scoring.report import parse_sum_avg
from cifasr.scoring.sclite import find_sclite, run_sclite
from cifasr.scoring.trn import write_trn

DATA = Path(__file__).parent / "data"


def test_report_equals_stored_sclite_output(tmp_path):
    for name in ("golden_ref.trn", "golden_hyp.trn"):
        shutil.copy(DATA / name, tmp_path / name)
    result = score_trn(
        tmp_path / "golden_ref.trn", tmp_path / "golden_hyp.trn", title="golden_hyp.trn"
    )
    expected = (DATA / "golden_sclite_result.txt").read_text(encoding="utf-8")
    assert result.report == expected
    assert parse_sum_avg(result.report) == {
        "Snt": "9",
        "Wrd": "314",
        "Corr": "65.6",
        "Sub": "17.8",
        "Del": "16.6",
        "Ins": "1.3",
        "Err": "35.7",
        "S.Err": "88.9",
    }
    assert (result.corr, result.sub, result.dele, result.ins) == (206, 56, 52, 4)


def test_label_missing_from_hypothesis_is_an_error(tmp_path):
    write_trn(tmp_path / "ref.trn", ["s-1", "s-2"], [["a"], ["b"]])
    write_trn(tmp_path / "hyp.trn", ["s-1"], [["a"]])
    with pytest.raises(ValueError, match=r"label \(s-2\) has no line in the hypothesis"):
        score_trn(tmp_path / "ref.trn", tmp_path / "hyp.trn")
    write_trn(tmp_path / "hyp.trn", ["s-1", "s-2", "s-3"], [["a"], ["b"], ["c"]])
    with pytest.raises(ValueError, match=r"hyp.trn: label \(s-3\) is not in the reference"):
        score_trn(tmp_path / "ref.trn", tmp_path / "hyp.trn")


def _random_pairs(rng: random.Random, n: int, alphabet: list[str]):
    """Chinese reference/hypothesis pairs covering every kind of sentence the acceptance names."""
    pairs = []
    for i in range(n):
        length = rng.choice([0, 1, 3, 8, 15, 15, 15, 25, 200])
        ref = [rng.choice(alphabet) for _ in range(length)]
        kind = i % 6
        if kind == 0:
            hyp = []  # empty hypothesis
        elif kind == 1:
            hyp = list(ref)  # identical
        elif kind == 2:
            hyp = [rng.choice(["了", "吗"]) for _ in range(rng.randint(0, length + 2))]  # all wrong
        else:  # typical decoding errors
            hyp = []
            for tok in ref:
                r = rng.random()
                if r < 0.08:
                    continue
                hyp.append(rng.choice(alphabet) if r < 0.16 else tok)
                if r > 0.94:
                    hyp.append(rng.choice(alphabet))
        if i % 17 == 5:
            ref = []  # empty reference (hypothesis may be empty or not)
        pairs.append((ref, hyp))
    return pairs


NO_SCLITE = "sclite not installed (Debian/Ubuntu: apt-get install sctk)"


@pytest.mark.skipif(find_sclite() is None, reason=NO_SCLITE)
@pytest.mark.parametrize("alphabet_size", [3, 400])  # 3 provokes equal-cost ties everywhere
def test_random_chinese_pairs_equal_sclite(tmp_path, alphabet_size):
    rng = random.Random(alphabet_size)
    alphabet = [chr(0x4E00 + 37 * k) for k in range(alphabet_size)]
    pairs = _random_pairs(rng, 240, alphabet)
    labels = [f"S{i % 7}-S{i % 7}U{i:04d}" for i in range(len(pairs))]
    write_trn(tmp_path / "ref.trn", labels, [r for r, _ in pairs])
    write_trn(tmp_path / "hyp.trn", labels, [h for _, h in pairs])

    sclite_report = run_sclite(find_sclite(), tmp_path)
    ours = score_trn(tmp_path / "ref.trn", tmp_path / "hyp.trn", title="hyp.trn")

    # The acceptance: the Sum/Avg numbers are sclite's.
    assert parse_sum_avg(ours.report) == parse_sum_avg(sclite_report)
    # Every sentence's Corr/Sub/Del/Ins, not only the totals.
    scores = r"id: \((\S+)\)\nScores: \(#C #S #D #I\) (\d+ \d+ \d+ \d+)"
    theirs = dict(re.findall(scores, sclite_report))
    assert len(theirs) == len(pairs)
    for spk in ours.speakers:
        for label, ali in zip(spk.labels, spk.alignments, strict=True):
            assert f"{ali.corr} {ali.sub} {ali.dele} {ali.ins}" == theirs[label], label
    # And the whole report, byte for byte.
    assert ours.report == sclite_report
