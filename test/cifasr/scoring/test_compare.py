"""Comparing systems: per-utterance errors equal the scorer's, paired bootstrap intervals of
differences, seeds averaged, a weight chosen on dev, and the CLI tables."""

from pathlib import Path

import numpy as np
import pytest

from cifasr.bin import choose_weight as choose_weight_cli
from cifasr.bin import compare_results
from cifasr.bin import score as score_cli
from cifasr.scoring.compare import (
    UtteranceErrors,
    choose_weight,
    paired_bootstrap,
    read_utterance_errors,
)
from cifasr.scoring.report import parse_sum_avg

REFS = {f"spk{i % 3}-u{i:02d}": "今天天气很好我们去公园" for i in range(30)}


def _score(tmp_path: Path, name: str, hyps: dict[str, str]) -> Path:
    """A decoding of REFS, scored by the built-in scorer into <name>/score_cer."""
    d = tmp_path / name
    d.mkdir(parents=True)
    (d / "ref").write_text("".join(f"{k} {v}\n" for k, v in REFS.items()), encoding="utf-8")
    (d / "text").write_text("".join(f"{k} {hyps[k]}\n" for k in REFS), encoding="utf-8")
    args = ["--ref", str(d / "ref"), "--hyp", str(d / "text"), "--output_dir"]
    score_cli.main([*args, str(d / "score_cer"), "--scorer", "builtin"])
    return d / "score_cer"


def _hyps(errors_every: int, seed: int = 0) -> dict[str, str]:
    """Every ``errors_every``-th utterance gets a substitution and a deletion."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, (k, ref) in enumerate(REFS.items()):
        if errors_every and i % errors_every == 0:
            j = int(rng.integers(1, len(ref) - 1))
            out[k] = ref[:j] + "错" + ref[j + 2 :]
        else:
            out[k] = ref
    return out


def test_per_utterance_errors_add_up_to_the_scorers_error_rate(tmp_path):
    score_dir = _score(tmp_path, "sys", _hyps(3))
    errors = read_utterance_errors(score_dir)
    assert len(errors.labels) == 30
    assert int(errors.errors.sum()) == 20  # 10 utterances x (1 sub + 1 del)
    err = float(parse_sum_avg((score_dir / "result.txt").read_text(encoding="utf-8"))["Err"])
    assert round(errors.error_rate, 1) == err


def _u(errors, ref=10):
    errors = np.asarray(errors)
    return UtteranceErrors(
        tuple(f"s-u{i}" for i in range(len(errors))), errors, np.full(len(errors), ref)
    )


def test_paired_bootstrap_of_a_system_against_itself_is_zero():
    a = _u([1, 0, 2, 0, 3])
    d = paired_bootstrap([a], [a], samples=200)
    assert (d.value, d.low, d.high) == (0.0, 0.0, 0.0)
    assert d.render() == "+0.0 [+0.0, +0.0]"


def test_a_consistent_gain_has_an_interval_below_zero_and_a_noisy_one_straddles_it():
    base = _u([2] * 40)
    better = _u([1] * 40)  # one error fewer on every utterance: -10 points everywhere
    d = paired_bootstrap([better], [base], samples=500)
    assert d.value == pytest.approx(-10.0)
    assert d.high < 0 and d.render().endswith("*")
    noisy = _u([3, 1] * 20)  # the same total as the baseline, utterance by utterance +-1
    d = paired_bootstrap([noisy], [base], samples=500)
    assert d.value == pytest.approx(0.0)
    assert d.low < 0 < d.high and not d.render().endswith("*")


def test_seeds_are_averaged_per_utterance_and_their_range_shown(tmp_path):
    rows = [("A", [tmp_path / "a1", tmp_path / "a2"]), ("B", [tmp_path / "b1"])]
    _score(tmp_path / "a1" / "dec", "dev", _hyps(3, 0))  # 20 errors
    _score(tmp_path / "a2" / "dec", "dev", _hyps(5, 1))  # 12 errors
    _score(tmp_path / "b1" / "dec", "dev", _hyps(0))  # none
    args = ["--column", "dev=dec/dev", "--baseline", "A", "--bootstrap", "300"]
    for label, dirs in rows:
        args += ["--row", f"{label}={','.join(map(str, dirs))}"]
    out = tmp_path / "table.md"
    assert compare_results.main([*args, "--output", str(out), "--title", "T"]) == 0
    text = out.read_text(encoding="utf-8")
    chars = 30 * 11
    mean, lo, hi = 100 * 16 / chars, 100 * 12 / chars, 100 * 20 / chars
    assert f"| A | {mean:.1f} ({lo:.1f}-{hi:.1f}) |" in text
    assert "| B | 0.0 |" in text
    assert f"| B | {-mean:+.1f} [" in text  # the difference table


def test_rows_scored_on_different_utterances_are_refused(tmp_path, capsys):
    _score(tmp_path / "a" / "dec", "dev", _hyps(3))
    other = tmp_path / "b" / "dec" / "dev" / "score_cer"
    other.mkdir(parents=True)
    (other / "ref.trn").write_text("今 天\t(spk0-x)\n", encoding="utf-8")
    (other / "hyp.trn").write_text("今 天\t(spk0-x)\n", encoding="utf-8")
    argv = ["--row", f"A={tmp_path / 'a'}", "--row", f"B={tmp_path / 'b'}"]
    assert compare_results.main([*argv, "--column", "dev=dec/dev", "--baseline", "A"]) == 1
    assert "different utterances" in capsys.readouterr().err


def test_choose_weight_takes_the_lowest_dev_error_and_the_smaller_weight_on_a_tie(tmp_path):
    assert choose_weight({0.2: 5.0, 0.4: 4.1, 0.6: 4.1}) == 0.4
    exp = tmp_path / "exp"
    for w, every in (("0.2", 3), ("0.4", 5), ("0.6", 2)):
        _score(exp / f"tune_{w}", "dev", _hyps(every))
    out = tmp_path / "lm_weight"
    argv = ["--exp_dir", str(exp), "--decode_tag", "tune_{}", "--weights", "0.2", "0.4", "0.6"]
    assert choose_weight_cli.main([*argv, "--output", str(out)]) == 0
    assert out.read_text() == "0.4\n"


def test_oov_reference_characters_map_to_unk_only_when_asked(tmp_path):
    """ESPnet's default counts an out-of-vocabulary reference character as an error even when
    the model said <unk>; with --token_list (the original's scoring) both sides become <unk>."""
    (tmp_path / "ref").write_text("s-u1 今天好\n", encoding="utf-8")
    (tmp_path / "hyp").write_text("s-u1 今<unk>好\n", encoding="utf-8")
    (tmp_path / "tokens.txt").write_text("<blank>\n<unk>\n今\n好\n<sos/eos>\n", encoding="utf-8")
    base = ["--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"), "--scorer", "builtin"]
    score_cli.main([*base, "--output_dir", str(tmp_path / "espnet")])
    score_cli.main(
        [
            *base,
            "--output_dir",
            str(tmp_path / "orig"),
            "--token_list",
            str(tmp_path / "tokens.txt"),
        ]
    )
    assert read_utterance_errors(tmp_path / "espnet").errors.tolist() == [1]
    assert read_utterance_errors(tmp_path / "orig").errors.tolist() == [0]
