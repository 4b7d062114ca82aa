"""A tiny PLM teacher for recipes without a downloadable one (mini_zh): a small BertForMaskedLM
pre-trained with masked-LM on the training transcripts only, over a character vocabulary.

The result is an ordinary ``save_pretrained`` directory (model + fast tokenizer), so stage 8 uses
it exactly as it uses ``bert-base-chinese``: ``AutoModel``/``AutoTokenizer.from_pretrained``.
The tokenizer gives one token per character: CJK characters are split by BERT's pre-tokenizer,
and every other character also has a ``##c`` continuation entry, so a Latin word "ab" becomes
``a ##b`` rather than ``[UNK]``.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from cifasr.utils.precision import resolve_precision

logger = logging.getLogger(__name__)

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# The CJK blocks BERT's basic tokenizer splits into single characters (_is_chinese_char).
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def is_cjk(ch: str) -> bool:
    """Whether BERT's tokenizer treats ``ch`` as a CJK character (always its own token)."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def build_char_vocab(texts: Iterable[str]) -> list[str]:
    """BERT specials, then the non-space characters of ``texts`` by descending count (ties by
    code point), then a ``##c`` continuation for every non-CJK character."""
    counts = Counter(ch for text in texts for ch in text if not ch.isspace())
    chars = sorted(counts, key=lambda c: (-counts[c], c))
    return [*SPECIALS, *chars, *(f"##{c}" for c in chars if not is_cjk(c))]


def build_char_tokenizer(vocab: Sequence[str], model_max_length: int = 512):
    """A ``BertTokenizerFast`` over ``vocab`` (from :func:`build_char_vocab`): no lower-casing or
    accent stripping, so every character of the vocabulary maps to itself."""
    from transformers import BertTokenizerFast

    kwargs = dict(
        do_lower_case=False,
        strip_accents=False,
        tokenize_chinese_chars=True,
        model_max_length=model_max_length,
    )
    if "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters:  # transformers >= 5
        return BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, **kwargs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vocab.txt"
        path.write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
        return BertTokenizerFast(vocab_file=str(path), **kwargs)


def build_char_bert(
    vocab_size: int,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int | None = None,
    max_position_embeddings: int = 512,
    dropout: float = 0.1,
):
    """A randomly initialised ``BertForMaskedLM`` (FFN 4x hidden unless given)."""
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size or 4 * hidden_size,
        max_position_embeddings=max_position_embeddings,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        pad_token_id=0,
    )
    return BertForMaskedLM(config)


