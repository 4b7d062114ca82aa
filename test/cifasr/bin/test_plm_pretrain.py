import json

import pytest
import torch

from cifasr.bin import plm_pretrain

SENTENCES = [
    "今天天气很好",
    "我们去北京",
    "北京天气很好",
    "我们今天很好",
    "他们去上海",
    "上海天气不好",
    "今天我们去上海",
    "他们今天很好",
    "北京很好",
    "天气不好我们不去",
    "他们去北京了",
    "我们很好 ok",
]

pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    root = tmp_path_factory.mktemp("plm_pretrain")
    text = root / "text"
    text.write_text("".join(f"utt{i:02d} {s}\n" for i, s in enumerate(SENTENCES)), encoding="utf-8")
    argv = [
        "--text", str(text), "--output_dir", str(root / "plm"), "--hidden_size", "32",
        "--num_heads", "2", "--num_layers", "1", "--max_steps", "60", "--batch_size", "12",
        "--warmup_steps", "5", "--lr", "3e-3", "--log_interval", "10", "--dropout", "0.0",
        "--mask_probability", "0.3", "--max_position_embeddings", "32",
    ]  # fmt: skip
    assert plm_pretrain.main(argv) == 0
    return root / "plm"


def test_mlm_loss_falls_and_accuracy_rises(pretrained):
    summary = json.loads((pretrained / "pretrain_summary.json").read_text(encoding="utf-8"))
    assert summary["steps"] == 60 and summary["sentences"] == len(SENTENCES)
    assert summary["last"]["loss"] < 0.7 * summary["first"]["loss"], summary
    assert summary["last"]["accuracy"] > summary["first"]["accuracy"]


def test_saved_dir_loads_with_auto_classes_one_token_per_character(pretrained):
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(pretrained)
    model = AutoModel.from_pretrained(pretrained)
    assert tok.is_fast and model.config.hidden_size == 32
    assert tok.tokenize("今天天气很好") == list("今天天气很好")
    assert tok.tokenize("很好ok") == ["很", "好", "o", "##k"]
    enc = tok("北京很好", return_tensors="pt")
    assert enc["input_ids"].shape[1] == 4 + 2  # [CLS] ... [SEP]
    with torch.no_grad():
        assert model(**enc).last_hidden_state.shape == (1, 6, 32)


def test_missing_text_file_is_named(tmp_path, capsys):
    rc = plm_pretrain.main(["--text", str(tmp_path / "text"), "--output_dir", str(tmp_path)])
    assert rc == 1
    assert f"No such file or directory: '{tmp_path / 'text'}'" in capsys.readouterr().err
