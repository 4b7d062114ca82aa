"""Batches from build_dataloader: the agreed keys, exact feature values, -1 text padding,
extra feature scps, and clear errors when the files disagree."""

from __future__ import annotations

import logging
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch

from cifasr.data.ark import ArkReadError
from cifasr.data.dataset import AsrDataset, DatasetError
from cifasr.data.loader import build_dataloader
from cifasr.data.tokenizer import Tokenizer

TOKENS = ["<blank>", "<unk>", "你", "好", "世", "界", "<sos/eos>"]
TEXTS = {"u1": "你好", "u2": "世界 你好", "u3": "好", "u4": "你 好 吗", "u5": "界"}


@pytest.fixture
def corpus(tmp_path: Path) -> dict:
    rng = np.random.default_rng(0)
    lengths = {"u1": 30, "u2": 55, "u3": 12, "u4": 41, "u5": 7}
    feats = {u: rng.standard_normal((n, 80)).astype(np.float32) for u, n in lengths.items()}
    # Teacher features as the PLM dump stores them: float16 in kaldiio numpy entries.
    plm = {
        u: rng.standard_normal((len(TEXTS[u].replace(" ", "")) + 1, 8)).astype(np.float16)
        for u in lengths
    }
    kaldiio.save_ark(str(tmp_path / "feats.ark"), feats, scp=str(tmp_path / "feats.scp"))
    spec = f"ark,scp:{tmp_path / 'plm.ark'},{tmp_path / 'plm.scp'}"
    with kaldiio.WriteHelper(spec, write_function="numpy") as writer:
        for u, m in plm.items():
            writer(u, m)
    (tmp_path / "utt2num_frames").write_text("".join(f"{u} {n}\n" for u, n in lengths.items()))
    text = "".join(f"{u} {t}\n" for u, t in TEXTS.items())
    (tmp_path / "text").write_text(text, encoding="utf-8")
    (tmp_path / "tokens.txt").write_text("".join(f"{t}\n" for t in TOKENS), encoding="utf-8")
    return {"dir": tmp_path, "feats": feats, "plm": plm, "lengths": lengths}


def test_batches_hold_exact_features_padded_text_and_extras(corpus: dict) -> None:
    d = corpus["dir"]
    loader, sampler = build_dataloader(
        d / "feats.scp",
        d / "text",
        d / "tokens.txt",
        batch_bins=120,
        extra_scps={"plm": d / "plm.scp"},
        shuffle=True,
        seed=0,
    )
    sampler.set_epoch(1)
    seen = []
    for batch in loader:
        assert set(batch) == {
            "utt_id",
            "speech",
            "speech_lengths",
            "text",
            "text_lengths",
            "plm",
            "plm_lengths",
        }
        b, t_max, dim = batch["speech"].shape
        assert dim == 80 and batch["speech"].dtype == torch.float32 and b * t_max <= 120
        assert batch["text"].dtype == torch.long and batch["speech_lengths"].dtype == torch.long
        for i, utt in enumerate(batch["utt_id"]):
            n = corpus["lengths"][utt]
            assert batch["speech_lengths"][i] == n
            np.testing.assert_array_equal(batch["speech"][i, :n].numpy(), corpus["feats"][utt])
            assert torch.all(batch["speech"][i, n:] == 0)
            ids = [TOKENS.index(c) if c in TOKENS else 1 for c in TEXTS[utt].replace(" ", "")]
            assert batch["text_lengths"][i] == len(ids)
            assert batch["text"][i, : len(ids)].tolist() == ids
            assert torch.all(batch["text"][i, len(ids) :] == -1)
            m = corpus["plm"][utt].shape[0]
            assert batch["plm_lengths"][i] == m
            assert batch["plm"].dtype == torch.float32
            np.testing.assert_array_equal(
                batch["plm"][i, :m].numpy(), corpus["plm"][utt].astype(np.float32)
            )
            assert torch.all(batch["plm"][i, m:] == 0)
        seen += batch["utt_id"]
    assert sorted(seen) == sorted(TEXTS)


