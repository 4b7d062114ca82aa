"""Teacher rows from a tiny local BERT: dump, online teacher, alignment through the real
from_pretrained path, and the losses computed from them."""

from __future__ import annotations

import functools
import io

import kaldiio
import numpy as np
import pytest
import torch

from cifasr.distill.acd import AcousticContrastiveDistiller
from cifasr.distill.dump import dump_teacher_features
from cifasr.distill.lrd import LinguisticRegressionDistiller
from cifasr.distill.plm import PLMError, PLMFeatureExtractor, load_plm
from cifasr.distill.teacher import OnlinePLMTeacher
from cifasr.interfaces.outputs import CifModelOutputs

SENTENCES = [
    "我们今天去北京",
    "他说 ok 好的",
    "今天天气很好",
    "hello world 你好",
    "北京欢迎你",
    "我",
]
TEXTS = {f"utt{i}": s for i, s in enumerate(SENTENCES)}
OK_UTT = "utt1"  # "他说 ok 好的": BERT reads "ok" as one token for two ASR characters


@functools.lru_cache(maxsize=1)
def direct_model(path):
    from transformers import AutoTokenizer, BertModel

    return BertModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def direct_hidden(path, text: str, layer: int = -1) -> torch.Tensor:
    """(P, D) hidden states of one unpadded text, straight from transformers."""
    model, tok = direct_model(path)
    with torch.no_grad():
        out = model(**tok(text, return_tensors="pt"), output_hidden_states=True)
    return (out.last_hidden_state if layer == -1 else out.hidden_states[layer])[0]


def extractor(path, **kwargs) -> PLMFeatureExtractor:
    model, tokenizer = load_plm(path)
    return PLMFeatureExtractor(model, tokenizer, **kwargs)


@pytest.fixture(scope="module")
def dumped16(tiny_plm, tmp_path_factory):
    out = tmp_path_factory.mktemp("dump16")
    report = dump_teacher_features(extractor(tiny_plm), TEXTS, out, batch_size=4)
    return out, report


def test_dumped_rows_equal_a_direct_forward(tiny_plm, dumped16):
    out, report = dumped16
    feats = kaldiio.load_scp(str(out / "feats.scp"))
    assert sorted(feats) == sorted(TEXTS) and report.num_written == len(TEXTS)
    for utt, text in TEXTS.items():
        if utt == OK_UTT:
            continue
        h = direct_hidden(tiny_plm, "".join(text.split())).numpy()
        n = sum(not c.isspace() for c in text)
        assert feats[utt].dtype == np.float16 and feats[utt].shape == (n + 1, h.shape[1])
        # [CLS] dropped; characters then [SEP] for <sos/eos>
        np.testing.assert_allclose(feats[utt].astype(np.float32), h[1:], rtol=1e-3, atol=1e-3)


def test_imperfect_positional_alignment_is_truncated_and_reported(tiny_plm, dumped16):
    out, report = dumped16
    h = direct_hidden(tiny_plm, "他说ok好的").numpy()  # [CLS] 他 说 ok 好 的 [SEP]
    row = kaldiio.load_scp(str(out / "feats.scp"))[OK_UTT].astype(np.float32)
    assert row.shape[0] == 7  # 6 characters + <sos/eos>
    np.testing.assert_allclose(row[:5], h[1:6], rtol=1e-3, atol=1e-3)  # shifted, as the original
    assert not row[5].any()  # no PLM token left for the last character
    np.testing.assert_allclose(row[6], h[6], rtol=1e-3, atol=1e-3)  # [SEP] on <sos/eos>
    assert report.imperfect == [(OK_UTT, "PLM gave 5 tokens for 6 ASR tokens")]
    assert (
        out / "imperfect_alignments"
    ).read_text() == f"{OK_UTT}\tPLM gave 5 tokens for 6 ASR tokens\n"


def test_offsets_alignment_gives_both_characters_the_word_vector(tiny_plm, tmp_path):
    ext = extractor(tiny_plm, alignment="offsets")
    report = dump_teacher_features(ext, {OK_UTT: TEXTS[OK_UTT]}, tmp_path, dtype="float32")
    row = kaldiio.load_scp(str(tmp_path / "feats.scp"))[OK_UTT]
    h = direct_hidden(tiny_plm, TEXTS[OK_UTT]).numpy()  # [CLS] 他 说 ok 好 的 [SEP]
    np.testing.assert_allclose(row, h[[1, 2, 3, 3, 4, 5, 6]], rtol=1e-5, atol=1e-5)
    assert report.imperfect == []


