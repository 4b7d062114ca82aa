"""ONNX export and onnxruntime decoding: the same hypotheses as PyTorch, clear errors otherwise.

A tiny model is trained for a few updates on a synthetic corpus (so that it emits real
hypotheses), exported with ``python -m cifasr.bin.export_onnx`` and decoded by both backends
through the same Speech2Text search code.
"""

from __future__ import annotations

import importlib.util
import warnings
import zipfile
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch
import yaml

ort = pytest.importorskip("onnxruntime")

from cifasr.bin import asr_inference, export_onnx, pack  # noqa: E402
from cifasr.cif import cif  # noqa: E402
from cifasr.cif.dense import cif_dense  # noqa: E402
from cifasr.export.onnx_export import ExportError  # noqa: E402
from cifasr.export.onnx_export import export_onnx as export  # noqa: E402
from cifasr.inference import Speech2Text  # noqa: E402
from cifasr.inference.onnx_model import OnnxCifModel  # noqa: E402
from cifasr.tasks.asr import build_model, resolve_config  # noqa: E402
from cifasr.utils.config import ConfigError, dump_config  # noqa: E402

UPDATES = 25  # enough for the tiny model to emit several tokens per utterance
NAR_DECODER = {
    "attention_dim": 32,
    "attention_heads": 2,
    "linear_units": 64,
    "num_blocks": 1,
    "dropout_rate": 0.0,
    "attention_dropout_rate": 0.0,
    "activation_dropout_rate": 0.0,
    "input_dropout_rate": 0.0,
    "cif_skip": True,  # as egs2/mini_zh/asr1/conf/train_cif_nar.yaml
}


