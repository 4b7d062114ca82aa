"""Stage-8 teacher dump throughput and disk use, against the original extraction.

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \\
        tools/venv/bin/python bench/plm_dump.py [--utts 400 --repeat 3 --threads 1 --device cpu]

The PLM is a BERT-base-sized RANDOM model built from ``BertConfig()`` defaults (12 layers, 768
hidden, 12 heads, FFN 3072; only the vocabulary is the char vocabulary of the generated text,
about 3,000 entries instead of 30,522, which changes the embedding table and nothing timed).
Nothing is downloaded. The text is ``--utts`` Chinese sentences of 10-20 random characters
(mean 15, about AISHELL's), in random order.

Measured in the same run:

- ``cifasr``: :func:`cifasr.distill.dump.dump_teacher_features`: texts sorted by length,
  batches of ``--batch_size`` (256), rows aligned to the targets ((N + 1) x 768), float16 ark/scp;
- ``cifasr-<precision>``: the same under each precision of ``--dtype`` besides fp32 (default
  auto: what stage 8's ``--autocast auto`` resolves to on this device; ``all``: bf16 too);
- ``original`` (docs/distillation.md §2.3): batches of 256 in file order, ``padding=True``,
  ``last_hidden_state``, one float32 ``np.save`` per utterance INCLUDING the batch's padding
  rows, plus the JSON index.

Prints medians of ``--repeat`` runs, utterances per second, the speed ratio, and the bytes
written per 1,000 utterances by each.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import add_dtype_argument, precisions_to_time, print_header


def make_texts(n: int, seed: int = 0) -> dict[str, str]:
    rng = random.Random(seed)
    charset = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    return {
        f"utt{i:05d}": "".join(rng.choice(charset) for _ in range(rng.randint(10, 20)))
        for i in range(n)
    }


def build_plm(texts: dict[str, str], device: str):
    from transformers import BertConfig, BertModel

    from cifasr.distill.pretrain import build_char_tokenizer, build_char_vocab

    vocab = build_char_vocab(texts.values())
    tokenizer = build_char_tokenizer(vocab)
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(vocab))).eval().requires_grad_(False).to(device)
    return model, tokenizer


def original_dump(model, tokenizer, texts: dict[str, str], out: Path, batch_size: int = 256):
    """extract_bert_feats.py as docs/distillation.md §2.3 describes it."""
    out.mkdir(parents=True, exist_ok=True)
    items = list(texts.items())
    index = []
    device = next(model.parameters()).device
    for i in range(0, len(items), batch_size):
        batch = items[i : i + batch_size]
        enc = tokenizer([t for _, t in batch], padding=True, return_tensors="pt").to(device)
        with torch.no_grad():
            hidden = model(**enc).last_hidden_state.float().cpu().numpy()
        for b, (utt, _) in enumerate(batch):
            path = out / f"{utt}.npy"
            np.save(path, hidden[b])
            index.append(
                {
                    "utt_id": utt,
                    "input_ids": enc["input_ids"][b].tolist(),
                    "padding_mask": enc["attention_mask"][b].tolist(),
                    "length": int(enc["attention_mask"][b].sum()),
                    "feat_path": str(path),
                }
            )
    (out / "text_feat.json").write_text(json.dumps({"data": index}))


def cifasr_dump(
    model,
    tokenizer,
    texts: dict[str, str],
    out: Path,
    autocast: str | None = None,
    batch_size: int = 256,
) -> None:
    from cifasr.distill.dump import dump_teacher_features
    from cifasr.distill.plm import PLMFeatureExtractor

    extractor = PLMFeatureExtractor(model, tokenizer, autocast=autocast)
    dump_teacher_features(extractor, texts, out, batch_size=batch_size, dtype="float16")


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utts", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch_size", type=int, default=256, help="cifasr's batch")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="intra-op threads (0: torch's default); 1 gives steadier figures on a shared machine",
    )
    add_dtype_argument(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    texts = make_texts(args.utts)
    model, tokenizer = build_plm(texts, args.device)
    print_header(args.device, args.dtype)
    print(
        f"{len(texts)} utterances, mean {np.mean([len(t) for t in texts.values()]):.1f} chars; "
        f"PLM {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters (random)"
    )
    runs = {
        "cifasr" if p.name == "fp32" else f"cifasr-{p.name}": functools.partial(
            cifasr_dump, autocast=p.name, batch_size=args.batch_size
        )
        for p in precisions_to_time(args.dtype, args.device)
    }
    runs["original"] = original_dump
    times: dict[str, list[float]] = {k: [] for k in runs}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cifasr_dump(model, tokenizer, dict(list(texts.items())[:8]), Path(tmp) / "warmup")
        for r in range(args.repeat):
            for name, fn in runs.items():
                out = Path(tmp) / f"{name}{r}"
                start = time.perf_counter()
                fn(model, tokenizer, texts, out)
                times[name].append(time.perf_counter() - start)
                sizes[name] = dir_bytes(out)
    med = {k: statistics.median(v) for k, v in times.items()}
    for name in runs:
        print(
            f"{name:12s} median {med[name]:7.2f} s (min {min(times[name]):6.2f})  "
            f"{len(texts) / med[name]:7.1f} utt/s  "
            f"x{med['original'] / med[name]:.2f} vs original  "
            f"{sizes[name] / len(texts) * 1000 / 2**20:6.1f} MiB per 1,000 utterances"
        )
    print(f"disk ratio original/cifasr: {sizes['original'] / sizes['cifasr']:.2f}x")


if __name__ == "__main__":
    main()