def test_float32_dump_and_an_inner_layer(tiny_plm, tmp_path):
    texts = {"a": TEXTS["utt0"], "b": TEXTS["utt2"]}
    dump_teacher_features(extractor(tiny_plm, layer=1), texts, tmp_path, dtype="float32")
    feats = kaldiio.load_scp(str(tmp_path / "feats.scp"))
    for utt, text in texts.items():
        assert feats[utt].dtype == np.float32
        h = direct_hidden(tiny_plm, text, layer=1).numpy()
        np.testing.assert_allclose(feats[utt], h[1:], rtol=1e-5, atol=1e-5)


def test_online_teacher_equals_the_dump(tiny_plm, tmp_path):
    dump_teacher_features(extractor(tiny_plm), TEXTS, tmp_path, batch_size=2, dtype="float32")
    feats = kaldiio.load_scp(str(tmp_path / "feats.scp"))
    teacher = OnlinePLMTeacher(str(tiny_plm))
    utts = list(TEXTS)
    online, lengths = teacher([TEXTS[u] for u in utts])
    assert not online.requires_grad
    assert all(not p.requires_grad for p in teacher.extractor.model.parameters())
    for b, utt in enumerate(utts):
        assert int(lengths[b]) == feats[utt].shape[0]
        np.testing.assert_allclose(online[b, : lengths[b]].numpy(), feats[utt], atol=1e-5)
        assert not online[b, lengths[b] :].any()