def _root_conftest():
    """test/conftest.py (its corpus and config helpers), loaded by path: pytest runs in
    importlib mode, where a test cannot import it."""
    spec = importlib.util.spec_from_file_location(
        "root_conftest", Path(__file__).resolve().parents[2] / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny_config(decoder: str, corpus: dict) -> dict:
    config = _root_conftest().tiny_asr_config(input_size=20)
    config["token_list"] = corpus["token_list"].read_text(encoding="utf-8").split("\n")[:-1]
    # Odd and even numbers of frames reach the pooling (after block 1): both must export.
    if decoder == "nar":
        config["decoder"] = "nar"
        config["decoder_conf"] = NAR_DECODER
    return resolve_config(config)


def _trained_experiment(tmp_path, corpus: dict, decoder: str) -> dict:
    config = _tiny_config(decoder, corpus)
    torch.manual_seed(0)
    model = build_model(config)
    feats = dict(kaldiio.load_scp(str(corpus["feats_scp"])))
    texts = dict(
        line.split(maxsplit=1) for line in corpus["text"].read_text(encoding="utf-8").splitlines()
    )
    keys = sorted(feats)
    token_id = {t: i for i, t in enumerate(config["token_list"])}
    lengths = torch.tensor([len(feats[k]) for k in keys])
    speech = torch.zeros(len(keys), int(lengths.max()), 20)
    for i, k in enumerate(keys):
        speech[i, : len(feats[k])] = torch.tensor(feats[k])
    ids = [[token_id[c] for c in texts[k]] for k in keys]
    text_lengths = torch.tensor([len(x) for x in ids])
    text = torch.full((len(keys), int(text_lengths.max())), -1)
    for i, x in enumerate(ids):
        text[i, : len(x)] = torch.tensor(x)
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(UPDATES):
        loss, _, _ = model(speech, lengths, text, text_lengths)
        optim.zero_grad()
        loss.backward()
        optim.step()
    exp = tmp_path / f"exp_{decoder}"
    exp.mkdir()
    (exp / "config.yaml").write_text(dump_config(config), encoding="utf-8")
    torch.save(model.state_dict(), exp / "model.pth")
    return {"dir": exp, "feats": [feats[k] for k in keys], "keys": keys, "scp": corpus["feats_scp"]}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    # 12 utterances of 2-5 characters, 8 frames each: odd and even encoder lengths.
    return _root_conftest().write_synthetic_corpus(tmp_path_factory.mktemp("corpus"), num_utts=12)


@pytest.fixture(scope="module")
def ar(tmp_path_factory, corpus) -> dict:
    exp = _trained_experiment(tmp_path_factory.mktemp("ar"), corpus, "cif_ar")
    zip_path = pack.pack(
        exp["dir"] / "model.zip", exp["dir"] / "config.yaml", exp["dir"] / "model.pth"
    )
    code = export_onnx.main(
        ["--model_zip", str(zip_path), "--output_dir", str(exp["dir"] / "onnx")]
    )
    assert code == 0
    return exp


@pytest.fixture(scope="module")
def nar(tmp_path_factory, corpus) -> dict:
    exp = _trained_experiment(tmp_path_factory.mktemp("nar"), corpus, "nar")
    export(
        yaml.safe_load((exp["dir"] / "config.yaml").read_text(encoding="utf-8")),
        exp["dir"] / "model.pth",
        exp["dir"] / "onnx",
        quantize=False,
    )
    return exp


def _decode_both(exp: dict, beam_size: int, precision: str = "fp32") -> tuple[list, list]:
    # parity with PyTorch in float32 (dtype auto would be bf16 on CPUs with native bf16)
    torch_s2t = Speech2Text(
        exp["dir"] / "config.yaml", exp["dir"] / "model.pth", beam_size=beam_size, dtype="float32"
    )
    onnx_s2t = Speech2Text.from_onnx(exp["dir"] / "onnx", precision, beam_size=beam_size)
    return torch_s2t.recognize_features(exp["feats"]), onnx_s2t.recognize_features(exp["feats"])


@pytest.mark.parametrize("beam_size", [1, 4])
def test_ar_hypotheses_equal_pytorch_on_every_utterance(ar: dict, beam_size: int) -> None:
    want, got = _decode_both(ar, beam_size)
    assert sum(len(r[0].token_ids) for r in want) > len(want)  # the model emits real text
    for key, w, g in zip(ar["keys"], want, got):
        assert g[0].token_ids == w[0].token_ids, key
        assert g[0].timestamps == w[0].timestamps, key
        assert g[0].score == pytest.approx(w[0].score, abs=1e-3), key


def test_nar_hypotheses_equal_pytorch_on_every_utterance(nar: dict) -> None:
    want, got = _decode_both(nar, beam_size=1)
    assert sum(len(r[0].token_ids) for r in want) > len(want)
    for key, w, g in zip(nar["keys"], want, got):
        assert g[0].token_ids == w[0].token_ids, key
        assert g[0].score == pytest.approx(w[0].score, abs=1e-3), key


@pytest.mark.parametrize("which", ["ar", "nar"])
def test_encoder_and_cif_outputs_agree_to_1e4(which: str, request) -> None:
    exp = request.getfixturevalue(which)
    torch_s2t = Speech2Text(exp["dir"] / "config.yaml", exp["dir"] / "model.pth", dtype="float32")
    onnx_model = OnnxCifModel(exp["dir"] / "onnx")
    onnx_model.tail_threshold = 0.4
    lengths = torch.tensor([len(f) for f in exp["feats"]])
    batch = torch.zeros(len(lengths), int(lengths.max()), 20)
    for i, f in enumerate(exp["feats"]):
        batch[i, : len(f)] = torch.from_numpy(f)
    with torch.no_grad():
        want = torch_s2t.model.compute_outputs(batch, lengths)
    got = onnx_model.compute_outputs(batch, lengths)
    assert torch.equal(got.encoder_lengths, want.encoder_lengths)
    assert torch.equal(got.cif_lengths, want.cif_lengths)
    assert torch.equal(got.fire_frames, want.fire_frames)
    for name in ("encoder_out", "alphas", "cif_embeds"):
        assert torch.allclose(getattr(got, name), getattr(want, name), atol=1e-4), name


def test_int8_graphs_are_smaller_and_decode_close_to_fp32(ar: dict) -> None:
    onnx_dir = ar["dir"] / "onnx"
    meta = yaml.safe_load((onnx_dir / "onnx_meta.yaml").read_text(encoding="utf-8"))
    for name, file in meta["graphs"]["int8"].items():
        fp32 = (onnx_dir / meta["graphs"]["fp32"][name]).stat().st_size
        assert (onnx_dir / file).stat().st_size < fp32, name
    want, got = _decode_both(ar, beam_size=1, precision="int8")
    errors = sum(
        sum(a != b for a, b in zip(w[0].token_ids, g[0].token_ids))
        + abs(len(w[0].token_ids) - len(g[0].token_ids))
        for w, g in zip(want, got)
    )
    total = sum(len(w[0].token_ids) for w in want)
    assert errors <= 0.2 * total


def test_asr_inference_with_onnx_dir_writes_the_pytorch_text(ar: dict, tmp_path) -> None:
    common = ["--feats_scp", str(ar["scp"]), "--beam_size", "3", "--dtype", "float32"]
    torch_args = ["--asr_train_config", str(ar["dir"] / "config.yaml")]
    torch_args += ["--asr_model_file", str(ar["dir"] / "model.pth")]
    assert asr_inference.main([*torch_args, *common, "--output_dir", str(tmp_path / "pt")]) == 0
    onnx_args = ["--onnx_dir", str(ar["dir"] / "onnx")]
    assert asr_inference.main([*onnx_args, *common, "--output_dir", str(tmp_path / "ort")]) == 0
    for f in ("text", "token_int", "timestamps"):
        assert (tmp_path / "ort/1best_recog" / f).read_text() == (
            tmp_path / "pt/1best_recog" / f
        ).read_text()


# ---------------------------------------------------------------- the CIF graph on edge cases
class _CifModule(torch.nn.Module):
    def forward(self, hidden, alphas, lengths, tail):  # type: ignore[override]
        return tuple(cif_dense(hidden, alphas, lengths, 0.99, tail))


@pytest.fixture(scope="module")
def cif_session(tmp_path_factory):
    path = tmp_path_factory.mktemp("cif") / "cif.onnx"
    args = (
        torch.randn(2, 9, 4),
        torch.rand(2, 9),
        torch.tensor([9, 5]),
        torch.tensor(0.4).double(),
    )
    with warnings.catch_warnings():  # the tracer warns about the Python ints it records
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _CifModule(),
            args,
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["h", "a", "n", "tail"],
            dynamic_axes={"h": {0: "B", 1: "T"}, "a": {0: "B", 1: "T"}, "n": {0: "B"}},
        )
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


