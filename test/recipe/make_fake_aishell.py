"""A small AISHELL-1 look-alike: the real directory layout and transcript format, synthetic audio.

    python test/recipe/make_fake_aishell.py OUT_DIR [--unpacked] [--tgz]

writes ``OUT_DIR/data_aishell/`` with ``transcript/aishell_transcript_v0.8.txt`` ("<utt> <word>
<word> ..." lines) and the audio either packed as downloaded from openslr 33
(``wav/S0002.tar.gz`` holding ``train/S0002/BAC009S0002W0001.wav`` ...) or unpacked
(``wav/train/S0002/BAC009S0002W0001.wav``); ``--tgz`` also wraps it all in
``OUT_DIR/data_aishell.tgz`` (the downloaded file) and removes the directory.

Like the real corpus it has a few audio files without a transcript and transcripts without audio.
The training split also holds one utterance that is too short (< 0.1 s) and one whose text is
longer than an 8x-subsampling encoder can emit, for the length filter.
"""

from __future__ import annotations

import argparse
import io
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
CHARS = "而对楼市成交抑制作用最大的限购北京上海广州深圳房价调控政策"
SPEAKERS = {"train": ["S0002", "S0003"], "dev": ["S0724"], "test": ["S0764"]}


@dataclass
class FakeAishell:
    """What was written: per split, utterance -> (transcript words, samples), and the ids of
    the deliberate anomalies."""

    root: Path
    utterances: dict[str, dict[str, tuple[list[str], int]]] = field(default_factory=dict)
    audio_without_text: list[str] = field(default_factory=list)
    text_without_audio: list[str] = field(default_factory=list)
    too_short: list[str] = field(default_factory=list)
    text_too_long: list[str] = field(default_factory=list)

    def expected_text(self, split: str) -> dict[str, str]:
        """utt -> transcript with spaces removed, for the utterances that have both."""
        return {u: "".join(w) for u, (w, _) in self.utterances[split].items()}


def _words(rng: np.random.Generator, num_chars: int) -> list[str]:
    chars = [CHARS[i] for i in rng.integers(0, len(CHARS), num_chars)]
    words, i = [], 0
    while i < len(chars):
        n = int(rng.integers(1, 4))
        words.append("".join(chars[i : i + n]))
        i += n
    return words


def _wav_bytes(rng: np.random.Generator, num_samples: int) -> bytes:
    t = np.arange(num_samples) / SAMPLE_RATE
    f0 = rng.uniform(100, 300)
    wave = 0.2 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(2 * np.pi * 3.1 * f0 * t)
    wave += 0.02 * rng.standard_normal(num_samples)
    buf = io.BytesIO()
    sf.write(buf, wave.astype(np.float32), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def make_fake_aishell(
    out_dir: str | Path,
    packed: bool = True,
    tgz: bool = False,
    utts_per_speaker: int = 4,
    seed: int = 0,
) -> FakeAishell:
    """Write the fake corpus under ``out_dir`` (see the module docstring); returns what it holds."""
    rng = np.random.default_rng(seed)
    root = Path(out_dir)
    corpus = root / "data_aishell"
    wav_root = corpus / "wav"
    (corpus / "transcript").mkdir(parents=True, exist_ok=True)
    fake = FakeAishell(root)
    transcript_lines: list[str] = []
    audio: dict[str, list[tuple[str, bytes]]] = {}  # speaker -> (member path, wav bytes)
    for split, speakers in SPEAKERS.items():
        fake.utterances[split] = {}
        for spk in speakers:
            members = audio.setdefault(spk, [])
            for n in range(1, utts_per_speaker + 1):
                utt = f"BAC009{spk}W{n:04d}"
                seconds = float(rng.uniform(0.6, 1.4))
                # At most about 5 characters per second, well within 12.5 encoder frames/s.
                num_chars = int(rng.integers(2, max(3, int(seconds * 5))))
                if split == "train" and spk == SPEAKERS["train"][0] and n == 1:
                    seconds, num_chars = 0.05, 2
                    fake.too_short.append(utt)
                elif split == "train" and spk == SPEAKERS["train"][0] and n == 2:
                    seconds, num_chars = 0.5, 12
                    fake.text_too_long.append(utt)
                samples = int(seconds * SAMPLE_RATE)
                words = _words(rng, num_chars)
                fake.utterances[split][utt] = (words, samples)
                transcript_lines.append(f"{utt} {' '.join(words)}")
                members.append((f"{split}/{spk}/{utt}.wav", _wav_bytes(rng, samples)))
            # Audio without a transcript, as in the real corpus.
            orphan = f"BAC009{spk}W9001"
            fake.audio_without_text.append(orphan)
            members.append((f"{split}/{spk}/{orphan}.wav", _wav_bytes(rng, SAMPLE_RATE)))
    # Transcripts without audio, as in the real corpus.
    for utt, words in (("BAC009S9999W0001", ["北京"]), ("BAC009S9999W0002", ["上海", "房价"])):
        fake.text_without_audio.append(utt)
        transcript_lines.append(f"{utt} {' '.join(words)}")
    transcript_lines.sort()
    (corpus / "transcript" / "aishell_transcript_v0.8.txt").write_text(
        "".join(f"{line}\n" for line in transcript_lines), encoding="utf-8"
    )
    wav_root.mkdir(parents=True, exist_ok=True)
    for spk, members in audio.items():
        if packed:
            with tarfile.open(wav_root / f"{spk}.tar.gz", "w:gz") as tar:
                for name, data in members:
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        else:
            for name, data in members:
                path = wav_root / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
    if tgz:
        with tarfile.open(root / "data_aishell.tgz", "w:gz") as tar:
            tar.add(corpus, arcname="data_aishell")
        shutil.rmtree(corpus)
    return fake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir")
    parser.add_argument("--unpacked", action="store_true", help="wav/<split>/<spk>/*.wav")
    parser.add_argument("--tgz", action="store_true", help="wrap everything in data_aishell.tgz")
    parser.add_argument("--utts_per_speaker", type=int, default=4)
    args = parser.parse_args()
    fake = make_fake_aishell(args.out_dir, not args.unpacked, args.tgz, args.utts_per_speaker)
    print({split: len(u) for split, u in fake.utterances.items()})


if __name__ == "__main__":
    main()