def pad(mats: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([m.shape[0] for m in mats])
    out = torch.zeros(len(mats), int(lengths.max()), mats[0].shape[1])
    for b, m in enumerate(mats):
        out[b, : m.shape[0]] = torch.from_numpy(m.astype(np.float32))
    return out, lengths


def test_online_and_dumped_teachers_give_the_same_losses(tiny_plm, dumped16):
    out, _ = dumped16
    utts = ["utt0", "utt2", "utt3", "utt4"]
    feats = kaldiio.load_scp(str(out / "feats.scp"))
    dumped, dumped_lengths = pad([feats[u] for u in utts])
    online, online_lengths = OnlinePLMTeacher(str(tiny_plm), dtype="float16")(
        [TEXTS[u] for u in utts]
    )
    assert torch.equal(dumped_lengths, online_lengths)
    g = torch.Generator().manual_seed(0)
    b, n, c, dim = len(utts), int(dumped_lengths.max()), 8, dumped.size(-1)
    outputs = CifModelOutputs(
        encoder_out=torch.zeros(b, 1, c),
        encoder_lengths=torch.ones(b, dtype=torch.long),
        alphas=torch.zeros(b, 1),
        cif_embeds=torch.randn(b, n, c, generator=g),
        cif_lengths=dumped_lengths,
        fire_frames=torch.zeros(b, n, dtype=torch.long),
        decoder_states=torch.randn(b, n, c, generator=g),
        target_lengths=dumped_lengths,
    )
    acd = AcousticContrastiveDistiller(c, teacher_dim=dim)
    lrd = LinguisticRegressionDistiller(c, teacher_dim=dim)
    m = int(dumped_lengths.sum())
    neg = torch.stack([torch.randperm(m, generator=g)[: m // 2] for _ in range(m)])
    acd_dumped, _ = acd(outputs, dumped, dumped_lengths, neg)
    acd_online, _ = acd(outputs, online, online_lengths, neg)
    assert acd_online.item() == pytest.approx(acd_dumped.item(), rel=1e-5)
    lrd_dumped, _ = lrd(outputs, dumped, dumped_lengths)
    lrd_online, _ = lrd(outputs, online, online_lengths)
    assert lrd_online.item() == pytest.approx(lrd_dumped.item(), rel=1e-5)


def train_bpe(tmp_path, sentences: list[str], vocab_size: int = 20) -> str:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences * 10),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    path = tmp_path / "bpe.model"
    path.write_bytes(model.getvalue())
    return str(path)


def test_bpe_rows_average_the_plm_tokens_of_each_piece(tiny_plm, tmp_path):
    import sentencepiece as spm

    texts = {"a": "hello world", "b": "world hello 你好", "c": "hello 好"}
    bpemodel = train_bpe(tmp_path, list(texts.values()))
    sp = spm.SentencePieceProcessor(model_file=bpemodel)
    report = dump_teacher_features(
        extractor(tiny_plm, token_type="bpe", bpemodel=bpemodel), texts, tmp_path, dtype="float32"
    )
    assert report.imperfect == []
    feats = kaldiio.load_scp(str(tmp_path / "feats.scp"))
    for utt, text in texts.items():
        # the tiny BERT has one token per character: PLM row of char k = 1 + its non-space rank
        h = direct_hidden(tiny_plm, text).numpy()
        rank = {i: r for r, i in enumerate(i for i, ch in enumerate(text) if not ch.isspace())}
        expected, pos = [], 0
        for piece in sp.encode(text, out_type=str):
            body = piece.lstrip("\u2581")
            while text[pos].isspace():
                pos += 1
            chars = range(pos, pos + len(body)) if body else [pos]  # bare "▁": next character
            expected.append(h[[1 + rank[i] for i in chars]].mean(0))
            pos += len(body)
        expected.append(h[-1])  # [SEP]
        np.testing.assert_allclose(feats[utt], np.stack(expected), rtol=1e-5, atol=1e-5)


def test_row_count_matches_the_asr_tokenizer(tiny_plm, tmp_path):
    data_tokenizer = pytest.importorskip("cifasr.data.tokenizer")
    texts = ["hello world", "world hello 你好", "我们 今天"]
    bpemodel = train_bpe(tmp_path, texts)
    chars = data_tokenizer.CharTokenizer()
    pieces = data_tokenizer.SentencepieceTokenizer(bpemodel)
    char_ext = extractor(tiny_plm)
    bpe_ext = extractor(tiny_plm, token_type="bpe", bpemodel=bpemodel)
    for text in texts:
        assert char_ext.num_tokens(text) == len(chars.text2tokens(text))
        assert bpe_ext.num_tokens(text) == len(pieces.text2tokens(text))
        assert int(char_ext([text]).lengths[0]) == len(chars.text2tokens(text)) + 1


def slow_tokenizer_class():
    try:  # transformers >= 5 keeps the pure-Python tokenizer under this name
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

        return BertTokenizerLegacy
    except ImportError:
        from transformers import BertTokenizer

        return BertTokenizer


def test_tokenizer_without_offsets_is_a_clear_error(tiny_plm, tmp_path):
    model, fast = load_plm(tiny_plm)
    vocab = sorted(fast.get_vocab().items(), key=lambda kv: kv[1])
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t, _ in vocab), encoding="utf-8")
    slow = slow_tokenizer_class()(vocab_file=str(tmp_path / "vocab.txt"))
    with pytest.raises(PLMError, match="not a fast tokenizer, so it has no offset mapping"):
        PLMFeatureExtractor(model, slow, alignment="offsets", name="my-plm")
    # the original's positional alignment needs no offsets
    rows = PLMFeatureExtractor(model, slow)(["我们"])
    assert rows.lengths.tolist() == [3] and rows.problems == [None]


def test_option_errors(tiny_plm):
    model, tok = load_plm(tiny_plm)
    with pytest.raises(PLMError, match="needs the sentencepiece model"):
        PLMFeatureExtractor(model, tok, token_type="bpe")
    with pytest.raises(PLMError, match="nope.model: no such sentencepiece model"):
        PLMFeatureExtractor(model, tok, token_type="bpe", bpemodel="nope.model")
    with pytest.raises(PLMError, match="token_type 'bpe' needs alignment 'offsets'"):
        PLMFeatureExtractor(model, tok, token_type="bpe", alignment="positional", bpemodel="x")
    with pytest.raises(PLMError, match=r"has 2 layers: layer must be in \[-3, 2\]"):
        PLMFeatureExtractor(model, tok, layer=3, name="tiny")


def test_missing_plm_is_named(tmp_path):
    with pytest.raises(PLMError, match=f"cannot load the PLM '{tmp_path / 'nope'}'"):
        load_plm(tmp_path / "nope")


def test_bfloat16_autocast_rows_stay_close_to_float32(tiny_plm):
    texts = list(TEXTS.values())
    exact = extractor(tiny_plm)(texts)
    fast = extractor(tiny_plm, autocast="bfloat16")(texts)
    assert torch.equal(exact.lengths, fast.lengths)
    assert fast.features.dtype == torch.float32
    rel = (fast.features - exact.features).norm() / exact.features.norm()
    assert 0 < rel < 0.05
    with pytest.raises(PLMError, match="autocast 'fp8'"):
        extractor(tiny_plm, autocast="fp8")


def test_text_longer_than_the_plm_is_truncated_and_reported(tiny_plm):
    # the tiny BERT takes 64 positions: 62 characters + [CLS] + [SEP]
    rows = extractor(tiny_plm)(["我" * 70])
    assert rows.lengths.tolist() == [71]
    assert rows.problems == ["PLM gave 62 tokens for 70 ASR tokens"]
    assert not rows.features[0, 62:70].any() and rows.features[0, 70].any()
