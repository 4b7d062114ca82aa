"""Stage 8 end to end: a tiny PLM pre-trained by plm_pretrain, dumped by plm_dump, read back by
the ASR data loader, and turned into ACD/LRD losses."""

from __future__ import annotations

import kaldiio
import numpy as np
import pytest
import torch

from cifasr.bin import plm_dump, plm_pretrain
from cifasr.distill.acd import AcousticContrastiveDistiller
from cifasr.distill.lrd import LinguisticRegressionDistiller
from cifasr.interfaces.outputs import CifModelOutputs

TEXT = {
    "u3": "今天天气很好",
    "u1": "我们去北京",
    "u2": "北京 天气 很好",
    "u4": "他们去上海了",
}

pytestmark = pytest.mark.usefixtures("one_thread_module")


def write_text(path, texts: dict[str, str]) -> str:
    path.write_text("".join(f"{k} {v}\n" for k, v in texts.items()), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """data/train/text, a char token list and exp/plm_tiny, as the mini_zh recipe makes them."""
    root = tmp_path_factory.mktemp("recipe")
    text = write_text(root / "text", TEXT)
    chars = sorted({c for t in TEXT.values() for c in t if not c.isspace()})
    tokens = root / "tokens.txt"
    tokens.write_text("\n".join(["<blank>", "<unk>", *chars, "<sos/eos>"]) + "\n", encoding="utf-8")
    plm = root / "plm_tiny"
    argv = ["--text", text, "--output_dir", str(plm), "--hidden_size", "16", "--num_heads", "2",
            "--num_layers", "1", "--max_steps", "2", "--max_position_embeddings", "32"]  # fmt: skip
    assert plm_pretrain.main(argv) == 0
    return root, text, str(tokens), str(plm)


def run_dump(recipe, out, *extra) -> int:
    _, text, tokens, plm = recipe
    argv = ["--plm", plm, "--text", text, "--token_list", tokens, "--output_dir", str(out),
            "--batch_size", "3", *extra]  # fmt: skip
    return plm_dump.main(argv)


def test_cli_dump_equals_a_direct_forward(recipe, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    assert run_dump(recipe, tmp_path) == 0
    _, _, _, plm = recipe
    model, tok = AutoModel.from_pretrained(plm).eval(), AutoTokenizer.from_pretrained(plm)
    feats = kaldiio.load_scp(str(tmp_path / "feats.scp"))
    assert [line.split()[0] for line in (tmp_path / "feats.scp").read_text().splitlines()] == [
        "u1", "u2", "u3", "u4",
    ]  # fmt: skip
    shapes = (tmp_path / "feats_shape").read_text().split()
    assert shapes[:2] == ["u1", "6,16"]
    assert (tmp_path / "imperfect_alignments").read_text() == ""
    for utt, text in TEXT.items():
        with torch.no_grad():
            h = model(**tok("".join(text.split()), return_tensors="pt")).last_hidden_state[0]
        assert feats[utt].dtype == np.float16
        np.testing.assert_allclose(feats[utt].astype(np.float32), h[1:], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_dump_to_dataset_to_loss(recipe, tmp_path, dtype):
    from cifasr.data.loader import build_dataloader

    root, text, tokens, _ = recipe
    assert run_dump(recipe, tmp_path / "plm", "--dtype", dtype) == 0
    # fake fbank features for the same utterances
    frames = {"u1": 30, "u2": 40, "u3": 35, "u4": 38}
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/feats.ark,{tmp_path}/feats.scp") as w:
        for utt in sorted(frames):
            w(utt, np.random.rand(frames[utt], 8).astype(np.float32))
    (tmp_path / "utt2num_frames").write_text("".join(f"{k} {v}\n" for k, v in frames.items()))
    loader, _ = build_dataloader(
        tmp_path / "feats.scp",
        text,
        tokens,
        batch_bins=0,
        max_batch_size=4,
        extra_scps={"plm": tmp_path / "plm" / "feats.scp"},
        shuffle=False,
    )
    batch = next(iter(loader))
    assert torch.equal(batch["plm_lengths"], batch["text_lengths"] + 1)
    dumped = kaldiio.load_scp(str(tmp_path / "plm" / "feats.scp"))
    for b, utt in enumerate(batch["utt_id"]):
        np.testing.assert_array_equal(
            batch["plm"][b, : batch["plm_lengths"][b]].numpy(), dumped[utt].astype(np.float32)
        )
    lengths = batch["plm_lengths"]
    bsz, n = len(lengths), int(lengths.max())
    outputs = CifModelOutputs(
        encoder_out=torch.zeros(bsz, 1, 8),
        encoder_lengths=torch.ones(bsz, dtype=torch.long),
        alphas=torch.zeros(bsz, 1),
        cif_embeds=torch.randn(bsz, n, 8, requires_grad=True),
        cif_lengths=lengths,
        fire_frames=torch.zeros(bsz, n, dtype=torch.long),
        decoder_states=torch.randn(bsz, n, 8),
        target_lengths=batch["text_lengths"] + 1,
    )
    acd_loss, stats = AcousticContrastiveDistiller(8, teacher_dim=16)(
        outputs, batch["plm"], lengths
    )
    lrd_loss, _ = LinguisticRegressionDistiller(8, teacher_dim=16)(outputs, batch["plm"], lengths)
    assert stats["anchors"] == int(lengths.sum())
    assert torch.isfinite(acd_loss) and acd_loss > 0 and torch.isfinite(lrd_loss)
    acd_loss.backward()
    assert outputs.cif_embeds.grad.abs().sum() > 0


def test_repeated_utterance_names_the_file_and_line(recipe, tmp_path, capsys):
    _, _, tokens, plm = recipe
    bad = tmp_path / "text"
    bad.write_text("u1 我们\nu2 北京\nu1 天气\n", encoding="utf-8")
    argv = ["--plm", plm, "--text", str(bad), "--output_dir", str(tmp_path / "out")]
    assert plm_dump.main(argv) == 1
    assert f"{bad}: line 3: key 'u1' duplicates line 1" in capsys.readouterr().err


def test_bpe_token_list_with_token_type_char_is_refused(recipe, tmp_path, capsys):
    _, text, _, plm = recipe
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("<blank>\n<unk>\n\u2581北京\n天\n<sos/eos>\n", encoding="utf-8")
    argv = [
        "--plm",
        plm,
        "--text",
        text,
        "--token_list",
        str(tokens),
        "--output_dir",
        str(tmp_path),
    ]
    assert plm_dump.main(argv) == 1
    err = capsys.readouterr().err
    assert f"{tokens}: line 3: token '\u2581北京' is not one character" in err


def test_unknown_plm_is_named(recipe, tmp_path, capsys):
    _, text, _, _ = recipe
    argv = ["--plm", str(tmp_path / "no_plm"), "--text", text, "--output_dir", str(tmp_path)]
    assert plm_dump.main(argv) == 1
    assert f"cannot load the PLM '{tmp_path / 'no_plm'}'" in capsys.readouterr().err
