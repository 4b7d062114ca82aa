"""egs2/mini_zh/asr1/run.sh --size toy: every stage of the README's main job, end to end, on a
few dozen synthesised utterances, and a re-run that redoes nothing and prints the same table."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROWS = ("CIF", "CIF + ACD", "CIF + LRD", "CIF + HieraDist")

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


def _run(recipe_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["./run.sh", "--size", "toy"],
        cwd=recipe_dir,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def recipe(recipe_copy) -> dict:
    """egs2/mini_zh/asr1 copied into a scratch tree (tools, utils, TEMPLATE linked), run twice."""
    recipe_dir = recipe_copy("mini_zh")
    first = _run(recipe_dir)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    table = (recipe_dir / "RESULTS.md").read_text(encoding="utf-8")
    second = _run(recipe_dir)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    return {"dir": recipe_dir, "first": first, "second": second, "table": table}


def _table_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] in ROWS:
            rows[cells[0]] = cells[1:]
    return rows


def test_table_has_the_four_rows_with_and_without_lm(recipe: dict) -> None:
    rows = _table_rows(recipe["table"])
    assert list(rows) == list(ROWS)
    for cells in rows.values():
        assert len(cells) == 4  # dev, test, dev (+LM), test (+LM)
        assert all(re.fullmatch(r"\d+\.\d", c) for c in cells), cells
    assert recipe["first"].stdout.rstrip().splitlines()[-1].split(") ", 1)[1].startswith(
        "Successfully finished."
    )


def test_every_stage_left_its_output(recipe: dict) -> None:
    d = recipe["dir"]
    assert (d / "exp" / "plm_tiny" / "config.json").is_file()
    assert (d / "exp" / "plm_tiny" / "tokenizer.json").is_file()
    assert list((d / "dump" / "plm").glob("*/train/feats.scp"))
    assert list((d / "exp").glob("lm_*/valid.loss.best.pth")) or list(
        (d / "exp").glob("lm_*/*epoch.pth")
    )
    for name in ("train_cif", "train_cif_acd", "train_cif_lrd", "train_cif_hkd"):
        exp = d / "exp" / f"asr_{name}_fbank_char"
        assert (exp / "valid.acc.best.pth").is_file()
        for tag in ("decode_asr_model_valid.acc.best", "decode_lm"):
            for test_set in ("dev", "test"):
                assert (exp / tag / test_set / "score_cer" / "result.txt").is_file()
    hkd_log = (d / "exp" / "train_hkd.log").read_text(encoding="utf-8")
    assert "loss_acd" in (d / "exp" / "asr_train_cif_hkd_fbank_char" / "train.log").read_text(
        encoding="utf-8"
    ), hkd_log[-2000:]


def test_rerun_redoes_nothing_and_gives_the_same_table(recipe: dict) -> None:
    log = recipe["second"].stdout
    assert "skipped" in log and "Stage " not in log
    ran = [line for line in log.splitlines() if re.search(r":once\) \S+: (?!done before)", line)]
    assert ran == [], ran
    again = (recipe["dir"] / "RESULTS.md").read_text(encoding="utf-8")
    assert _table_rows(again) == _table_rows(recipe["table"])
