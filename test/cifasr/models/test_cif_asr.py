import torch

from cifasr.models.cif_asr import add_sos_eos
from cifasr.tasks.asr import build_model


def test_add_sos_eos():
    text = torch.tensor([[5, 6, 7], [8, -1, -1]])
    prev, target = add_sos_eos(text, torch.tensor([3, 1]), sos_eos=9)
    assert prev.tolist() == [[9, 5, 6, 7], [9, 8, 9, 9]]
    assert target.tolist() == [[5, 6, 7, 9], [8, 9, -1, -1]]


def _fixed_batch(vocab_size, input_size=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([64, 56, 48, 40])
    text_lengths = torch.tensor([6, 5, 4, 3])
    speech = torch.randn(4, 64, input_size, generator=g)
    text = torch.randint(2, vocab_size - 1, (4, 6), generator=g)
    for b in range(4):
        speech[b, lengths[b] :] = 0
        text[b, text_lengths[b] :] = -1
    return dict(speech=speech, speech_lengths=lengths, text=text, text_lengths=text_lengths)


def test_forward_returns_every_term_and_token_weight(tiny_config):
    model = build_model(tiny_config, vocab_size=12)
    batch = _fixed_batch(12)
    loss, stats, weight = model(**batch)
    assert weight == int((batch["text_lengths"] + 1).sum())
    for key in ("loss", "loss_ce", "nll", "loss_quantity", "loss_ctc", "acc"):
        assert key in stats
    expected = stats["loss_ce"] + 1.0 * stats["loss_quantity"] + 0.5 * stats["loss_ctc"]
    assert abs(stats["loss"] - expected) < 1e-4
    assert abs(loss.item() - stats["loss"]) < 1e-6
    # training: CIF weights scaled to N + 1, so every target (with </s>) gets a CIF output
    out = model.compute_outputs(**batch)
    assert out.cif_lengths.tolist() == (batch["text_lengths"] + 1).tolist()
    assert out.decoder_states.shape[:2] == out.target.shape


def test_tiny_model_overfits_a_fixed_batch(tiny_config):
    # without label smoothing the loss can approach 0 (smoothing puts a floor of ~0.56 nats here)
    tiny_config["model_conf"]["lsm_weight"] = 0.0
    torch.manual_seed(0)
    model = build_model(tiny_config, vocab_size=12)
    batch = _fixed_batch(12)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    first = None
    for _ in range(250):
        loss, stats, _ = model(**batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else stats["loss"]
    assert stats["loss"] < 0.1 * first, (first, stats["loss"])
    model.eval()
    with torch.no_grad():
        _, stats, _ = model(**batch)
    assert stats["acc"] == 1.0 and stats["cer_tf"] == 0.0


def test_bf16_autocast_keeps_cif_in_float32(tiny_config):
    model = build_model(tiny_config, vocab_size=12)
    batch = _fixed_batch(12)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model.compute_outputs(**batch)
        loss, _, _ = model(**batch)
    assert out.cif_embeds.dtype == torch.float32
    assert out.alphas.dtype == torch.float32
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_nar_glancing_acts_in_training_only(tiny_config):
    """The glancing sampler changes the trained pass's decoder input; evaluation (and so decoding)
    reads the CIF outputs alone."""
    conf = dict(tiny_config)
    conf["decoder"] = "nar"
    conf["decoder_conf"] = {"attention_dim": 16, "attention_heads": 2, "linear_units": 32,
                            "num_blocks": 1, "dropout_rate": 0.0, "attention_dropout_rate": 0.0,
                            "activation_dropout_rate": 0.0, "input_dropout_rate": 0.0}  # fmt: skip
    torch.manual_seed(0)
    plain = build_model(conf, vocab_size=12)
    conf["decoder_conf"] = {**conf["decoder_conf"], "glancing_ratio": 1.0}
    glancing = build_model(conf, vocab_size=12)
    missing = glancing.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing == ["decoder.token_embed.weight"]
    batch = _fixed_batch(12)
    for model in (plain, glancing):
        model.eval()
    with torch.no_grad():
        want = plain.compute_outputs(**batch).decoder_logits
        got = glancing.compute_outputs(**batch).decoder_logits
    torch.testing.assert_close(got, want)
    for model in (plain, glancing):
        model.train()  # no dropout anywhere in the decoder; SpecAugment off in tiny_config
    with torch.no_grad():
        want = plain.compute_outputs(**batch).decoder_logits
        got = glancing.compute_outputs(**batch).decoder_logits
    assert not torch.allclose(got, want)  # random weights decode wrongly: every position glanced
