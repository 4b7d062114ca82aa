"""egs2/mini_zh/asr1/run.sh --size toy: every stage of the README's main job, end to end, on a
few dozen synthesised utterances, and a re-run that redoes nothing and prints the same table."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cifasr.scoring.report import parse_sum_avg

ROWS = ("CIF", "CIF + ACD", "CIF + LRD", "CIF + HieraDist")
NAR = "CIF + NAR decoder"

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


def _run(recipe_dir: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["./run.sh", "--size", "toy", *options],
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


def _table_rows(text: str, table: int = 0) -> dict[str, list[str]]:
    """The rows of the ``table``-th markdown table (0: error rates, 1: differences from CIF)."""
    tables: list[dict[str, list[str]]] = []
    in_table = False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        if not in_table:
            tables.append({})
            in_table = True
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] in (*ROWS, NAR):
            tables[-1][cells[0]] = cells[1:]
    return tables[table]


def test_table_has_the_four_rows_with_and_without_lm(recipe: dict) -> None:
    rows = _table_rows(recipe["table"])
    assert list(rows) == list(ROWS)
    for cells in rows.values():
        assert len(cells) == 4  # dev, test, dev (+LM), test (+LM)
        assert all(re.fullmatch(r"\d+\.\d", c) for c in cells), cells
    # each cell is the CER sclite (or the built-in scorer) reported for that decoding
    result = recipe["dir"] / "exp/asr_train_cif_fbank_char/decode_asr_model_valid.acc.best/test"
    err = parse_sum_avg((result / "score_cer/result.txt").read_text(encoding="utf-8"))["Err"]
    assert rows["CIF"][1] == f"{float(err):.1f}"
    # the second table: every other row minus CIF, with its paired bootstrap interval
    diffs = _table_rows(recipe["table"], 1)
    assert list(diffs) == list(ROWS[1:])
    for label, cells in diffs.items():
        for cell, own, base in zip(cells, rows[label], rows["CIF"]):
            m = re.fullmatch(r"([+-]\d+\.\d) \[([+-]\d+\.\d), ([+-]\d+\.\d)\]\*?", cell)
            assert m, cell
            assert float(m[2]) <= float(m[1]) <= float(m[3])
            assert abs(float(m[1]) - (float(own) - float(base))) <= 0.11
    assert (
        recipe["first"]
        .stdout.rstrip()
        .splitlines()[-1]
        .split(") ", 1)[1]
        .startswith("Successfully finished.")
    )


def test_every_stage_left_its_output(recipe: dict) -> None:
    d = recipe["dir"]
    assert (d / "exp" / "plm_mlm" / "config.json").is_file()
    assert (d / "exp" / "plm_mlm" / "tokenizer.json").is_file()
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
    hkd_log = (d / "exp" / "logs" / "train_hkd_seed1.log").read_text(encoding="utf-8")
    assert "loss_acd" in (d / "exp" / "asr_train_cif_hkd_fbank_char" / "train.log").read_text(
        encoding="utf-8"
    ), hkd_log[-2000:]


def test_rerun_redoes_nothing_and_gives_the_same_table(recipe: dict) -> None:
    log = recipe["second"].stdout
    assert "skipped" in log and "Stage " not in log
    ran = [line for line in log.splitlines() if re.search(r"\(once\) \S+: (?!done before)", line)]
    assert ran == [], ran
    again = (recipe["dir"] / "RESULTS.md").read_text(encoding="utf-8")
    assert _table_rows(again) == _table_rows(recipe["table"])


# The tests below run after the ones above (pytest keeps the file's order): they add to exp/.


def test_stage_11_with_ngpu_2_trains_two_gloo_processes_on_a_cpu_machine(recipe: dict) -> None:
    """asr.sh --ngpu 2 without CUDA: two gloo CPU processes, the conformer config of the recipe,
    validation on (the toy dev set is one batch, so rank 1 validates nothing)."""
    d = recipe["dir"]
    r = subprocess.run(
        [
            "../../TEMPLATE/asr1/asr.sh",
            "--lang",
            "zh",
            "--fbank_config",
            "conf/fbank.yaml",
            "--train_set",
            "train",
            "--valid_set",
            "dev",
            "--test_sets",
            "dev test",
            "--ngpu",
            "2",
            "--asr_config",
            "conf/train_cif.yaml",
            "--asr_tag",
            "ddp2",
            "--asr_args",
            "--max_epoch 1 --valid_decode_utts 4",
            "--stage",
            "11",
            "--stop_stage",
            "11",
        ],
        cwd=d,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        encoding="utf-8",
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "--ngpu 2: CUDA is not available" in r.stdout
    assert "Stage 11: 2 processes per node (gloo, CPU, 1 threads each)" in r.stdout
    log = (d / "exp" / "asr_ddp2" / "train.log").read_text(encoding="utf-8")
    assert "2 processes (gloo)" in log
    assert re.search(r"1epoch results: \[valid\] .*cer=", log), log[-3000:]
    assert (d / "exp" / "asr_ddp2" / "valid.acc.best.pth").is_file()


def test_a_changed_training_config_retrains_anew(recipe: dict) -> None:
    """Changing the learning rate and re-running trains that row again from scratch (the old
    experiment is moved aside), not a no-op resume of the finished checkpoint."""
    d = recipe["dir"]
    exp = d / "exp" / "asr_train_cif_fbank_char"
    old_model = (exp / "valid.acc.best.pth").resolve().read_bytes()
    conf = d / "conf" / "train_cif.yaml"
    conf.write_text(conf.read_text().replace("lr: 2.0e-3", "lr: 1.0e-3"), encoding="utf-8")
    third = _run(d)
    assert third.returncode == 0, third.stdout[-4000:] + third.stderr[-4000:]
    moved = re.search(
        r"train_cif_seed1: its inputs changed since it last succeeded; moved (\S+) to (\S+)",
        third.stdout,
    )
    assert moved and moved[1] == "exp/asr_train_cif_fbank_char", third.stdout[-3000:]
    assert "train_acd_seed1: done before, skipped" in third.stdout
    config = (exp / "config.yaml").read_text(encoding="utf-8")
    assert "lr: 0.001" in config
    assert (exp / "valid.acc.best.pth").resolve().read_bytes() != old_model
    assert (d / moved[2] / "valid.acc.best.pth").resolve().read_bytes() == old_model


def test_the_nar_row_is_decoded_greedily_without_the_lm(recipe: dict) -> None:
    """--rows "cif nar": the CIF + NAR decoder row (conf/train_cif_nar.yaml) is trained, decoded
    with conf/decode_nar.yaml and scored; shallow fusion needs the AR decoder, so no LM columns."""
    d = recipe["dir"]
    run = _run(d, "--rows", "cif nar")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "train_cif_seed1: done before, skipped" in run.stdout
    rows = _table_rows((d / "RESULTS.md").read_text(encoding="utf-8"))
    assert list(rows) == ["CIF", NAR]
    exp = d / "exp" / "asr_train_cif_nar_fbank_char"
    assert "decoder: nar" in (exp / "config.yaml").read_text(encoding="utf-8")
    for column, test_set in enumerate(("dev", "test")):
        result = exp / "decode_asr_model_valid.acc.best" / test_set / "score_cer" / "result.txt"
        err = parse_sum_avg(result.read_text(encoding="utf-8"))["Err"]
        assert rows[NAR][column] == f"{float(err):.1f}"
    assert rows[NAR][2:] == ["-", "-"]
    assert not (exp / "decode_lm").exists()
