"""Merge the outputs of parallel decoding jobs (stage 12 of asr.sh).

    python -m cifasr.bin.merge_decode --output_dir exp/asr/decode/test \\
        exp/asr/decode/test/logdir/output.1 exp/asr/decode/test/logdir/output.2

Concatenates each ``{n}best_recog/<file>`` of the jobs into ``<output_dir>/`` (1-best at the top
level, as ESPnet), sorted by utterance id, and sums the jobs' ``rtf`` files into one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FILES = ("text", "token", "token_int", "score", "timestamps")


def read_rtf(path: Path) -> dict[str, str]:
    """``key value`` lines of a job's ``rtf`` file (numbers, and the precision it ran in)."""
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip())


def merge(job_dirs: list[Path], output_dir: Path) -> dict[str, float]:
    """Merge the job outputs; returns the summed decoding statistics."""
    output_dir.mkdir(parents=True, exist_ok=True)
    nbest_dirs = sorted({p.name for d in job_dirs for p in d.glob("*best_recog")})
    for name in nbest_dirs:
        target = output_dir if name == "1best_recog" else output_dir / name
        target.mkdir(parents=True, exist_ok=True)
        for f in FILES:
            lines = []
            for d in job_dirs:
                src = d / name / f
                if not src.is_file():
                    raise FileNotFoundError(f"{src}: missing; did decoding job {d} fail?")
                lines += src.read_text(encoding="utf-8").splitlines()
            # a stable sort on the id keeps the CTM's token order within an utterance
            lines.sort(key=lambda line: line.split(maxsplit=1)[0].encode())
            (target / f).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    totals = {"utterances": 0.0, "audio_seconds": 0.0, "decode_seconds": 0.0}
    precisions: list[str] = []
    for d in job_dirs:
        for k, v in read_rtf(d / "rtf").items():
            if k in totals:
                totals[k] += float(v)
            elif k == "precision" and v not in precisions:
                precisions.append(v)
    totals["rtf"] = totals["decode_seconds"] / max(totals["audio_seconds"], 1e-9)
    (output_dir / "rtf").write_text(
        f"utterances {int(totals['utterances'])}\naudio_seconds {totals['audio_seconds']:.2f}\n"
        f"decode_seconds {totals['decode_seconds']:.2f}\nrtf {totals['rtf']:.5f}\n"
        + (f"precision {','.join(precisions)}\n" if precisions else ""),
        encoding="utf-8",
    )
    return totals


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--output_dir", type=Path, required=True)
    p.add_argument("job_dirs", nargs="+", type=Path)
    args = p.parse_args(argv)
    totals = merge(args.job_dirs, args.output_dir)
    print(f"{int(totals['utterances'])} utterances, RTF {totals['rtf']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