EDGE_CASES = {
    # two fires in one frame (weight 2.5), a third from a weight of 1.7
    "weights_above_one": ([[0.3, 2.5, 0.1, 1.7, 0.0, 0.2]], [6]),
    # no weight at all: no token, and no tail token
    "silence": ([[0.0] * 7, [0.0] * 7], [7, 4]),
    # a leftover of 0.45 after the last fire: a tail token at 0.4, none at 0.5
    "tail": ([[0.5, 0.5, 0.45, 0.0]], [4]),
    # accumulates exactly to the threshold 0.99 on the last frame
    "exact_threshold": ([[0.33, 0.33, 0.33]], [3]),
    # padded frames carry weight that must be ignored
    "padding": ([[0.6, 0.6, 0.6, 0.6, 0.6, 0.6], [0.7, 0.7, 5.0, 5.0, 5.0, 5.0]], [6, 2]),
    # a long utterance: the float64 prefix sums keep 500 fire decisions exact
    "long": ([[0.3333] * 1500], [1500]),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
@pytest.mark.parametrize("tail", [None, 0.4, 0.5])
def test_onnx_cif_equals_cif(cif_session, case: str, tail: float | None) -> None:
    alphas, lengths = EDGE_CASES[case]
    alphas = torch.tensor(alphas)
    lengths = torch.tensor(lengths)
    hidden = torch.randn(*alphas.shape, 4, generator=torch.Generator().manual_seed(0))
    want = cif(hidden, alphas, lengths, 0.99, tail)
    feeds = {
        "h": hidden.numpy(),
        "a": alphas.numpy(),
        "n": lengths.numpy(),
        "tail": np.array(np.inf if tail is None else tail),
    }
    embeds, token_lengths, fire_frames = cif_session.run(None, feeds)
    np.testing.assert_array_equal(token_lengths, want.token_lengths.numpy())
    np.testing.assert_array_equal(fire_frames, want.fire_frames.numpy())
    np.testing.assert_allclose(embeds, want.embeds.numpy(), atol=1e-5)


# ---------------------------------------------------------------- errors
def test_zip_without_weights_names_what_is_missing(ar: dict, tmp_path, capsys) -> None:
    bad = tmp_path / "no_weights.zip"
    with zipfile.ZipFile(ar["dir"] / "model.zip") as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.namelist():
            if not item.endswith("model.pth"):
                dst.writestr(item, src.read(item))
    assert export_onnx.main(["--model_zip", str(bad), "--output_dir", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "model weights 'asr/model.pth'" in err and "is missing" in err


def test_unsupported_config_names_the_key(ar: dict, tmp_path) -> None:
    config = yaml.safe_load((ar["dir"] / "config.yaml").read_text(encoding="utf-8"))
    config["encoder"] = "rnn"
    with pytest.raises(ConfigError, match="key 'encoder': 'rnn' cannot be exported to ONNX"):
        export(config, ar["dir"] / "model.pth", tmp_path / "o")
    config["encoder"] = "conformer"
    with pytest.raises(ExportError, match="opset >= 17"):
        export(config, ar["dir"] / "model.pth", tmp_path / "o", opset=13)


def test_bad_inputs_at_decoding_give_clear_errors(ar: dict, tmp_path) -> None:
    model = OnnxCifModel(ar["dir"] / "onnx")
    with pytest.raises(ValueError, match=r"features must be \(B, T, 20\)"):
        model.compute_outputs(torch.zeros(1, 30, 80), torch.tensor([30]))
    with pytest.raises(ValueError, match="at least 3 frames"):
        model.compute_outputs(torch.zeros(1, 2, 20), torch.tensor([2]))
    too_long = model.max_frames + 1
    with pytest.raises(ValueError, match="longer than the exported encoder handles"):
        model.compute_outputs(torch.zeros(1, too_long, 20), torch.tensor([too_long]))
    with pytest.raises(FileNotFoundError, match="not an ONNX export"):
        OnnxCifModel(tmp_path)
    with pytest.raises(ValueError, match="CPU"):
        Speech2Text.from_onnx(ar["dir"] / "onnx", dtype="bfloat16")


def test_lm_fusion_stays_in_pytorch_and_gives_the_same_hypotheses(ar: dict, tmp_path) -> None:
    from cifasr.tasks.lm import build_lm

    config = yaml.safe_load((ar["dir"] / "config.yaml").read_text(encoding="utf-8"))
    lm_config = {
        "token_list": config["token_list"],
        "lm_conf": {"attention_dim": 16, "attention_heads": 2, "linear_units": 32, "num_blocks": 1},
    }
    (tmp_path / "lm.yaml").write_text(yaml.safe_dump(lm_config, allow_unicode=True), "utf-8")
    torch.manual_seed(3)
    torch.save(build_lm(lm_config).state_dict(), tmp_path / "lm.pth")
    lm = dict(lm_train_config=tmp_path / "lm.yaml", lm_file=tmp_path / "lm.pth", lm_weight=0.5)
    torch_s2t = Speech2Text(
        ar["dir"] / "config.yaml", ar["dir"] / "model.pth", beam_size=3, dtype="float32", **lm
    )
    onnx_s2t = Speech2Text.from_onnx(ar["dir"] / "onnx", beam_size=3, **lm)
    for w, g in zip(
        torch_s2t.recognize_features(ar["feats"]), onnx_s2t.recognize_features(ar["feats"])
    ):
        assert g[0].token_ids == w[0].token_ids
        assert g[0].score == pytest.approx(w[0].score, abs=1e-3)