def test_unknown_characters_are_counted_and_logged(
    corpus: dict, caplog: pytest.LogCaptureFixture
) -> None:
    d = corpus["dir"]
    tokenizer = Tokenizer(d / "tokens.txt")
    with caplog.at_level(logging.WARNING):
        AsrDataset(d / "feats.scp", d / "text", tokenizer)
    assert tokenizer.unk_counts == {"吗": 1}
    assert "1 of 11 tokens (9.09%) not in" in caplog.text and "'吗' x1" in caplog.text
    # A second dataset on the same tokenizer reports its own counts, not the running total.
    (d / "text2").write_text("u1 你\nu2 呢\nu3 好\nu4 好\nu5 吗\n", encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        second = AsrDataset(d / "feats.scp", d / "text2", tokenizer)
    assert second.unk_counts == {"呢": 1, "吗": 1} and second.num_tokens == 5
    assert "2 of 5 tokens (40.00%) not in" in caplog.text
    assert tokenizer.unk_counts == {"吗": 2, "呢": 1}


def test_inference_batches_have_no_text_and_keep_every_utterance(corpus: dict) -> None:
    d = corpus["dir"]
    loader, _ = build_dataloader(d / "feats.scp", batch_bins=0, max_batch_size=2, shuffle=False)
    batches = list(loader)
    assert all("text" not in b for b in batches)
    assert [b["utt_id"] for b in batches] == [["u2", "u4"], ["u1", "u3"], ["u5"]]


def test_workers_give_the_same_batches(corpus: dict) -> None:
    d = corpus["dir"]
    runs = []
    for workers in (0, 2):
        loader, sampler = build_dataloader(
            d / "feats.scp",
            d / "text",
            d / "tokens.txt",
            batch_bins=120,
            seed=3,
            num_workers=workers,
        )
        sampler.set_epoch(2)
        runs.append([(b["utt_id"], b["speech"].sum().item()) for b in loader])
    assert runs[0] == runs[1]


def test_lengths_from_ark_headers_when_no_utt2num_frames(corpus: dict) -> None:
    d = corpus["dir"]
    (d / "utt2num_frames").unlink()
    dataset = AsrDataset(d / "feats.scp")
    assert dict(zip(dataset.keys, dataset.lengths.tolist())) == corpus["lengths"]


def test_key_missing_from_text_is_named(corpus: dict) -> None:
    d = corpus["dir"]
    (d / "text").write_text("u1 你好\nu2 世界\n", encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        AsrDataset(d / "feats.scp", d / "text", Tokenizer(TOKENS))
    expected = f"{d / 'text'}: 3 utterance(s) of feats.scp missing from this text file"
    assert expected in str(err.value)
    assert "'u3'" in str(err.value)


def test_key_missing_from_extra_scp_is_named(corpus: dict) -> None:
    d = corpus["dir"]
    (d / "plm.scp").write_text((d / "plm.scp").read_text().splitlines()[0] + "\n")
    message = r"plm.scp: 4 utterance\(s\) of feats.scp missing from this plm file"
    with pytest.raises(DatasetError, match=message):
        AsrDataset(d / "feats.scp", extra_scps={"plm": d / "plm.scp"})


def test_stale_lengths_and_corrupt_offsets_name_the_utterance(corpus: dict) -> None:
    d = corpus["dir"]
    (d / "utt2num_frames").write_text((d / "utt2num_frames").read_text().replace("u3 12", "u3 13"))
    dataset = AsrDataset(d / "feats.scp")
    with pytest.raises(DatasetError, match=r"line 3: utterance 'u3': the ark holds 12 frames"):
        dataset[2]
    lines = (d / "feats.scp").read_text().splitlines()
    key, entry = lines[1].split()
    lines[1] = f"{key} {entry.rsplit(':', 1)[0]}:{int(entry.rsplit(':', 1)[1]) + 1}"
    (d / "feats.scp").write_text("\n".join(lines) + "\n")
    (d / "utt2num_frames").unlink()
    message = r"feats.scp: line 2: utterance 'u2': cannot read the matrix"
    with pytest.raises(ArkReadError, match=message):
        AsrDataset(d / "feats.scp")


def test_text_needs_a_token_list(corpus: dict) -> None:
    d = corpus["dir"]
    with pytest.raises(ValueError, match="text_file needs token_list"):
        build_dataloader(d / "feats.scp", d / "text")
