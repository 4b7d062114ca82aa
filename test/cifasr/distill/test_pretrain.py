import torch

from cifasr.distill.pretrain import (
    SPECIALS,
    build_char_tokenizer,
    build_char_vocab,
    mask_tokens,
)


def test_char_vocab_orders_by_count_and_adds_latin_continuations():
    vocab = build_char_vocab(["好好 ab", "你好 b"])
    assert vocab == [*SPECIALS, "好", "b", "a", "你", "##b", "##a"]


def test_tokenizer_gives_one_token_per_character():
    vocab = build_char_vocab(["我们 hello", "Éa,b"])
    tok = build_char_tokenizer(vocab)
    assert tok.is_fast
    assert tok.tokenize("我们hello Éa,b") == [
        "我", "们", "h", "##e", "##l", "##l", "##o", "É", "##a", ",", "b",
    ]  # fmt: skip
    assert tok.tokenize("我x") == ["我", "[UNK]"]


def test_mlm_masking_follows_bert():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (200, 50), generator=g)
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    inputs, labels = mask_tokens(ids, special, mask_id=4, first_regular_id=5, vocab_size=100,
                                 generator=g)  # fmt: skip
    chosen = labels != -100
    assert not chosen[special].any()
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])
    rate = chosen.float().mean().item() / (48 / 50)
    assert 0.14 < rate < 0.16
    masked = (inputs[chosen] == 4).float().mean().item()
    kept = (inputs[chosen] == ids[chosen]).float().mean().item()
    assert 0.77 < masked < 0.83 and 0.08 < kept < 0.13  # 80% [MASK], 10% kept (+ random hits)


def test_mlm_masking_never_returns_an_empty_target():
    ids = torch.tensor([[2, 7, 3, 0], [2, 8, 9, 3]])
    special = torch.tensor([[1, 0, 1, 1], [1, 0, 0, 1]], dtype=torch.bool)
    _, labels = mask_tokens(ids, special, 4, 5, 10, probability=0.0)
    assert labels.tolist() == [[-100, 7, -100, -100], [-100, 8, -100, -100]]
