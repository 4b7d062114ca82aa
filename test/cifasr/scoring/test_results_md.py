"""RESULTS.md: the tables read back give the numbers of each result.txt; re-runs rewrite it."""

from cifasr.scoring.report import parse_sum_avg
from cifasr.scoring.results_md import (
    TABLE_HEADER,
    parse_results_md,
    render_results_md,
    write_results_md,
)
from cifasr.scoring.scorer import score_text


def _decode(exp, tag, dataset, metric, ref, hyp):
    d = exp / tag / dataset
    d.mkdir(parents=True, exist_ok=True)
    (d / "ref").write_text(ref, encoding="utf-8")
    (d / "text").write_text(hyp, encoding="utf-8")
    token_type = "char" if metric == "cer" else "word"
    return score_text(
        d / "ref", d / "text", d / f"score_{metric}", scorer="builtin", token_type=token_type
    )


def test_tables_parse_back_to_the_result_files(tmp_path):
    exp = tmp_path / "asr_train_cif"
    decodes = [
        ("cer", "decode_beam10", "test", "u1 甲乙丙\nu2 丁\n", "u1 甲戊丙\nu2 丁\n"),
        ("cer", "decode_beam10", "dev", "u1 甲乙\n", "u1 甲\n"),
        ("cer", "decode_greedy", "test", "u1 甲乙丙\n", "u1 乙\n"),
        ("wer", "decode_beam10", "test", "u1 a b c\n", "u1 a c\n"),
    ]
    runs = {
        (metric, tag, dataset): _decode(exp, tag, dataset, metric, ref, hyp)
        for metric, tag, dataset, ref, hyp in decodes
    }
    (exp / "stray" / "test" / "score_cer").mkdir(parents=True)
    (exp / "stray" / "test" / "score_cer" / "result.txt").write_text("interrupted\n")

    path = write_results_md(exp)
    text = path.read_text(encoding="utf-8")
    tables = parse_results_md(text)
    expected = {}
    for (metric, tag, dataset), summary in runs.items():
        fields = parse_sum_avg(summary.result_path.read_text(encoding="utf-8"))
        expected.setdefault(metric, {})[f"{tag}/{dataset}"] = fields
    assert tables == expected
    assert tables["cer"]["decode_beam10/test"]["Err"] == "25.0"  # 1 substitution in 4 characters
    assert "## asr_train_cif" in text and "### CER" in text and "### WER" in text
    assert text.count(TABLE_HEADER) == 3  # CER: one table per decode tag; WER: one
    assert "- Git hash:" in text and "- pytorch version:" in text and "- OS:" in text


def test_rerun_rewrites_the_file(tmp_path):
    exp = tmp_path / "exp"
    _decode(exp, "decode", "test", "cer", "u1 甲乙\n", "u1 甲乙\n")
    env = ["- date: `fixed`"]
    first = render_results_md(exp, environment=env)
    (exp / "RESULTS.md").write_text("old content\n")
    write_results_md(exp)
    again = (exp / "RESULTS.md").read_text(encoding="utf-8")
    assert "old content" not in again
    assert parse_results_md(again) == parse_results_md(first)
    assert render_results_md(exp, environment=env) == first