def mask_tokens(
    input_ids: torch.Tensor,
    special_mask: torch.Tensor,
    mask_id: int,
    first_regular_id: int,
    vocab_size: int,
    probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's MLM corruption: choose each non-special token with ``probability``; of those, 80%
    become [MASK], 10% a random regular token, 10% stay.

    Args:
        input_ids: (B, T) token ids.
        special_mask: (B, T) True on [CLS]/[SEP]/[PAD] (never chosen).
        mask_id: id of [MASK].
        first_regular_id: the first non-special id (random replacements are drawn above it).
        vocab_size: number of ids.
        probability: selection rate.
        generator: RNG for reproducible masks.

    Returns:
        ``(inputs, labels)``: corrupted (B, T) ids; labels are the original ids on chosen
        positions and -100 elsewhere. When nothing was chosen in the whole batch the first
        regular token of each row is chosen, so the loss is never empty.
    """

    def rand() -> torch.Tensor:
        return torch.rand(input_ids.shape, generator=generator, device=input_ids.device)

    chosen = (rand() < probability) & ~special_mask
    if not chosen.any():
        first = (~special_mask).float().argmax(dim=1)
        chosen = torch.zeros_like(chosen)
        chosen[torch.arange(len(first)), first] = True
        chosen &= ~special_mask
    labels = input_ids.masked_fill(~chosen, -100)
    u = rand()
    to_mask = chosen & (u < 0.8)
    to_random = chosen & (u >= 0.8) & (u < 0.9)
    random_ids = torch.randint(
        first_regular_id, vocab_size, input_ids.shape, generator=generator, device=input_ids.device
    )
    inputs = input_ids.masked_fill(to_mask, mask_id)
    inputs = torch.where(to_random, random_ids, inputs)
    return inputs, labels


@dataclass
class PretrainConfig:
    """Options of :func:`pretrain_char_bert` (the CLI's flags)."""

    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int | None = None
    max_position_embeddings: int = 512
    dropout: float = 0.1
    max_steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    mask_probability: float = 0.15
    log_interval: int = 100
    seed: int = 0
    amp: str = "auto"  # bf16 autocast where the CPU computes it natively, else fp32


def _encode(tokenizer, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
    enc = tokenizer(
        list(texts),
        padding=True,
        truncation=True,
        max_length=max_length,
        return_special_tokens_mask=True,
        return_tensors="pt",
    )
    enc["special_tokens_mask"] = enc["special_tokens_mask"].bool() | ~enc["attention_mask"].bool()
    return enc


def _mlm_step(
    model, tokenizer, enc, cfg: PretrainConfig, generator
) -> tuple[torch.Tensor, int, int]:
    """One masked-LM forward: (mean loss over masked tokens, correct, masked)."""
    inputs, labels = mask_tokens(
        enc["input_ids"],
        enc["special_tokens_mask"],
        tokenizer.mask_token_id,
        len(SPECIALS),
        model.config.vocab_size,
        cfg.mask_probability,
        generator,
    )
    out = model(input_ids=inputs, attention_mask=enc["attention_mask"], labels=labels)
    chosen = labels != -100
    correct = int((out.logits.argmax(-1)[chosen] == labels[chosen]).sum())
    return out.loss, correct, int(chosen.sum())


@torch.no_grad()
def evaluate_mlm(model, tokenizer, texts: Sequence[str], cfg: PretrainConfig) -> dict[str, float]:
    """Masked-LM loss (nats per masked token) and accuracy on ``texts`` with a fixed mask."""
    model.eval()
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    total, correct, count = 0.0, 0, 0
    for i in range(0, len(texts), cfg.batch_size):
        enc = _encode(tokenizer, texts[i : i + cfg.batch_size], cfg.max_position_embeddings)
        loss, c, n = _mlm_step(model, tokenizer, enc, cfg, generator)
        total += float(loss) * n
        correct += c
        count += n
    model.train()
    return {"loss": total / max(count, 1), "accuracy": correct / max(count, 1)}


def pretrain_char_bert(
    texts: Sequence[str],
    output_dir: str | Path,
    cfg: PretrainConfig,
    valid_texts: Sequence[str] | None = None,
) -> dict:
    """Pre-train a character BERT with masked-LM on ``texts`` and save it.

    Args:
        texts: training transcripts (the ASR train set's text only).
        output_dir: receives the model and tokenizer (``save_pretrained``) and
            ``pretrain_summary.json``.
        cfg: model size and optimisation.
        valid_texts: held-out transcripts for a final MLM loss/accuracy, optional.

    Returns:
        The summary: vocabulary size, parameters, steps, seconds, and the train MLM loss and
        accuracy of the first and the last logging window (and ``valid`` when given).
    """
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ValueError("no non-empty training transcripts to pre-train the PLM on")
    torch.manual_seed(cfg.seed)
    vocab = build_char_vocab(texts)
    tokenizer = build_char_tokenizer(vocab, cfg.max_position_embeddings)
    model = build_char_bert(
        len(vocab),
        cfg.hidden_size,
        cfg.num_layers,
        cfg.num_heads,
        cfg.intermediate_size,
        cfg.max_position_embeddings,
        cfg.dropout,
    )
    model.train()
    params = sum(p.numel() for p in model.parameters())
    logger.info(
        "PLM pre-training: %d sentences, %d vocabulary entries, %d parameters, %d steps",
        len(texts),
        len(vocab),
        params,
        cfg.max_steps,
    )
    precision = resolve_precision(cfg.amp, "cpu", what="amp")
    precision.log(logger)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def lr_lambda(step: int) -> float:
        # Linear warm-up, then cosine decay to zero.
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    generator = torch.Generator().manual_seed(cfg.seed)
    windows: list[dict[str, float]] = []
    window = [0.0, 0, 0, 0]  # loss sum, correct, masked, steps
    start = time.perf_counter()
    step = 0
    while step < cfg.max_steps:
        order = torch.randperm(len(texts), generator=generator).tolist()
        for i in range(0, len(order), cfg.batch_size):
            if step >= cfg.max_steps:
                break
            batch = [texts[j] for j in order[i : i + cfg.batch_size]]
            enc = _encode(tokenizer, batch, cfg.max_position_embeddings)
            with precision.autocast("cpu"):
                loss, correct, count = _mlm_step(model, tokenizer, enc, cfg, generator)
            loss_value = loss.item()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            window[0] += loss_value
            window[1] += correct
            window[2] += count
            window[3] += 1
            if step % cfg.log_interval == 0 or step == cfg.max_steps:
                stats = {
                    "step": step,
                    "loss": window[0] / window[3],
                    "accuracy": window[1] / max(window[2], 1),
                }
                windows.append(stats)
                logger.info(
                    "step %d/%d: MLM loss %.3f, masked accuracy %.3f, lr %.2e",
                    step,
                    cfg.max_steps,
                    stats["loss"],
                    stats["accuracy"],
                    scheduler.get_last_lr()[0],
                )
                window = [0.0, 0, 0, 0]
    summary = {
        "sentences": len(texts),
        "vocab_size": len(vocab),
        "parameters": params,
        "steps": step,
        "seconds": round(time.perf_counter() - start, 2),
        "first": windows[0],
        "last": windows[-1],
        "config": asdict(cfg),
        "precision": precision.record(),
    }
    if valid_texts:
        valid_texts = [t for t in valid_texts if t.strip()]
        summary["valid"] = evaluate_mlm(model, tokenizer, valid_texts, cfg)
        logger.info(
            "valid: MLM loss %.3f, masked accuracy %.3f",
            summary["valid"]["loss"],
            summary["valid"]["accuracy"],
        )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    (output_dir / "pretrain_summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    logger.info(
        "MLM loss %.3f -> %.3f (accuracy %.3f -> %.3f) in %d steps, %.1f s; saved to %s",
        summary["first"]["loss"],
        summary["last"]["loss"],
        summary["first"]["accuracy"],
        summary["last"]["accuracy"],
        step,
        summary["seconds"],
        output_dir,
    )
    return summary
